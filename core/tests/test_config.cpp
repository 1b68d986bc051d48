// Config parsing and validation: one case per error kind, each checking the
// file:line a user would be pointed at.
#include <doctest/doctest.h>

#include <algorithm>

#include "config/config.hpp"
#include "engine/graph.hpp"

using namespace vitals::core;

namespace {

struct Parsed {
  Config config;
  Diagnostics diags;
};

Parsed parse(std::string_view text, const std::string &name = "conf.d/10-test.toml") {
  Parsed p;
  load_config_text(text, name, p.config, p.diags);
  return p;
}

// True if some diagnostic reads exactly "<file>:<line>: <contains...>".
bool has(const Diagnostics &d, const std::string &where, const std::string &what) {
  auto items = d.items();
  return std::any_of(items.begin(), items.end(), [&](const Diagnostic &x) {
    std::string s = x.to_string();
    return s.rfind(where + ": ", 0) == 0 && s.find(what) != std::string::npos;
  });
}

std::string dump(const Diagnostics &d) {
  std::string s;
  for (const auto &x : d.items()) s += x.to_string() + "\n";
  return s;
}

}  // namespace

TEST_CASE("a valid pipeline parses with host keys and defaults") {
  auto p = parse(R"(
[agent]
data_dir = "/tmp/x"
interval = "5s"
[input.cpu]
interval = "1s"
[output.out]
plugin = "jsonl"
inputs = ["cpu"]
match = 'cpu_usage{mode="user"}'
queue = { capacity = 500, overflow = "drop_oldest" }
path = "out.jsonl"
)");
  INFO(dump(p.diags));
  CHECK_FALSE(p.diags.has_errors());
  REQUIRE(p.config.components.size() == 2);
  const auto *cpu = p.config.find("cpu");
  REQUIRE(cpu);
  CHECK(cpu->plugin == "cpu");
  CHECK(cpu->interval_ns == 1'000'000'000);
  const auto *out = p.config.find("out");
  CHECK(out->plugin == "jsonl");
  CHECK(out->queue.capacity_samples == 500);
  CHECK(out->queue.overflow == Overflow::drop_oldest);
  CHECK(out->line == 7);
  CHECK(p.config.agent.interval == std::chrono::seconds(5));
}

TEST_CASE("TOML syntax errors point at their line") {
  auto p = parse("[input.cpu]\ninterval = \"1s\n");
  CHECK(has(p.diags, "conf.d/10-test.toml:2", ""));
}

TEST_CASE("unknown section is an error with its line") {
  auto p = parse("\n[inptu.cpu]\n");
  CHECK(has(p.diags, "conf.d/10-test.toml:2", "unknown section 'inptu'"));
}

TEST_CASE("wrong type for a host key is an error with its line") {
  auto p = parse("[input.cpu]\n\ninterval = 5\n");
  CHECK(has(p.diags, "conf.d/10-test.toml:3", "'interval' must be a positive duration"));
}

TEST_CASE("bad durations are refused") {
  for (const char *bad : {"\"5\"", "\"1x\"", "\"-1s\"", "\"\""}) {
    auto p = parse(std::string("[input.cpu]\ninterval = ") + bad + "\n");
    CHECK_MESSAGE(has(p.diags, "conf.d/10-test.toml:2", "duration"), bad);
  }
}

TEST_CASE("a consumer without inputs is an error") {
  auto p = parse("[output.out]\nplugin = \"jsonl\"\n");
  CHECK(has(p.diags, "conf.d/10-test.toml:1", "missing required key 'inputs'"));
}

TEST_CASE("an edge into an input is an error") {
  auto p = parse("[input.a]\n[input.b]\ninputs = [\"a\"]\n");
  CHECK(has(p.diags, "conf.d/10-test.toml:3", "takes no 'inputs'"));
}

TEST_CASE("duplicate ids across files name both places") {
  Parsed p;
  load_config_text("[input.cpu]\n", "conf.d/10-a.toml", p.config, p.diags);
  load_config_text("\n[output.cpu]\ninputs = []\n", "conf.d/20-b.toml", p.config, p.diags);
  CHECK(
      has(p.diags, "conf.d/20-b.toml:2", "duplicate id 'cpu': already declared as [input.cpu] at conf.d/10-a.toml:1"));
}

TEST_CASE("[agent] keys may be split across files but not repeated") {
  Parsed p;
  load_config_text("[agent]\nlog_level = \"debug\"\n", "a.toml", p.config, p.diags);
  load_config_text("[agent]\ndata_dir = \"/x\"\nlog_level = \"info\"\n", "b.toml", p.config, p.diags);
  CHECK(p.config.agent.data_dir == "/x");
  CHECK(has(p.diags, "b.toml:3", "'log_level' is already set at a.toml:2"));
}

TEST_CASE("unknown [agent] key lists the known ones") {
  auto p = parse("[agent]\nfoo = 1\n");
  CHECK(has(p.diags, "conf.d/10-test.toml:2", "[agent] unknown key 'foo' (known: data_dir"));
  CHECK(has(p.diags, "conf.d/10-test.toml:2", "max_series, http)"));  // read apart, a key all the same
}

TEST_CASE("[agent] values past their bounds are refused, not wrapped") {
  // Values this large used to pass through a double into int64 (undefined).
  auto p = parse("[agent]\nmax_series = 9223372036854775807\n[agent.http]\nmax_body = \"2TiB\"\n");
  CHECK(has(p.diags, "conf.d/10-test.toml:2", "'max_series' must be at most 1000000000"));
  CHECK(has(p.diags, "conf.d/10-test.toml:4", "'max_body' must be at most \"1TiB\""));
  CHECK(p.config.agent.max_series == 1'000'000);
}

TEST_CASE("[agent] and [agent.http] range and choice errors are reported all at once, each with file:line") {
  auto p = parse(
      "[agent]\nlog_level = \"loud\"\ninterval = \"0s\"\nmax_series = 0\n"
      "[agent.http]\nmax_connections = 2000000\nidle_timeout = \"soon\"\nenabled = \"yes\"\n");
  CHECK(has(p.diags, "conf.d/10-test.toml:2", "[agent] 'log_level' must be one of \"error\", \"warn\""));
  CHECK(has(p.diags, "conf.d/10-test.toml:3", "[agent] 'interval' must be at least \"1ms\""));
  CHECK(has(p.diags, "conf.d/10-test.toml:4", "[agent] 'max_series' must be at least 1"));
  CHECK(has(p.diags, "conf.d/10-test.toml:6", "[agent.http] 'max_connections' must be at most 1000000"));
  CHECK(has(p.diags, "conf.d/10-test.toml:7", "[agent.http] 'idle_timeout'"));
  CHECK(has(p.diags, "conf.d/10-test.toml:8", "[agent.http] 'enabled'"));
  // What was refused keeps its default.
  CHECK(p.config.agent.interval == std::chrono::seconds(10));
  CHECK(p.config.agent.http.max_connections == 256);
}

TEST_CASE("[agent] defaults come from its schema, and keys set in two files keep the first") {
  vitals::core::AgentConfig fresh;
  CHECK(fresh.shutdown_timeout == std::chrono::seconds(10));
  CHECK(fresh.max_series == 1'000'000);
  CHECK(fresh.http.listen == "127.0.0.1:8470");
  CHECK(fresh.http.max_body.bytes == 16u << 20);
  CHECK(fresh.http.enabled);
  CHECK(fresh.log_level.empty());  // no default: the CLI's
  vitals::core::Config config;
  vitals::core::Diagnostics diags;
  vitals::core::load_config_text("[agent]\ninterval = \"2s\"\n[agent.http]\nlisten = \"127.0.0.1:0\"\n", "a.toml",
                                 config, diags);
  vitals::core::load_config_text("[agent]\ninterval = \"3s\"\nmax_series = 5\n", "b.toml", config, diags);
  CHECK(config.agent.interval == std::chrono::seconds(2));
  CHECK(config.agent.max_series == 5);
  CHECK(config.agent.http.listen == "127.0.0.1:0");
  CHECK(config.agent.http.max_streams == 256);
  CHECK(has(diags, "b.toml:2", "'interval' is already set at a.toml:2"));
}

TEST_CASE("bad selector in match is an error with the offset") {
  auto p = parse("[output.o]\ninputs = [\"x\"]\nmatch = 'cpu{mode=user}'\n");
  CHECK(has(p.diags, "conf.d/10-test.toml:3", "expected a quoted value at offset 9"));
}

TEST_CASE("queue policy must be known") {
  auto p = parse("[output.o]\ninputs = [\"x\"]\nqueue = { overflow = \"spill\" }\n");
  CHECK(has(p.diags, "conf.d/10-test.toml:3", "'overflow' must be one of block, drop_oldest, drop_newest"));
}

TEST_CASE("every error is reported, not just the first") {
  auto p = parse("[input.a]\ninterval = 1\n[input.b]\ninterval = \"x\"\n[bogus]\n");
  CHECK(p.diags.error_count() == 3);
}

TEST_CASE("fingerprint ignores wiring but not settings") {
  auto a = parse("[output.o]\ninputs = [\"x\"]\npath = \"a\"\n");
  auto b = parse("[output.o]\ninputs = [\"x\", \"y\"]\npath = \"a\"\n");
  auto c = parse("[output.o]\ninputs = [\"x\"]\npath = \"b\"\n");
  CHECK(a.config.components[0].fingerprint == b.config.components[0].fingerprint);
  CHECK(a.config.components[0].fingerprint != c.config.components[0].fingerprint);
}

// ---- graph ------------------------------------------------------------------

TEST_CASE("graph resolves ids and globs to sources only") {
  auto p = parse(R"(
[input.sensor_a]
[input.sensor_b]
[input.cpu]
[processor.quiet]
inputs = ["sensor_*"]
[storage.db]
inputs = ["*"]
)");
  Graph g = build_graph(p.config, p.diags);
  INFO(dump(p.diags));
  CHECK_FALSE(p.diags.has_errors());
  CHECK(g.upstream["quiet"] == std::vector<std::string>{"sensor_a", "sensor_b"});
  // "*" takes every input and processor but never a sink or itself.
  CHECK(g.upstream["db"] == std::vector<std::string>{"sensor_a", "sensor_b", "cpu", "quiet"});
  auto pos = [&](const std::string &id) {
    return std::find(g.topological_order.begin(), g.topological_order.end(), id) - g.topological_order.begin();
  };
  CHECK(pos("sensor_a") < pos("quiet"));
  CHECK(pos("quiet") < pos("db"));
}

TEST_CASE("graph: unknown id in inputs is an error at the inputs line") {
  auto p = parse("[input.cpu]\n[output.o]\n\ninputs = [\"cpux\"]\n");
  build_graph(p.config, p.diags);
  CHECK(has(p.diags, "conf.d/10-test.toml:4", "unknown id 'cpux' in inputs"));
}

TEST_CASE("graph: a sink cannot feed another component") {
  auto p = parse("[input.cpu]\n[storage.db]\ninputs = [\"cpu\"]\n[output.o]\ninputs = [\"db\"]\n");
  build_graph(p.config, p.diags);
  CHECK(has(p.diags, "conf.d/10-test.toml:5", "'db' in inputs is a storage"));
}

TEST_CASE("graph: a cycle is reported with its path") {
  auto p = parse("[input.i]\n[processor.a]\ninputs = [\"i\", \"b\"]\n[processor.b]\ninputs = [\"a\"]\n");
  build_graph(p.config, p.diags);
  CHECK(has(p.diags, "conf.d/10-test.toml:5", "cycle in pipeline: a <- b <- a"));
}

TEST_CASE("graph: a glob matching nothing is a warning, not an error") {
  auto p = parse("[input.cpu]\n[output.o]\ninputs = [\"sensor_*\"]\n");
  build_graph(p.config, p.diags);
  CHECK_FALSE(p.diags.has_errors());
  CHECK(has(p.diags, "conf.d/10-test.toml:3", "warning: 'sensor_*' in inputs matches no input"));
}

TEST_CASE("graph: disabled components are left out") {
  auto p = parse("[input.cpu]\nenabled = false\n[input.mem]\n[output.o]\ninputs = [\"*\"]\n");
  Graph g = build_graph(p.config, p.diags);
  CHECK(g.upstream["o"] == std::vector<std::string>{"mem"});
}

TEST_CASE("[agent.http] max_output_buffer takes a size") {
  auto p = parse("[agent.http]\nmax_output_buffer = \"64KiB\"\n");
  CHECK_FALSE(p.diags.has_errors());
  CHECK(p.config.agent.http.max_output_buffer.bytes == 64 * 1024);
  CHECK(parse("").config.agent.http.max_output_buffer.bytes == 1024 * 1024);
  CHECK(has(parse("[agent.http]\nmax_output_buffer = \"lots\"\n").diags, "conf.d/10-test.toml:2", "max_output_buffer"));
}

TEST_CASE("[agent.http] max_streams takes a positive integer, apart from max_connections") {
  auto p = parse("[agent.http]\nmax_streams = 32\n");
  CHECK_FALSE(p.diags.has_errors());
  CHECK(p.config.agent.http.max_streams == 32);
  CHECK(p.config.agent.http.max_connections == 256);
  CHECK(parse("").config.agent.http.max_streams == 256);
  CHECK(has(parse("[agent.http]\nmax_streams = 0\n").diags, "conf.d/10-test.toml:2", "max_streams"));
}
