// Crash containment without isolation (issue 10 part 7a): a plugin that
// segfaults kills the agent, as before, but one line on stderr names the
// signal, the plugin, its component, its file and the call it was in, and the
// process still dies by the signal (systemd restarts it and the journal says
// why). The test-only crashy plugins (plugins/testing/crashy) fault on demand.
#include <doctest/doctest.h>
#include <signal.h>

#include <string>
#include <vector>

#include "agent_process.hpp"
#include "crash_support.hpp"

using namespace vitals::test;

namespace {

std::vector<std::string> fatal_lines(const std::string &err) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < err.size()) {
    size_t end = err.find('\n', start);
    if (end == std::string::npos) end = err.size();
    std::string line = err.substr(start, end - start);
    if (line.find("fatal signal") != std::string::npos) out.push_back(line);
    start = end + 1;
  }
  return out;
}

std::string plugin_file(const std::string &name) {
  return (fs::path(VITALS_BUILD_PLUGIN_DIR) / "testing" / "crashy" / ("vitals-" + name + ".so")).string();
}

// The one fatal line of `err` names the signal, the plugin, its component,
// its file and the call it was in.
void check_plugin_line(const std::string &err, const std::string &signal, const std::string &plugin,
                       const std::string &component, const std::string &call) {
  auto lines = fatal_lines(err);
  REQUIRE(lines.size() == 1);
  const std::string &line = lines[0];
  CHECK(line.rfind("vitals: fatal signal " + signal, 0) == 0);
  CHECK(line.find("plugin '" + plugin + "'") != std::string::npos);
  CHECK(line.find("component '" + component + "'") != std::string::npos);
  CHECK(line.find(plugin_file(plugin)) != std::string::npos);
  CHECK(line.find("during " + call) != std::string::npos);
}

// Under AddressSanitizer the agent leaves fatal signals to the sanitizer,
// whose report is what a crash prints there.
bool under_asan() {
  if (kUnderAsan) MESSAGE("built with AddressSanitizer: the fatal-signal line is not installed; skipped");
  return kUnderAsan;
}

}  // namespace

TEST_CASE("a segfault in an input's collect dies by SIGSEGV with one line naming the plugin and the call") {
  if (under_asan()) return;
  no_core_dumps();
  AgentProcess agent;
  agent.write_config("pipeline.toml", R"(
[input.boom]
plugin = "crashy"
interval = "50ms"
crash_on_collect = 3
)");
  agent.start();
  int code = agent.wait_exit();
  std::string err = agent.err();
  INFO(err);
  CHECK(code == 128 + SIGSEGV);
  check_plugin_line(err, "SIGSEGV", "crashy", "boom", "collect");
}

TEST_CASE("a segfault in an output's consume names the output and consume") {
  if (under_asan()) return;
  no_core_dumps();
  AgentProcess agent;
  agent.write_config("pipeline.toml", R"(
[input.feed]
plugin = "fake_input"
interval = "50ms"

[output.sink]
plugin = "crashy_output"
inputs = ["feed"]
crash_on_consume = 2
)");
  agent.start();
  int code = agent.wait_exit();
  std::string err = agent.err();
  INFO(err);
  CHECK(code == 128 + SIGSEGV);
  check_plugin_line(err, "SIGSEGV", "crashy_output", "sink", "consume");
}

TEST_CASE("a stack overflow in a collect on the thread pool is reported from the thread's alternate stack") {
  if (under_asan()) return;
  no_core_dumps();
  AgentProcess agent;
  agent.write_config("pipeline.toml", R"(
[input.deep]
plugin = "crashy"
interval = "50ms"
overflow_on_collect = 2
)");
  agent.start();
  int code = agent.wait_exit();
  std::string err = agent.err();
  INFO(err);
  CHECK(code == 128 + SIGSEGV);
  auto lines = fatal_lines(err);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].find("plugin 'crashy' (component 'deep', ") != std::string::npos);
  CHECK(lines[0].find("during collect") != std::string::npos);
}

TEST_CASE("SIGABRT to an agent whose loop hangs in a plugin (the watchdog's kill) names that plugin") {
  if (under_asan()) return;
  no_core_dumps();
  AgentProcess agent;
  agent.write_config("pipeline.toml", R"(
[input.feed]
plugin = "fake_input"
interval = "50ms"

[output.stuck]
plugin = "crashy_output"
inputs = ["feed"]
hang_on_consume = 2
)");
  agent.start();
  REQUIRE(agent.wait_for_log("crashy: hanging in consume"));
  agent.signal(SIGABRT);  // what systemd sends when WatchdogSec passes without a ping
  int code = agent.wait_exit();
  std::string err = agent.err();
  INFO(err);
  CHECK(code == 128 + SIGABRT);
  auto lines = fatal_lines(err);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].rfind("vitals: fatal signal SIGABRT in plugin 'crashy_output' (component 'stuck', ", 0) == 0);
  CHECK(lines[0].find("during consume") != std::string::npos);
}

TEST_CASE("a fatal signal outside any plugin call says it was the agent itself") {
  if (under_asan()) return;
  no_core_dumps();
  AgentProcess agent;
  agent.write_config("pipeline.toml", R"(
[input.feed]
plugin = "fake_input"
interval = "1h"
)");
  agent.start();
  REQUIRE(agent.wait_for_log("pipeline started"));
  agent.signal(SIGSEGV);  // nothing runs plugin code between hourly collects
  int code = agent.wait_exit();
  std::string err = agent.err();
  INFO(err);
  CHECK(code == 128 + SIGSEGV);
  auto lines = fatal_lines(err);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].rfind("vitals: fatal signal SIGSEGV", 0) == 0);
  CHECK(lines[0].find("in the agent itself") != std::string::npos);
  CHECK(lines[0].find("plugin '") == std::string::npos);
}
