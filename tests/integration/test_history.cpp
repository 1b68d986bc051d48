// Local history end to end on the real binary: telemetry POSTed over HTTP,
// stored by the sqlite storage, read back through /api/query; durability of
// acknowledged data across SIGKILL; retention with rollups answering long
// ranges.
#include <doctest/doctest.h>
#include <signal.h>

#include <cstdlib>
#include <map>

#include "agent_process.hpp"
#include "http_client.hpp"
#include "query_points.hpp"

using namespace vitals::test;

namespace {

const std::string kHistory = R"(
[input.telemetry]
plugin = "http_telemetry"

[storage.local]
plugin = "sqlite"
inputs = ["telemetry"]
path = "metrics.db"
)";

std::string query_target(const std::string &match, int64_t from, int64_t to, const std::string &method,
                         int points = 100000) {
  return "/api/query?match=" + match + "&from=" + std::to_string(from) + "&to=" + std::to_string(to) +
         "&method=" + method + "&points=" + std::to_string(points);
}

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

TEST_CASE("POST then query returns exactly what was posted") {
  AgentProcess agent;
  agent.write_config("p.toml", kHistory);
  agent.start();
  uint16_t port = agent.http_port();
  REQUIRE(port != 0);
  int64_t base = (now_ns() / 1'000'000'000 - 600) * 1'000'000'000 + 123'456'789;
  std::string lines;
  for (int i = 0; i < 50; ++i)
    lines += "room,site=lab temp=" + std::to_string(20.25 + i * 0.5) + ",hum=" + std::to_string(40 + i) + "i " +
             std::to_string(base + i * 1'000'000'007LL) + "\n";
  auto post = http_request(port, "POST", "/api/write", lines);
  REQUIRE(post.status == 204);
  std::string json = R"({"timestamp":)" + std::to_string(base / 1'000'000) + R"(,"signals":{"co2":612.5}})";
  REQUIRE(http_request(port, "POST", "/api/telemetry", json, "Content-Type: application/json\r\n").status == 204);

  auto reply = http_request(port, "GET", query_target("room_*", base - 1, base + 60'000'000'000, "raw"));
  REQUIRE(reply.status == 200);
  auto points = parse_points(reply.body);
  auto &temp = points["room_temp{site=\"lab\"}"];
  auto &hum = points["room_hum{site=\"lab\"}"];
  REQUIRE(temp.size() == 50);
  REQUIRE(hum.size() == 50);
  for (int i = 0; i < 50; ++i) {
    CHECK(temp[i] == Point{base + i * 1'000'000'007LL, 20.25 + i * 0.5});
    CHECK(hum[i] == Point{base + i * 1'000'000'007LL, 40.0 + i});
  }
  auto co2 = parse_points(http_request(port, "GET", query_target("co2", base - 1'000'000'000, base + 1, "raw")).body);
  REQUIRE(co2["co2"].size() == 1);
  CHECK(co2["co2"][0].value == 612.5);
  CHECK(co2["co2"][0].ts == base / 1'000'000 * 1'000'000);

  auto latest = http_request(port, "GET", "/api/latest?match=room_temp");
  CHECK(latest.status == 200);
  CHECK(latest.body.find(std::to_string(base + 49 * 1'000'000'007LL)) != std::string::npos);
  auto series = http_request(port, "GET", "/api/series?match=room_*");
  CHECK(series.body.find("room_hum{site=\\\"lab\\\"}") != std::string::npos);

  // The route takes the contract's tier choice, and refuses a bad field itself with the SDK's reason.
  auto minute =
      http_request(port, "GET", query_target("room_temp", base - 1, base + 60'000'000'000, "avg", 2) + "&tier=1m");
  CHECK(minute.status == 200);
  CHECK(minute.body.find("\"tier\":\"1m\"") != std::string::npos);
  auto bad_tier = http_request(port, "GET", "/api/query?match=room_temp&tier=5m");
  CHECK(bad_tier.status == 400);
  CHECK(bad_tier.body.find("unknown tier \\\"5m\\\"") != std::string::npos);
  auto bad_points = http_request(port, "GET", "/api/query?match=room_temp&points=ten");
  CHECK(bad_points.status == 400);
  CHECK(bad_points.body.find("must be an integer") != std::string::npos);
  CHECK(http_request(port, "GET", "/api/latest?match=room{").status == 400);

  // Malformed input is refused whole: nothing of it is stored.
  auto bad =
      http_request(port, "POST", "/api/write", "room,site=x temp=1 " + std::to_string(base) + "\nroom temp=oops\n");
  CHECK(bad.status == 400);
  CHECK(bad.body.find("\"line\":2") != std::string::npos);
  auto after = parse_points(http_request(port, "GET", query_target("room_temp", base - 1, base + 1, "raw")).body);
  CHECK(after.count("room_temp{site=\"x\"}") == 0);
  agent.signal(SIGTERM);
  CHECK(agent.wait_exit() == 0);
}

TEST_CASE("every sample acknowledged with 204 survives a SIGKILL") {
  AgentProcess agent;
  agent.write_config("p.toml", kHistory);
  agent.start();
  uint16_t port = agent.http_port();
  REQUIRE(port != 0);
  int64_t base = (now_ns() / 1'000'000'000 - 3600) * 1'000'000'000;
  int acknowledged = 0;
  for (int r = 0; r < 40; ++r) {
    std::string lines;
    for (int i = 0; i < 250; ++i) {
      int n = r * 250 + i;
      lines += "kill_test,shard=" + std::to_string(n % 4) + " v=" + std::to_string(n) + " " +
               std::to_string(base + n * 1'000'000LL) + "\n";
    }
    if (http_request(port, "POST", "/api/write", lines).status == 204) acknowledged += 250;
  }
  REQUIRE(acknowledged == 10000);
  agent.signal(SIGKILL);
  REQUIRE(agent.wait_exit() == 128 + SIGKILL);

  agent.start();
  port = agent.http_port();
  REQUIRE(port != 0);
  auto points =
      parse_points(http_request(port, "GET", query_target("kill_test_v", base - 1, base + 20'000'000'000, "raw")).body);
  size_t total = 0;
  for (const auto &[series, list] : points) total += list.size();
  CHECK(total == 10000);
  agent.signal(SIGTERM);
  CHECK(agent.wait_exit() == 0);
}

TEST_CASE("retention removes old raw samples while rollups still answer the long range") {
  AgentProcess agent;
  agent.write_config("p.toml", kHistory + "retention = \"1h\"\nmaintenance_interval = \"1s\"\n");
  agent.start();
  uint16_t port = agent.http_port();
  REQUIRE(port != 0);
  int64_t now = now_ns();
  int64_t old_start = (now / 3'600'000'000'000 - 3) * 3'600'000'000'000;  // 2 to 3 h ago, on the hour
  std::string lines;
  for (int i = 0; i < 120; ++i)  // two hours of minutes, values 0..119
    lines += "ret,probe=a v=" + std::to_string(i) + " " + std::to_string(old_start + i * 60'000'000'000LL) + "\n";
  lines += "ret,probe=a v=1000 " + std::to_string(now - 1'000'000'000) + "\n";  // a recent sample triggers a commit
  REQUIRE(http_request(port, "POST", "/api/write", lines).status == 204);

  std::string old_raw = query_target("ret_v", old_start, old_start + 3'600'000'000'000 - 1, "raw");
  REQUIRE(wait_for([&] { return parse_points(http_request(port, "GET", old_raw).body)["ret_v{probe=\"a\"}"].empty(); },
                   std::chrono::seconds(15)));
  // The same two hours at one point per hour come from the hourly rollup:
  // the averages of 0..59 and 60..119.
  auto reply = http_request(port, "GET", query_target("ret_v", old_start, old_start + 7'200'000'000'000 - 1, "avg", 2));
  REQUIRE(reply.status == 200);
  CHECK(reply.body.find("\"tier\":\"1h\"") != std::string::npos);
  auto points = parse_points(reply.body)["ret_v{probe=\"a\"}"];
  REQUIRE(points.size() == 2);
  CHECK(points[0].value == doctest::Approx(29.5));
  CHECK(points[1].value == doctest::Approx(89.5));
  agent.signal(SIGTERM);
  CHECK(agent.wait_exit() == 0);
}

TEST_CASE("vitals query reads history from the running agent and from a file; vitals backup copies it live") {
  AgentProcess agent;
  agent.write_config("p.toml", kHistory);
  agent.start();
  uint16_t port = agent.http_port();
  REQUIRE(port != 0);
  int64_t base = (now_ns() / 1'000'000'000 - 300) * 1'000'000'000;
  std::string lines;
  for (int i = 0; i < 10; ++i)
    lines += "cli,probe=p v=" + std::to_string(i) + " " + std::to_string(base + i * 1'000'000'000LL) + "\n";
  REQUIRE(http_request(port, "POST", "/api/write", lines).status == 204);

  AgentProcess cli(false);
  int rc = cli.run_to_exit("query", {"--config-dir", agent.conf_dir().string(), "cli_v", "--since", "1h", "--format",
                                     "csv", "--method", "raw", "--agent", "127.0.0.1:" + std::to_string(port)});
  CHECK_MESSAGE(rc == 0, cli.err());
  std::string csv = cli.out();
  CHECK(csv.rfind("series,ts_ms,value\n", 0) == 0);
  CHECK(count_occurrences(csv, "\"cli_v{probe=\"\"p\"\"}\",") == 10);
  CHECK(csv.find("," + std::to_string(base / 1'000'000 + 9000) + ",9\n") != std::string::npos);

  fs::path copy = agent.data_dir() / "copy.db";
  AgentProcess backup(false);
  rc = backup.run_to_exit("backup", {"--config-dir", agent.conf_dir().string(), "--data-dir", agent.data_dir().string(),
                                     "--to", copy.string()});
  CHECK_MESSAGE(rc == 0, backup.err());
  CHECK(fs::exists(copy));

  AgentProcess from_file(false);
  rc = from_file.run_to_exit("query",
                             {"cli_v", "--db", copy.string(), "--since", "1h", "--method", "raw", "--format", "table"});
  CHECK_MESSAGE(rc == 0, from_file.err());
  CHECK(from_file.err().find("1 series, 10 points") != std::string::npos);
  agent.signal(SIGTERM);
  CHECK(agent.wait_exit() == 0);
}
