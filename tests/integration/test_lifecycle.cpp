// The real `vitals` binary: data flow, signals (TERM drains, HUP reloads),
// scheduling under slow collects, and plugins that throw.
#include <doctest/doctest.h>
#include <signal.h>

#include <map>
#include <set>
#include <sstream>

#include "agent_process.hpp"

using namespace vitals::test;

namespace {

struct CapturedSample {
  std::string series;
  int64_t ts;
  double value;
};

// Lines written by the test-only capture_output plugin: "<series> <ts> <value>".
std::vector<CapturedSample> read_captured(const fs::path &file) {
  std::vector<CapturedSample> out;
  for (const auto &line : read_lines(file)) {
    std::istringstream in(line);
    CapturedSample s;
    if (in >> s.series >> s.ts >> s.value) out.push_back(s);
  }
  return out;
}

// Values of one series, in file order.
std::vector<double> values_of(const std::vector<CapturedSample> &samples, const std::string &series) {
  std::vector<double> v;
  for (const auto &s : samples)
    if (s.series == series) v.push_back(s.value);
  return v;
}

// fake_input numbers its samples 1, 2, 3, ...: a complete stream has no gap.
bool is_complete_sequence(const std::vector<double> &values) {
  for (size_t i = 0; i < values.size(); ++i)
    if (values[i] != static_cast<double>(i + 1)) return false;
  return true;
}

}  // namespace

TEST_CASE("synthetic to jsonl: every sample of every tick arrives") {
  AgentProcess agent;
  agent.write_config("pipeline.toml", R"(
[input.sensors]
plugin = "synthetic"
interval = "100ms"
signals = 3
rate = 20.0
shape = "counter"

[output.file]
plugin = "jsonl"
inputs = ["sensors"]
path = "out.jsonl"
)");
  agent.start();
  fs::path out = agent.data_dir() / "out.jsonl";
  REQUIRE(wait_for([&] { return read_lines(out).size() >= 60; }));
  agent.signal(SIGTERM);
  REQUIRE(agent.wait_exit() == 0);

  // Per signal: timestamps exactly 50 ms apart with no gap.
  std::map<std::string, std::vector<int64_t>> ts_by_series;
  for (const auto &line : read_lines(out)) {
    auto labels_at = line.find("\"labels\":");
    std::string series = line.substr(labels_at, line.find('}', labels_at) - labels_at);
    auto ts_at = line.find("\"ts\":") + 5;
    ts_by_series[series].push_back(std::stoll(line.substr(ts_at)));
  }
  REQUIRE(ts_by_series.size() == 3);
  size_t per_signal = ts_by_series.begin()->second.size();
  for (const auto &[series, ts] : ts_by_series) {
    INFO(series);
    CHECK(ts.size() == per_signal);
    for (size_t i = 1; i < ts.size(); ++i) CHECK(ts[i] - ts[i - 1] == 50'000'000);
  }
}

TEST_CASE("SIGTERM under load exits 0 and every collected sample reaches the output") {
  AgentProcess agent;
  agent.write_config("pipeline.toml", R"(
[agent]
shutdown_timeout = "20s"

[input.burst]
plugin = "fake_input"
interval = "10ms"
samples = 500

[output.slow]
plugin = "capture_output"
inputs = ["burst"]
path = "captured.txt"
consume_delay = "5ms"
queue = { capacity = 1000000 }
)");
  agent.start();
  fs::path out = agent.data_dir() / "captured.txt";
  REQUIRE(wait_for([&] { return read_lines(out).size() >= 5000; }));
  agent.signal(SIGTERM);
  REQUIRE(agent.wait_exit(std::chrono::seconds(30)) == 0);
  auto values = values_of(read_captured(out), "fake{input=\"burst\"}");
  CHECK(values.size() >= 5000);
  CHECK(values.size() % 500 == 0);  // whole collections only
  CHECK(is_complete_sequence(values));
  CHECK(agent.err().find("stopped cleanly") != std::string::npos);
}

TEST_CASE("SIGHUP with a changed interval restarts only that input") {
  AgentProcess agent;
  auto config = [](const std::string &a_interval) {
    return R"(
[input.a]
plugin = "fake_input"
interval = ")" +
           a_interval + R"("

[input.b]
plugin = "fake_input"
interval = "50ms"

[output.out]
plugin = "capture_output"
inputs = ["a", "b"]
path = "captured.txt"
)";
  };
  agent.write_config("pipeline.toml", config("50ms"));
  agent.start();
  fs::path out = agent.data_dir() / "captured.txt";
  REQUIRE(wait_for([&] { return values_of(read_captured(out), "fake{input=\"b\"}").size() >= 5; }));

  agent.write_config("pipeline.toml", config("70ms"));
  agent.signal(SIGHUP);
  REQUIRE(agent.wait_for_log("reloaded: restarted [a], stopped [a], unchanged [b, out]"));
  REQUIRE(wait_for([&] { return values_of(read_captured(out), "fake{input=\"b\"}").size() >= 15; }));
  agent.signal(SIGTERM);
  REQUIRE(agent.wait_exit() == 0);

  std::string log = agent.err();
  CHECK(count_occurrences(log, "[a] fake_input created") == 2);
  CHECK(count_occurrences(log, "[b] fake_input created") == 1);
  // b kept its instance: its numbering never restarted.
  auto captured = read_captured(out);
  CHECK(is_complete_sequence(values_of(captured, "fake{input=\"b\"}")));
  // After the collection at start-up, every tick is on the wall-clock grid.
  std::vector<int64_t> b_ts;
  for (const auto &s : captured)
    if (s.series == "fake{input=\"b\"}") b_ts.push_back(s.ts);
  for (size_t i = 1; i < b_ts.size(); ++i) CHECK(b_ts[i] % 50'000'000 == 0);
}

TEST_CASE("SIGHUP with a broken config keeps the running pipeline and logs every error") {
  AgentProcess agent;
  agent.write_config("pipeline.toml", R"(
[input.a]
plugin = "fake_input"
interval = "50ms"

[output.out]
plugin = "capture_output"
inputs = ["a"]
path = "captured.txt"
)");
  agent.start();
  fs::path out = agent.data_dir() / "captured.txt";
  REQUIRE(wait_for([&] { return read_lines(out).size() >= 3; }));

  agent.write_config("zz-broken.toml", "[input.c]\nplugin = \"fake_input\"\nsamples = \"many\"\n\n[output.d]\n");
  agent.signal(SIGHUP);
  REQUIRE(agent.wait_for_log("reload refused: 3 error(s); the running pipeline is unchanged"));
  std::string log = agent.err();
  std::string file = (agent.conf_dir() / "zz-broken.toml").string();
  CHECK(log.find(file + ":3: 'samples' must be an integer") != std::string::npos);
  CHECK(log.find(file + ":5: missing required key 'inputs' in [output.d]") != std::string::npos);
  CHECK(log.find(file + ":5: [output.d]: unknown plugin 'd'") != std::string::npos);

  size_t before = read_lines(out).size();
  REQUIRE(wait_for([&] { return read_lines(out).size() >= before + 3; }));
  CHECK(agent.running());
  agent.signal(SIGTERM);
  CHECK(agent.wait_exit() == 0);
}

TEST_CASE("a slow collect skips ticks, never overlaps, and the skips are counted") {
  AgentProcess agent;
  agent.write_config("pipeline.toml", R"(
[input.slow]
plugin = "fake_input"
interval = "50ms"
collect_sleep = "180ms"

[input.agent]
interval = "300ms"
include = ["vitals_component_skipped_ticks_total"]

[output.out]
plugin = "capture_output"
inputs = ["slow", "agent"]
path = "captured.txt"
)");
  agent.start();
  fs::path out = agent.data_dir() / "captured.txt";
  const std::string skipped =
      "vitals_component_skipped_ticks_total{component=\"slow\",kind=\"input\",plugin=\"fake_input\"}";
  REQUIRE(wait_for([&] {
    auto samples = read_captured(out);
    auto v = values_of(samples, skipped);
    return !v.empty() && v.back() >= 4 && values_of(samples, "fake{input=\"slow\"}").size() >= 4;
  }));
  agent.signal(SIGTERM);
  REQUIRE(agent.wait_exit() == 0);
  auto samples = read_captured(out);
  // Collections of the slow input are at least its sleep apart: never overlapping.
  std::vector<int64_t> ts;
  for (const auto &s : samples)
    if (s.series == "fake{input=\"slow\"}") ts.push_back(s.ts);
  REQUIRE(ts.size() >= 2);
  for (size_t i = 1; i < ts.size(); ++i) CHECK(ts[i] - ts[i - 1] >= 150'000'000);
}

TEST_CASE("a plugin that throws in collect is reported and the agent keeps running") {
  AgentProcess agent;
  agent.write_config("pipeline.toml", R"(
[input.bad]
plugin = "abi_throws"
interval = "50ms"

[input.good]
plugin = "fake_input"
interval = "50ms"

[output.out]
plugin = "capture_output"
inputs = ["bad", "good"]
path = "captured.txt"
)");
  agent.start("run", {"--plugin-dir", ABI_FIXTURE_DIR});
  fs::path out = agent.data_dir() / "captured.txt";
  REQUIRE(wait_for([&] { return read_lines(out).size() >= 5; }));
  CHECK(agent.running());
  CHECK(agent.err().find("[bad] collect failed: abi_throws: thrown in collect, as configured") != std::string::npos);
  agent.signal(SIGTERM);
  CHECK(agent.wait_exit() == 0);
}

TEST_CASE("a plugin that throws in create stops start-up with a clear message") {
  AgentProcess agent;
  agent.write_config("pipeline.toml", "[input.bad]\nplugin = \"abi_throws\"\nthrow_in = \"create\"\n");
  CHECK(agent.run_to_exit("run", {"--plugin-dir", ABI_FIXTURE_DIR}) == 1);
  CHECK(agent.err().find("pipeline.toml:1: [input.bad]: abi_throws: thrown in create, as configured") !=
        std::string::npos);
}
