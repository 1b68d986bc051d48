// Reload and shutdown under load on the real binary: SIGHUPs that change the
// input, the processor and the storage while writers post, then SIGTERM.
// Every sample acknowledged with 204 must be in the database exactly once,
// and the agent must exit 0 (nothing abandoned).
#include <doctest/doctest.h>
#include <signal.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "agent_process.hpp"
#include "http_client.hpp"

using namespace vitals::test;

namespace {

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Generation g changes the settings (the fingerprint) of the input, the
// processor, the storage, or several of them, in turn.
std::string pipeline_config(int g) {
  int input_gen = (g % 4 == 0 || g % 4 == 3) ? g : 0;
  int processor_gen = (g % 4 == 1 || g % 4 == 3) ? g : 0;
  int storage_gen = (g % 4 == 2 || g % 4 == 3) ? g : 0;
  return R"(
[input.telemetry]
plugin = "http_telemetry"
max_samples = )" +
         std::to_string(100000 + input_gen) + R"(

[processor.tidy]
plugin = "relabel"
inputs = ["telemetry"]
rules = [ { action = "set_label", key = "via", value = "tidy" },
          { action = "drop", match = "never_sent_)" +
         std::to_string(processor_gen) + R"(" } ]

[storage.local]
plugin = "sqlite"
inputs = ["tidy"]
path = "metrics.db"
flush_interval = ")" +
         std::to_string(200 + storage_gen) + R"(ms"
)";
}

struct Acked {
  std::mutex mutex;
  std::set<std::pair<int, int64_t>> samples;  // (writer, ts)
  std::atomic<int> ok{0}, busy{0}, other{0};
  std::map<int, int> other_statuses;  // under mutex
};

void writer(uint16_t port, int w, int64_t base, std::atomic<bool> &stop, Acked &acked) {
  for (int64_t n = 0; !stop; ++n) {
    std::string body;
    std::vector<int64_t> sent;
    for (int i = 0; i < 50; ++i) {
      int64_t ts = base + (n * 50 + i) * 1000;
      body += "reload_test,writer=" + std::to_string(w) + " v=" + std::to_string(n * 50 + i) + " " +
              std::to_string(ts) + "\n";
      sent.push_back(ts);
    }
    int status = http_request(port, "POST", "/api/write", body).status;
    if (status == 204) {
      std::lock_guard lock(acked.mutex);
      for (int64_t ts : sent) acked.samples.insert({w, ts});
      ++acked.ok;
    } else if (status == 503) {
      ++acked.busy;  // backpressure: the client retries, nothing was promised
    } else {
      std::lock_guard lock(acked.mutex);
      ++acked.other;
      ++acked.other_statuses[status];
    }
  }
}

}  // namespace

TEST_CASE("20 SIGHUPs changing input, processor and storage under 4 writers: every 204 stored once, exit 0") {
  AgentProcess agent;
  agent.write_config("p.toml", pipeline_config(0));
  agent.start();
  uint16_t port = agent.http_port();
  REQUIRE(port != 0);
  int64_t base = (now_ns() / 1'000'000'000 - 3600) * 1'000'000'000;

  Acked acked;
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w)
    writers.emplace_back(writer, port, w, base + w * 100'000'000'000LL, std::ref(stop), std::ref(acked));
  for (int g = 1; g <= 20; ++g) {
    std::this_thread::sleep_for(std::chrono::milliseconds(120));
    agent.write_config("p.toml", pipeline_config(g));
    agent.signal(SIGHUP);
    REQUIRE(agent.wait_for_log("reloaded:", static_cast<size_t>(g), std::chrono::seconds(10)));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  stop = true;
  for (auto &t : writers) t.join();
  agent.signal(SIGTERM);
  int code = agent.wait_exit(std::chrono::seconds(30));
  INFO(agent.err());
  CHECK(code == 0);
  CHECK(agent.err().find("abandoned") == std::string::npos);
  for (const auto &[status, n] : acked.other_statuses) MESSAGE("status " << status << ": " << n << " requests");
  CHECK(acked.other == 0);
  CHECK(acked.ok > 20);
  MESSAGE("204: " << acked.ok.load() << " requests, 503: " << acked.busy.load());

  sqlite3 *db = nullptr;
  REQUIRE(sqlite3_open((agent.data_dir() / "metrics.db").c_str(), &db) == SQLITE_OK);
  sqlite3_stmt *stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(db,
                             "SELECT s.labels, m.ts FROM samples m JOIN series s ON s.id = m.series_id "
                             "WHERE s.name = 'reload_test_v'",
                             -1, &stmt, nullptr) == SQLITE_OK);
  std::set<std::pair<int, int64_t>> stored;
  size_t rows = 0;
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    std::string labels = reinterpret_cast<const char *>(sqlite3_column_text(stmt, 0));
    size_t at = labels.find("\"writer\":\"");
    REQUIRE(at != std::string::npos);
    CHECK(labels.find("\"via\":\"tidy\"") != std::string::npos);
    stored.insert({labels[at + 10] - '0', sqlite3_column_int64(stmt, 1)});
    ++rows;
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  CHECK(rows == stored.size());  // once each
  size_t missing = 0;
  for (const auto &s : acked.samples) missing += stored.count(s) == 0;
  CHECK(missing == 0);
  CHECK(acked.samples.size() == static_cast<size_t>(acked.ok.load()) * 50);
}
