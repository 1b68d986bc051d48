// Reload and shutdown under load on the real binary: SIGHUPs that change the
// input, the processor and the storage while writers post, then SIGTERM.
// Every sample acknowledged with 204 must be in the database exactly once,
// and the agent must exit 0 (nothing abandoned).
#include <doctest/doctest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "agent_process.hpp"
#include "http_client.hpp"
#include "line_writers.hpp"

using namespace vitals::test;

namespace {

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

}  // namespace

TEST_CASE("20 SIGHUPs changing input, processor and storage under 4 writers: every 204 stored once, exit 0") {
  AgentProcess agent;
  agent.write_config("p.toml", pipeline_config(0));
  agent.start();
  uint16_t port = agent.http_port();
  REQUIRE(port != 0);
  int64_t base = (wall_now_ns() / 1'000'000'000 - 3600) * 1'000'000'000;

  AckLedger ledger;
  std::atomic<bool> stop{false};
  std::vector<std::atomic<int64_t>> next(4);
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w)
    writers.emplace_back(post_lines, port, "reload_test", w, base, 50, std::cref(stop), std::ref(next[w]),
                         std::ref(ledger));
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
  for (const auto &[status, n] : ledger.other_statuses) MESSAGE("status " << status << ": " << n << " requests");
  CHECK(ledger.failed == 0);
  CHECK(ledger.ok > 20);
  MESSAGE("204: " << ledger.ok.load() << " requests, 503: " << ledger.busy.load());

  StoredSamples stored = read_stored((agent.data_dir() / "metrics.db").string(), "reload_test");
  CHECK(stored.rows == stored.keys.size());  // once each
  CHECK(count_missing(ledger.acked, stored) == 0);
  CHECK(ledger.acked.size() == static_cast<size_t>(ledger.ok.load()) * 50);
}
