// `isolate = true` (issue 10 part 7b): a plugin that segfaults or hangs in a
// child process of the agent is restarted with backoff, its deaths are logged
// and counted, and the agent, its other pipelines and their data go on. The
// test-only crashy plugins (plugins/testing/crashy) fault on demand; fake_input
// numbers its samples, so a gap in what a sink received is a lost sample.
#include <doctest/doctest.h>
#include <signal.h>

#include <algorithm>
#include <regex>
#include <string>
#include <vector>

#include "agent_process.hpp"
#include "crash_support.hpp"
#include "http_client.hpp"

using namespace vitals::test;

namespace {

// The values fake_input numbered, as the capture file at `path` holds them
// for `series`.
std::vector<long> values_of(const fs::path &path, const std::string &series) {
  std::vector<long> out;
  for (const auto &line : read_lines(path))
    if (line.rfind(series + " ", 0) == 0) out.push_back(std::stol(line.substr(line.rfind(' ') + 1)));
  return out;
}

// 1, 2, ..., n without a gap or a repeat.
bool numbered_without_gaps(const std::vector<long> &values) {
  for (size_t i = 0; i < values.size(); ++i)
    if (values[i] != static_cast<long>(i) + 1) return false;
  return true;
}

// The capture at `path` holds fake_input's numbered `series` from 1 on,
// without a gap or a repeat, at least `at_least` of them: nothing was lost.
void check_every_sample(const fs::path &path, const std::string &series, size_t at_least) {
  auto values = values_of(path, series);
  CHECK(values.size() >= at_least);
  CHECK(numbered_without_gaps(values));
}

// The value of a self-metric with the given component label, or -1.
double self_metric(uint16_t port, const std::string &name, const std::string &component) {
  auto r = http_request(port, "GET", "/api/performance/metrics");
  std::regex entry("\\{\"name\":\"" + name + "\",\"labels\":\\{\"component\":\"" + component +
                   "\"[^}]*\\},\"value\":([0-9.e+]+)\\}");
  std::smatch m;
  if (!std::regex_search(r.body, m, entry)) return -1;
  return std::stod(m[1]);
}

// The pids of the isolated children the agent logged starting.
std::vector<pid_t> child_pids(const std::string &err) {
  std::vector<pid_t> pids;
  std::regex started("(runs in pid|restarted \\(pid) ([0-9]+)");
  for (std::sregex_iterator it(err.begin(), err.end(), started), end; it != end; ++it)
    pids.push_back(std::stoi((*it)[2]));
  return pids;
}

// A process that is gone or a zombie nobody reaped yet has ended.
bool ended(pid_t pid) {
  std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  if (stat.empty()) return true;
  size_t paren = stat.rfind(')');
  return paren != std::string::npos && stat.size() > paren + 2 && stat[paren + 2] == 'Z';
}

const char *kCounted = R"(
[input.steady]
plugin = "fake_input"
interval = "50ms"

[output.steady_sink]
plugin = "capture_output"
inputs = ["steady"]
path = "steady.txt"
)";

}  // namespace

TEST_CASE(
    "an isolated input that segfaults on its 3rd collect is restarted; the agent and its other pipeline lose "
    "nothing") {
  no_core_dumps();
  AgentProcess agent;
  agent.write_config("steady.toml", kCounted);
  agent.write_config("crash.toml", R"(
[input.crash]
plugin = "crashy"
interval = "50ms"
isolate = true
crash_on_collect = 3

[output.crash_sink]
plugin = "capture_output"
inputs = ["crash"]
path = "crash.txt"
)");
  agent.start();
  uint16_t port = agent.http_port();
  REQUIRE(port != 0);
  // Two deaths: the first child at its 3rd collect, the restarted one (1 s
  // later) at its own 3rd.
  REQUIRE(agent.wait_for_log("isolated plugin 'crashy' (pid ", 2, std::chrono::seconds(15)));
  REQUIRE(agent.wait_for_log("isolated plugin 'crashy' restarted (pid "));
  std::string err = agent.err();
  INFO(err);
  CHECK(agent.running());
  if (kUnderAsan) {
    // The sanitizer reports the fault and exits the child with its own status.
    CHECK(err.find("restarting in 1.0s") != std::string::npos);
  } else {
    CHECK(count_occurrences(err, "died by signal 11 (SIGSEGV) during collect; restarting in ") >= 2);
    CHECK(err.find("died by signal 11 (SIGSEGV) during collect; restarting in 1.0s") != std::string::npos);
    CHECK(err.find("died by signal 11 (SIGSEGV) during collect; restarting in 2.0s") != std::string::npos);
    // The child's own fatal-signal line, on the agent's stderr.
    CHECK(err.find("vitals: fatal signal SIGSEGV in plugin 'crashy' (component 'crash', ") != std::string::npos);
    CHECK(err.find("during collect; its isolated process stops and the agent restarts it") != std::string::npos);
  }
  CHECK(self_metric(port, "vitals_component_restarts_total", "crash") >= 2);
  CHECK(self_metric(port, "vitals_component_errors_total", "crash") >= 2);

  agent.signal(SIGTERM);
  CHECK(agent.wait_exit() == 0);
  // Each child emitted its 1st and 2nd collect before dying in the 3rd.
  auto crash_values = values_of(agent.data_dir() / "crash.txt", "crashy{input=\"crash\"}");
  CHECK(std::count(crash_values.begin(), crash_values.end(), 1) >= 2);
  CHECK(std::count(crash_values.begin(), crash_values.end(), 2) >= 2);
  CHECK(std::count(crash_values.begin(), crash_values.end(), 3) == 0);
  // The other pipeline: every tick, in order, none lost.
  check_every_sample(agent.data_dir() / "steady.txt", "fake{input=\"steady\"}", 20);
  // Every child the agent started has ended with it.
  auto pids = child_pids(agent.err());
  CHECK(pids.size() >= 2);
  for (pid_t pid : pids) CHECK(wait_for([&] { return ended(pid); }, std::chrono::seconds(5)));
}

TEST_CASE("what an isolated collect emitted before it segfaulted reaches the agent") {
  if (kUnderAsan) return;  // the sanitizer reports the fault and ends the child its own way
  no_core_dumps();
  AgentProcess agent(false);
  // An emit in the child is answered OK before the agent has the batch (one
  // way): it must still be on its way when the same collect then crashes.
  agent.write_config("p.toml", R"(
[input.crash]
plugin = "crashy"
interval = "50ms"
isolate = true
crash_on_collect = 3
emit_first = true

[output.crash_sink]
plugin = "capture_output"
inputs = ["crash"]
path = "crash.txt"
)");
  agent.start();
  REQUIRE(agent.wait_for_log("died by signal 11 (SIGSEGV) during collect", 1, std::chrono::seconds(15)));
  agent.signal(SIGTERM);
  CHECK(agent.wait_exit() == 0);
  auto values = values_of(agent.data_dir() / "crash.txt", "crashy{input=\"crash\"}");
  // (A child restarted before SIGTERM numbers its collects from 1 again.)
  REQUIRE(values.size() >= 3);
  CHECK(std::vector<long>(values.begin(), values.begin() + 3) == std::vector<long>{1, 2, 3});
}

TEST_CASE("what an isolated collect emits while the agent stops is delivered, not dropped") {
  AgentProcess agent(false);
  // SIGTERM lands while the 3rd collect sleeps; it emits after the agent
  // has begun stopping its inputs. The child told the plugin OK at once, so
  // the agent must take the batch (in process the plugin would have been
  // told VITALS_STOPPED instead).
  agent.write_config("p.toml", R"(
[input.slow]
plugin = "fake_input"
interval = "1s"
isolate = true
collect_sleep = "500ms"
log_collects = true

[output.slow_sink]
plugin = "capture_output"
inputs = ["slow"]
path = "slow.txt"
)");
  agent.start();
  REQUIRE(agent.wait_for_log("[slow] fake_input: collect 3 begins", 1, std::chrono::seconds(15)));
  agent.signal(SIGTERM);
  REQUIRE(agent.wait_exit() == 0);
  CHECK(values_of(agent.data_dir() / "slow.txt", "fake{input=\"slow\"}") == std::vector<long>{1, 2, 3});
  CHECK(agent.err().find("emitted a batch") == std::string::npos);
}

TEST_CASE("a program an isolated plugin started does not keep its crash from being seen") {
  no_core_dumps();
  AgentProcess agent;
  agent.write_config("crash.toml", R"(
[input.parent]
plugin = "crashy"
interval = "50ms"
isolate = true
crash_on_collect = 3
spawn_sleeper = true
)");
  agent.start();
  REQUIRE(agent.wait_for_log("crashy: sleeper "));
  // The sleeper lives on for 30 s; the agent must see the child end anyway.
  REQUIRE(agent.wait_for_log("isolated plugin 'crashy' restarted (pid ", 1, std::chrono::seconds(10)));
  INFO(agent.err());
  CHECK(agent.running());
  agent.signal(SIGTERM);
  CHECK(agent.wait_exit() == 0);
  std::regex sleeper("crashy: sleeper ([0-9]+)");
  std::string err = agent.err();
  for (std::sregex_iterator it(err.begin(), err.end(), sleeper), end; it != end; ++it)
    ::kill(std::stoi((*it)[1]), SIGKILL);
}

TEST_CASE("an isolated input that hangs is killed by the watchdog and restarted") {
  AgentProcess agent;
  agent.write_config("steady.toml", kCounted);
  agent.write_config("hang.toml", R"(
[input.stuck]
plugin = "crashy"
interval = "50ms"
isolate = true
watchdog = "300ms"
hang_on_collect = 2
)");
  agent.start();
  uint16_t port = agent.http_port();
  REQUIRE(port != 0);
  const bool killed = agent.wait_for_log(
      "was killed: collect did not return within 0.3s (watchdog); restarting in 1.0s", 1, std::chrono::seconds(15));
  INFO(agent.err());  // what happened instead (seen once under ASan on a loaded machine)
  REQUIRE(killed);
  REQUIRE(agent.wait_for_log("isolated plugin 'crashy' restarted (pid "));
  // The restarted child hangs in its own 2nd collect and is killed again.
  REQUIRE(agent.wait_for_log("(watchdog); restarting in 2.0s", 1, std::chrono::seconds(15)));
  INFO(agent.err());
  CHECK(agent.running());
  CHECK(self_metric(port, "vitals_component_restarts_total", "stuck") >= 2);
  agent.signal(SIGTERM);
  CHECK(agent.wait_exit() == 0);
  check_every_sample(agent.data_dir() / "steady.txt", "fake{input=\"steady\"}", 30);
  for (pid_t pid : child_pids(agent.err())) CHECK(wait_for([&] { return ended(pid); }, std::chrono::seconds(5)));
}

TEST_CASE("an isolated output that segfaults in consume fails that batch only; the other output gets everything") {
  no_core_dumps();
  AgentProcess agent(false);
  agent.write_config("p.toml", R"(
[input.feed]
plugin = "fake_input"
interval = "50ms"

[output.fragile]
plugin = "crashy_output"
inputs = ["feed"]
isolate = true
crash_on_consume = 3

[output.sink]
plugin = "capture_output"
inputs = ["feed"]
path = "sink.txt"
)");
  agent.start();
  REQUIRE(agent.wait_for_log("isolated plugin 'crashy_output' restarted (pid ", 1, std::chrono::seconds(15)));
  REQUIRE(agent.wait_for_log("isolated plugin 'crashy_output' (pid ", 2, std::chrono::seconds(15)));
  std::string err = agent.err();
  INFO(err);
  CHECK(agent.running());
  if (!kUnderAsan) CHECK(err.find("died by signal 11 (SIGSEGV) during consume; restarting in ") != std::string::npos);
  agent.signal(SIGTERM);
  CHECK(agent.wait_exit() == 0);
  check_every_sample(agent.data_dir() / "sink.txt", "fake{input=\"feed\"}", 20);
}

TEST_CASE(
    "an isolated processor gives exactly what it gives in process: matched samples changed, the rest and "
    "events passed") {
  AgentProcess agent(false);
  const std::string processor = R"(
inputs = ["feed", "other"]
match = "fake"
rules = [
  { action = "rename", match = "fake", to = "renamed" },
  { action = "set_label", key = "host", value = "pi4" },
]
)";
  agent.write_config("p.toml", R"(
[input.feed]
plugin = "fake_input"
interval = "50ms"
samples = 3
events = 1

[input.other]
plugin = "fake_input"
interval = "50ms"
name = "untouched"

[processor.inside]
plugin = "relabel")" + processor + R"(
[processor.outside]
plugin = "relabel"
isolate = true)" + processor + R"(
[output.inside_sink]
plugin = "capture_output"
inputs = ["inside"]
path = "inside.txt"

[output.outside_sink]
plugin = "capture_output"
inputs = ["outside"]
path = "outside.txt"
)");
  agent.start();
  REQUIRE(agent.wait_for_log("pipeline started"));
  REQUIRE(wait_for([&] { return read_lines(agent.data_dir() / "outside.txt").size() >= 100; }));
  agent.signal(SIGTERM);
  REQUIRE(agent.wait_exit() == 0);
  auto inside = read_lines(agent.data_dir() / "inside.txt");
  auto outside = read_lines(agent.data_dir() / "outside.txt");
  std::sort(inside.begin(), inside.end());
  std::sort(outside.begin(), outside.end());
  CHECK(outside.size() >= 100);
  CHECK(inside == outside);
  auto has = [&](const std::string &prefix) {
    return std::any_of(outside.begin(), outside.end(), [&](const auto &l) { return l.rfind(prefix, 0) == 0; });
  };
  CHECK(has("renamed{host=\"pi4\",input=\"feed\"} "));
  CHECK(has("untouched{input=\"other\"} "));
  CHECK(has("event feed n1"));
}

TEST_CASE("acknowledgements cross the process boundary both ways") {
  AgentProcess agent(false);
  agent.write_config("p.toml", R"(
[input.acked]
plugin = "fake_input"
interval = "50ms"
isolate = true
log_acks = true

[output.group_commit]
plugin = "capture_output"
inputs = ["acked"]
isolate = true
complete_in_flush = true
path = "committed.txt"

[input.refused]
plugin = "fake_input"
interval = "50ms"
isolate = true
log_acks = true

[output.failing]
plugin = "capture_output"
inputs = ["refused"]
isolate = true
fail = true
path = "failed.txt"
)");
  agent.start();
  // Acknowledged: the output in its child answered pending and completed in
  // flush(); the input's child got the ack through the agent.
  REQUIRE(agent.wait_for_log("[acked] fake_input: batch 5 acknowledged: ok"));
  REQUIRE(agent.wait_for_log("[refused] fake_input: batch 5 acknowledged: failed"));
  std::string err = agent.err();
  INFO(err);
  CHECK(err.find("[acked] fake_input: batch 1 acknowledged: ok") != std::string::npos);
  for (const auto &line : read_lines(agent.stderr_path()))
    if (line.find("[acked] fake_input: batch") != std::string::npos)
      CHECK(line.find("acknowledged: ok") != std::string::npos);
  CHECK(err.find("capture_output told to fail") != std::string::npos);  // last_error() from the child
  agent.signal(SIGTERM);
  CHECK(agent.wait_exit() == 0);
  check_every_sample(agent.data_dir() / "committed.txt", "fake{input=\"acked\"}", 5);
}

TEST_CASE("an isolated input flooding a stalled loop is held back and loses nothing it was told was accepted") {
  AgentProcess agent(false);
  // `stall` sleeps 900 ms of every second on the agent's loop. `flood`, in
  // its own process, sleeps 150 ms in each collect, so a collect the loop
  // started in its free 100 ms emits while the loop is stalled: 1.3M samples
  // in 52 batches, past the off-loop cap (1M samples waiting for the loop)
  // and the child's credit (4 MiB of one-way emits, 175k samples). What the
  // child was told OK for is taken past the cap; the rest is refused with
  // AGAIN, which fake_input logs, counts and numbers again.
  agent.write_config("p.toml", R"(
[input.stall]
plugin = "fake_input"
interval = "1s"
hold_loop = "900ms"

[input.flood]
plugin = "fake_input"
interval = "20ms"
isolate = true
collect_sleep = "150ms"
samples = 25000
batches = 52

[output.flood_sink]
plugin = "capture_output"
inputs = ["flood"]
path = "flood.txt"
)");
  agent.start();
  REQUIRE(agent.wait_for_log("pipeline started"));
  REQUIRE(agent.wait_for_log("[flood] fake_input: an emit was refused (status -2)", 1, std::chrono::seconds(30)));
  agent.signal(SIGTERM);
  REQUIRE(agent.wait_exit() == 0);
  std::string err = agent.err();
  std::smatch refused;
  REQUIRE(std::regex_search(err, refused, std::regex("\\[flood\\] fake_input: ([0-9]+) emits refused")));
  CHECK(std::stol(refused[1]) > 0);
  CHECK(err.find("emitted a batch the pipeline refused") == std::string::npos);  // none dropped after its OK
  check_every_sample(agent.data_dir() / "flood.txt", "fake{input=\"flood\"}", 1'000'000);
}

TEST_CASE("vitals check refuses isolate where it cannot work, with file:line") {
  AgentProcess agent(false);
  agent.write_config("p.toml", R"([input.feed]
plugin = "fake_input"
watchdog = "5s"

[input.push]
plugin = "http_telemetry"
isolate = true

[storage.db]
plugin = "sqlite"
inputs = ["feed"]
isolate = true

[output.fast]
plugin = "capture_output"
inputs = ["feed"]
path = "x.txt"
isolate = true
watchdog = "10ms"
)");
  int code = agent.run_to_exit("check");
  std::string out = agent.out() + agent.err();
  INFO(out);
  CHECK(code != 0);
  CHECK(out.find("p.toml:3: 'watchdog' applies to isolated components only (isolate = true)") != std::string::npos);
  CHECK(out.find("p.toml:7: [input.push]: 'isolate': plugin 'http_telemetry' requires vitals.http, which lives in "
                 "the agent's process") != std::string::npos);
  CHECK(out.find("p.toml:12: 'isolate' applies to inputs, processors and outputs only: a storage works inside the "
                 "agent's process") != std::string::npos);
  CHECK(out.find("p.toml:19: 'watchdog' must be at least 100ms") != std::string::npos);
}

TEST_CASE("an isolated child ends when the agent is killed") {
  AgentProcess agent(false);
  agent.write_config("p.toml", R"(
[input.lonely]
plugin = "fake_input"
interval = "1h"
isolate = true
)");
  agent.start();
  REQUIRE(agent.wait_for_log("isolated plugin 'fake_input' runs in pid "));
  auto pids = child_pids(agent.err());
  REQUIRE(pids.size() == 1);
  CHECK(!ended(pids[0]));
  agent.signal(SIGKILL);
  agent.wait_exit();
  // The socket closes with the agent: the child sees it and exits.
  CHECK(wait_for([&] { return ended(pids[0]); }, std::chrono::seconds(5)));
}
