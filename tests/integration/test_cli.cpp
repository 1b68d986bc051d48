// The CLI verbs a user runs by hand: check, plugins, test, --version.
#include <doctest/doctest.h>
#include <vitals/plugin.h>

#include "agent_process.hpp"

using namespace vitals::test;

namespace {
fs::path source_root() { return VITALS_SOURCE_ROOT; }
// The ABI the built tree speaks, from the header, so a minor bump does not break the CLI tests.
const std::string kAbi = std::to_string(VITALS_ABI_MAJOR) + "." + std::to_string(VITALS_ABI_MINOR);
}  // namespace

TEST_CASE("vitals check accepts the shipped conf.d") {
  AgentProcess agent;
  agent.start("check", {"--config-dir", (source_root() / "conf.d").string()});
  CHECK(agent.wait_exit() == 0);
  CHECK(agent.out().find(": OK (") != std::string::npos);
}

TEST_CASE("vitals check accepts every pipeline in conf.d/available on its own") {
  for (const auto &entry : fs::directory_iterator(source_root() / "conf.d" / "available")) {
    if (entry.path().extension() != ".toml") continue;
    AgentProcess agent;
    fs::copy_file(entry.path(), agent.conf_dir() / entry.path().filename());
    int rc = agent.run_to_exit("check");
    CHECK_MESSAGE(rc == 0, entry.path().string() << "\n" << agent.err());
  }
}

TEST_CASE("vitals check reports every error with file:line and exits 1") {
  AgentProcess agent;
  agent.write_config("10-in.toml", "[input.cpu]\ninterval = \"fast\"\n\n[input.gpu]\n");
  agent.write_config("20-out.toml", "[output.o]\nplugin = \"jsonl\"\ninputs = [\"cpu\", \"nope\"]\nbogus = 1\n");
  CHECK(agent.run_to_exit("check") == 1);
  std::string err = agent.err();
  std::string in = (agent.conf_dir() / "10-in.toml").string(), out = (agent.conf_dir() / "20-out.toml").string();
  CHECK(err.find(in + ":2: 'interval' must be a positive duration") != std::string::npos);
  CHECK(err.find(in + ":4: [input.gpu]: unknown plugin 'gpu'") != std::string::npos);
  CHECK(err.find(out + ":4: unknown key 'bogus'") != std::string::npos);
  CHECK(err.find(out + ":3: unknown id 'nope' in inputs") != std::string::npos);
  CHECK(err.find("4 error(s)") != std::string::npos);
}

TEST_CASE("vitals check reports range errors with file:line, all at once") {
  AgentProcess agent;
  agent.write_config("30-live.toml",
                     "[output.live]\nplugin = \"websocket\"\ninputs = [\"*\"]\nmax_clients = 0\nmax_client_buffer = 0\n"
                     "[output.events]\nplugin = \"sse\"\ninputs = [\"*\"]\nmax_clients = -5\n");
  CHECK(agent.run_to_exit("check") == 1);
  std::string err = agent.err(), file = (agent.conf_dir() / "30-live.toml").string();
  CHECK(err.find(file + ":4: 'max_clients' must be at least 1 (got 0)") != std::string::npos);
  CHECK(err.find(file + ":5: 'max_client_buffer' must be at least 1 (got 0)") != std::string::npos);
  CHECK(err.find(file + ":9: 'max_clients' must be at least 1 (got -5)") != std::string::npos);
  CHECK(err.find("3 error(s)") != std::string::npos);
}

TEST_CASE("vitals plugins lists installed plugins with kind, version, ABI and path") {
  AgentProcess agent;
  CHECK(agent.run_to_exit("plugins") == 0);
  std::string out = agent.out();
  for (const char *name : {"cpu", "memory", "load", "synthetic", "agent", "relabel", "jsonl"})
    CHECK_MESSAGE(out.find(std::string("\n") + name + " ") != std::string::npos, name);
  CHECK(out.find("relabel              processor  1.0.0      " + kAbi) != std::string::npos);
}

TEST_CASE("vitals plugins --describe prints the schema and the sample") {
  AgentProcess agent;
  CHECK(agent.run_to_exit("plugins", {"--describe", "jsonl"}) == 0);
  std::string out = agent.out();
  CHECK(out.find("jsonl 1.0.0 (output plugin, ABI " + kAbi + ")") != std::string::npos);
  CHECK(out.find("max_size") != std::string::npos);
  CHECK(out.find("Sample:\n") != std::string::npos);
  CHECK(out.find("plugin = \"jsonl\"") != std::string::npos);
}

TEST_CASE("vitals plugins --describe shows what each key accepts") {
  AgentProcess agent;
  CHECK(agent.run_to_exit("plugins", {"--describe", "websocket"}) == 0);
  std::string out = agent.out();
  CHECK(out.find("ACCEPTS") != std::string::npos);
  size_t row = out.find("\nmax_clients ");
  REQUIRE(row != std::string::npos);
  CHECK(out.substr(row, out.find('\n', row + 1) - row).find(">= 1 ") != std::string::npos);
}

TEST_CASE("vitals plugins --describe names the services a plugin requires and provides") {
  AgentProcess agent;
  CHECK(agent.run_to_exit("plugins", {"--describe", "websocket"}) == 0);
  CHECK(agent.out().find("Requires: vitals.http 1, vitals.ws 1\n") != std::string::npos);
  AgentProcess storage;
  CHECK(storage.run_to_exit("plugins", {"--describe", "sqlite"}) == 0);
  CHECK(storage.out().find("Requires: vitals.storage 1\nProvides: vitals.storage 1, vitals.tunables 1\n") !=
        std::string::npos);
}

TEST_CASE("vitals plugins --describe of an unknown plugin fails clearly") {
  AgentProcess agent;
  CHECK(agent.run_to_exit("plugins", {"--describe", "nosuch"}) == 1);
  CHECK(agent.err().find("unknown plugin 'nosuch'") != std::string::npos);
}

TEST_CASE("vitals test collects each input once and prints its samples") {
  AgentProcess agent;
  agent.write_config("p.toml", "[input.load]\n[input.memory]\n[output.o]\nplugin = \"jsonl\"\ninputs = [\"*\"]\n");
  CHECK(agent.run_to_exit("test") == 0);
  std::string out = agent.out();
  CHECK(out.find("load1 ") != std::string::npos);
  CHECK(out.find("memory_total_bytes ") != std::string::npos);
  CHECK(out.find("{\"ts\"") == std::string::npos);  // outputs are not run
}

TEST_CASE("vitals test exits non-zero when an input fails") {
  AgentProcess agent;
  agent.write_config("p.toml", "[input.ok]\nplugin = \"fake_input\"\n[input.bad]\nplugin = \"abi_throws\"\n");
  CHECK(agent.run_to_exit("test", {"--plugin-dir", ABI_FIXTURE_DIR}) == 1);
  CHECK(agent.err().find("input 'bad' failed: abi_throws: thrown in collect") != std::string::npos);
  CHECK(agent.out().find("fake{input=\"ok\"} 1 ") != std::string::npos);
}

TEST_CASE("vitals --version names the version and the plugin ABI") {
  AgentProcess agent;
  agent.start("--version");
  CHECK(agent.wait_exit() == 0);
  CHECK(agent.out().find("(plugin ABI " + kAbi + ")") != std::string::npos);
}

TEST_CASE("every verb has --help") {
  for (const char *verb : {"run", "check", "plugins", "test"}) {
    AgentProcess agent;
    agent.start(verb, {"--help"});
    CHECK_MESSAGE(agent.wait_exit() == 0, verb);
    CHECK(agent.out().find("--config-dir") != std::string::npos);
  }
}
