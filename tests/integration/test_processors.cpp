// Processor semantics on the real binary: a processor's `match` selects what
// it processes and everything else passes through unchanged, events pass
// through a processor that does nothing about them, and an input promising
// committed acks is answered only once both parts are stored.
#include <doctest/doctest.h>
#include <signal.h>

#include <algorithm>
#include <map>
#include <sstream>

#include "agent_process.hpp"
#include "http_client.hpp"
#include "query_points.hpp"

using namespace vitals::test;

namespace {

// What the test-only capture_output plugin wrote: per series, (ts, value)
// in file order; and the events as "<source> <message>".
struct Captured {
  std::map<std::string, std::vector<std::pair<int64_t, double>>> samples;
  std::vector<std::string> events;
};

Captured read_capture(const fs::path &file) {
  Captured out;
  for (const auto &line : read_lines(file)) {
    if (line.rfind("event ", 0) == 0) {
      out.events.push_back(line.substr(6));
      continue;
    }
    std::istringstream in(line);
    std::string series;
    int64_t ts = 0;
    double value = 0;
    if (in >> series >> ts >> value) out.samples[series].emplace_back(ts, value);
  }
  return out;
}

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

TEST_CASE("processor: match passes non-matching series through unchanged; events pass") {
  AgentProcess agent;
  agent.write_config("pipeline.toml", R"(
[input.temp]
plugin = "fake_input"
name = "temp"
interval = "50ms"
samples = 3
events = 2

[input.hum]
plugin = "fake_input"
name = "humidity"
interval = "50ms"
samples = 2

[processor.tidy]
plugin = "relabel"
inputs = ["temp", "hum"]
match = "temp"
rules = [ { action = "rename", to = "temperature" } ]

[output.out]
plugin = "capture_output"
inputs = ["tidy"]
path = "out.txt"

[output.raw]
plugin = "capture_output"
inputs = ["temp", "hum"]
path = "raw.txt"
)");
  agent.start();
  fs::path out = agent.data_dir() / "out.txt", raw = agent.data_dir() / "raw.txt";
  REQUIRE(wait_for([&] { return read_capture(out).samples["humidity{input=\"hum\"}"].size() >= 20; }));
  agent.signal(SIGTERM);
  REQUIRE(agent.wait_exit() == 0);

  Captured before = read_capture(raw), after = read_capture(out);
  auto &hum_raw = before.samples["humidity{input=\"hum\"}"];
  auto &temp_raw = before.samples["temp{input=\"temp\"}"];
  REQUIRE(hum_raw.size() >= 20);
  REQUIRE(temp_raw.size() >= 30);
  // Not matched: passed through with the same series, timestamps and values.
  CHECK(after.samples["humidity{input=\"hum\"}"] == hum_raw);
  // Matched: processed (renamed), timestamps and values unchanged.
  CHECK(after.samples["temperature{input=\"temp\"}"] == temp_raw);
  CHECK(after.samples.count("temp{input=\"temp\"}") == 0);
  CHECK(after.samples.size() == 2);
  // Every event once: neither dropped nor duplicated by the processor.
  REQUIRE(before.events.size() >= 20);
  auto sorted = [](std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  CHECK(sorted(after.events) == sorted(before.events));
  auto unique = sorted(after.events);
  CHECK(std::adjacent_find(unique.begin(), unique.end()) == unique.end());
}

TEST_CASE("processor: a committed ack covers the processed and the passed-through parts") {
  AgentProcess agent;
  agent.write_config("pipeline.toml", R"(
[input.telemetry]
plugin = "http_telemetry"

[processor.tidy]
plugin = "relabel"
inputs = ["telemetry"]
match = "room_temp"
rules = [ { action = "rename", to = "room_temperature" } ]

[storage.local]
plugin = "sqlite"
inputs = ["tidy"]
path = "metrics.db"
)");
  agent.start();
  uint16_t port = agent.http_port();
  REQUIRE(port != 0);
  int64_t base = (now_ns() / 1'000'000'000 - 600) * 1'000'000'000 + 123'456'789;
  std::string lines;
  for (int i = 0; i < 50; ++i)
    lines += "room,site=lab temp=" + std::to_string(20.25 + i * 0.5) + ",hum=" + std::to_string(40 + i) + "i " +
             std::to_string(base + i * 1'000'000'007LL) + "\n";
  // 204 only once the storage committed both parts: they are queryable at once.
  REQUIRE(http_request(port, "POST", "/api/write", lines).status == 204);
  auto reply = http_request(port, "GET",
                            "/api/query?match=room_*&from=" + std::to_string(base - 1) +
                                "&to=" + std::to_string(base + 60'000'000'000) + "&method=raw&points=100000");
  REQUIRE(reply.status == 200);
  auto points = parse_points(reply.body);
  auto &temp = points["room_temperature{site=\"lab\"}"];
  auto &hum = points["room_hum{site=\"lab\"}"];
  REQUIRE(temp.size() == 50);
  REQUIRE(hum.size() == 50);
  for (int i = 0; i < 50; ++i) {
    CHECK(temp[i] == Point{base + i * 1'000'000'007LL, 20.25 + i * 0.5});
    CHECK(hum[i] == Point{base + i * 1'000'000'007LL, 40.0 + i});
  }
  CHECK(points.count("room_temp{site=\"lab\"}") == 0);
  agent.signal(SIGTERM);
  CHECK(agent.wait_exit() == 0);
}
