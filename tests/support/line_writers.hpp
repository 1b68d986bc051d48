// Writers that post line protocol to a running agent and remember which
// samples were acknowledged with 204, and a reader of what the sqlite file
// holds: the two sides of "every acknowledged sample is stored exactly once".
#pragma once

#include <stdio.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "vitals/json_reader.hpp"

#include "http_client.hpp"

namespace vitals::test {

inline int64_t wall_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// (writer, ts) of a sample of the series <name>_v{writer="w"}.
using SampleKey = std::pair<int, int64_t>;

struct AckLedger {
  std::mutex mutex;
  std::set<SampleKey> acked;
  std::atomic<int> ok{0}, busy{0}, failed{0};
  std::map<int, int> other_statuses;  // status -> requests, under mutex
};

// Posts requests of `per_request` samples of <name> with writer=w until
// stop, timestamps from `base` on, 1 us apart; `next` carries the sequence
// across agent restarts. Statuses other than 204 and 503 are counted apart
// (0: no answer, as when the agent is killed mid-request).
inline void post_lines(uint16_t port, const std::string &name, int w, int64_t base, int per_request,
                       const std::atomic<bool> &stop, std::atomic<int64_t> &next, AckLedger &ledger) {
  while (!stop) {
    int64_t first = next.fetch_add(per_request);
    std::string body;
    for (int i = 0; i < per_request; ++i)
      body += name + ",writer=" + std::to_string(w) + " v=" + std::to_string(first + i) + " " +
              std::to_string(base + (first + i) * 1000) + "\n";
    int status = http_request(port, "POST", "/api/write", body).status;
    std::lock_guard lock(ledger.mutex);
    if (status == 204) {
      for (int i = 0; i < per_request; ++i) ledger.acked.insert({w, base + (first + i) * 1000});
      ++ledger.ok;
    } else if (status == 503) {
      ++ledger.busy;
    } else {
      ++ledger.failed;
      ++ledger.other_statuses[status];
    }
  }
}

struct StoredSamples {
  std::set<SampleKey> keys;
  size_t rows = 0;  // more than keys.size(): some sample is stored twice
};

// Reads every sample of <name>_v from a vitals sqlite file (the agent
// stopped) the way a user would, whatever the file's layout: `vitals query
// --db` (VITALS_BIN), raw, over all time.
inline StoredSamples read_stored(const std::string &db_path, const std::string &name) {
  const char *bin = std::getenv("VITALS_BIN");
  if (!bin) throw std::runtime_error("VITALS_BIN is not set");
  const std::string command = std::string("'") + bin + "' query --log-level error --db '" + db_path +
                              "' --method raw --from 0 --to 9000000000000000000 --format json '" + name + "_v'";
  FILE *pipe = ::popen(command.c_str(), "r");
  if (!pipe) throw std::runtime_error("cannot run " + command);
  std::string text;
  char buf[65536];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) text.append(buf, n);
  if (int status = ::pclose(pipe); status != 0)
    throw std::runtime_error(command + " exited with " + std::to_string(status) + ": " + text);
  const auto reply = vitals::json::Value::parse(text);
  StoredSamples out;
  for (const auto &series : reply["series"].items()) {
    const auto *writer = series["labels"].find("writer");
    if (!writer) continue;
    for (const auto &point : series["points"].items()) {
      out.keys.insert({std::stoi(writer->text()), point[0].integer()});
      ++out.rows;
    }
  }
  return out;
}

inline size_t count_missing(const std::set<SampleKey> &acked, const StoredSamples &stored) {
  size_t missing = 0;
  for (const auto &k : acked) missing += stored.keys.count(k) == 0;
  return missing;
}

}  // namespace vitals::test
