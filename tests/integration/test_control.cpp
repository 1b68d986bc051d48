// vitals.control on the real agent: the test-only `tuner` optimizer reads a
// running sqlite storage's stats and sets one of its tunables; the host
// checks the range, and the change reaches outputs as an event naming who
// changed what, from what, to what, and why.
#include <doctest/doctest.h>

#include "agent_process.hpp"

using namespace vitals::test;

namespace {

std::string pipeline(const std::string &tuners) {
  return R"(
[storage.local]
plugin = "sqlite"
path = "m.db"
inputs = ["*"]

[output.cap]
plugin = "capture_output"
inputs = ["*"]
path = "cap.txt"
)" + tuners;
}

std::string tuner(const std::string &id, const std::string &tunable, const std::string &value, int skip = 0) {
  return "\n[optimizer." + id + "]\nplugin = \"tuner\"\ninterval = \"20ms\"\ntarget = \"local\"\ntunable = \"" +
         tunable + "\"\nvalue = " + value + "\nreason = \"" + id + "-wants-it\"\nskip = " + std::to_string(skip) + "\n";
}

std::string line_with(const std::string &text, const std::string &needle) {
  size_t at = text.find(needle);
  if (at == std::string::npos) return {};
  size_t start = text.rfind('\n', at);
  start = start == std::string::npos ? 0 : start + 1;
  return text.substr(start, text.find('\n', at) - start);
}

}  // namespace

TEST_CASE("an optimizer sets a running storage's tunable; the event flows downstream") {
  AgentProcess agent;
  // `second` acts after `first`: its event shows the value `first` set.
  agent.write_config("p.toml", pipeline(tuner("first", "max_batch_samples", "1234") +
                                        tuner("second", "max_batch_samples", "2000", 10)));
  agent.start();
  fs::path cap = agent.data_dir() / "cap.txt";
  REQUIRE(wait_for([&] { return read_file(cap).find("event second") != std::string::npos; }));
  std::string captured = read_file(cap);
  CHECK(line_with(captured, "event first") ==
        "event first first-wants-it component=local tunable=max_batch_samples from=50000 to=1234");
  CHECK(line_with(captured, "event second") ==
        "event second second-wants-it component=local tunable=max_batch_samples from=1234 to=2000");
  // The host answered OK (0), and the optimizer read the storage's stats.
  CHECK(line_with(captured, "tuner_set_status{target=\"local\"}").ends_with(" 0"));
  std::string stats = line_with(captured, "tuner_target_stats{target=\"local\"}");
  REQUIRE_FALSE(stats.empty());
  CHECK(std::stod(stats.substr(stats.rfind(' ') + 1)) > 5);
  CHECK(agent.err().find("set local.max_batch_samples from 50000 to 1234: first-wants-it") != std::string::npos);
  agent.signal(SIGTERM);
  CHECK(agent.wait_exit() == 0);
}

TEST_CASE("out-of-range values and unknown tunables are refused, and nothing changes") {
  AgentProcess agent;
  agent.write_config("p.toml", pipeline(tuner("low", "max_batch_samples", "0") + tuner("unknown", "page_size", "4096") +
                                        tuner("after", "max_batch_samples", "7", 10)));
  agent.start();
  fs::path cap = agent.data_dir() / "cap.txt";
  // The host's event and each tuner's status sample travel in separate
  // batches: wait for all of them, not only the event (the test raced it).
  REQUIRE(wait_for([&] {
    std::string c = read_file(cap);
    return c.find("event after") != std::string::npos &&
           count_occurrences(c, "tuner_set_status{target=\"local\"} ") >= 3;
  }));
  std::string captured = read_file(cap);
  CHECK(captured.find("event low") == std::string::npos);
  CHECK(captured.find("event unknown") == std::string::npos);
  // VITALS_INVALID (-3) for both; the value the third one saw is untouched.
  CHECK(count_occurrences(captured, "tuner_set_status{target=\"local\"} ") == 3);
  CHECK(count_occurrences(captured, " -3\n") == 2);
  CHECK(line_with(captured, "event after").find("from=50000 to=7") != std::string::npos);
  agent.signal(SIGTERM);
  CHECK(agent.wait_exit() == 0);
}
