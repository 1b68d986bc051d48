// The core HTTP API of the real binary over loopback: health, readiness,
// self-metrics, bearer-token auth, admin routes, and limits that cut off
// abusive clients while others keep being served.
#include <doctest/doctest.h>

#include <thread>

#include "agent_process.hpp"
#include "http_client.hpp"

using namespace vitals::test;

namespace {
const char *kPipeline = "[input.a]\nplugin = \"fake_input\"\ninterval = \"100ms\"\n";
}

TEST_CASE("health, readiness and self-metrics answer without configuration") {
  AgentProcess agent;
  agent.write_config("p.toml", kPipeline);
  agent.start();
  uint16_t port = agent.http_port();
  REQUIRE(port != 0);
  auto health = http_request(port, "GET", "/healthz");
  CHECK(health.status == 200);
  CHECK(!health.header("x-process-time").empty());
  CHECK(http_request(port, "GET", "/readyz").status == 200);
  auto metrics = http_request(port, "GET", "/api/performance/metrics");
  CHECK(metrics.status == 200);
  CHECK(metrics.header("content-type").find("application/json") != std::string::npos);
  CHECK(metrics.body.find("\"vitals_component_samples_out_total\"") != std::string::npos);
  CHECK(metrics.body.find("\"vitals_process_resident_memory_bytes\"") != std::string::npos);
  CHECK(http_request(port, "GET", "/nope").status == 404);
  CHECK(http_request(port, "GET", "/api/series").status == 404);  // no storage configured
  agent.signal(SIGTERM);
  CHECK(agent.wait_exit() == 0);
}

TEST_CASE("admin routes are refused with 403 when no token is configured") {
  AgentProcess agent;
  agent.write_config("p.toml", kPipeline);
  agent.start();
  uint16_t port = agent.http_port();
  auto r = http_request(port, "POST", "/api/admin/reload");
  CHECK(r.status == 403);
  CHECK(r.body.find("token_file") != std::string::npos);
}

TEST_CASE("with a token file, every route but /healthz needs the bearer token") {
  AgentProcess agent(false);
  write_file(agent.data_dir() / "token", "s3cret\n");
  agent.write_config("00-http.toml", "[agent.http]\nlisten = \"127.0.0.1:0\"\ntoken_file = \"" +
                                         (agent.data_dir() / "token").string() + "\"\n");
  agent.write_config("p.toml", kPipeline);
  agent.start();
  uint16_t port = agent.http_port();
  REQUIRE(port != 0);
  CHECK(http_request(port, "GET", "/healthz").status == 200);
  CHECK(http_request(port, "GET", "/readyz").status == 401);
  CHECK(http_request(port, "GET", "/readyz", "", "Authorization: Bearer wrong\r\n").status == 401);
  CHECK(http_request(port, "GET", "/readyz", "", "Authorization: Bearer s3cret\r\n").status == 200);
  CHECK(http_request(port, "GET", "/readyz?token=s3cret").status == 200);
  auto reload = http_request(port, "POST", "/api/admin/reload", "", "Authorization: Bearer s3cret\r\n");
  CHECK(reload.status == 202);
  CHECK(agent.wait_for_log("reloaded:"));
}

TEST_CASE("a slowloris client is cut off while other clients are served") {
  AgentProcess agent(false);
  agent.write_config("00-http.toml", "[agent.http]\nlisten = \"127.0.0.1:0\"\n");
  agent.write_config("p.toml", kPipeline);
  agent.start();
  uint16_t port = agent.http_port();
  REQUIRE(port != 0);
  RawSocket slow(port);
  REQUIRE(slow.connected());
  // Drip the request line one byte at a time; healthy clients meanwhile.
  std::string line = "GET /healthz HTTP/1.1\r\nX-Slow: ";
  int served = 0;
  bool cut_off = false;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 300 && !cut_off; ++i) {
    if (!slow.send(std::string(1, line[static_cast<size_t>(i) % line.size()]))) {
      cut_off = true;
      break;
    }
    if (http_request(port, "GET", "/healthz").status == 200) ++served;
    cut_off = slow.closed_by_peer(50);
  }
  auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(cut_off);
  CHECK(elapsed < std::chrono::seconds(13));  // the default header timeout is 10 s
  CHECK(served > 20);
}

TEST_CASE("an oversized body is refused with 413 without reading it") {
  AgentProcess agent(false);
  agent.write_config("00-http.toml", "[agent.http]\nlisten = \"127.0.0.1:0\"\nmax_body = \"1KB\"\n");
  agent.write_config("p.toml", kPipeline);
  agent.start();
  uint16_t port = agent.http_port();
  REQUIRE(port != 0);
  RawSocket s(port);
  s.send("POST /api/admin/reload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000000\r\n\r\n");
  auto reply = parse_reply(s.read_all(3000));
  CHECK(reply.status == 413);
  CHECK(http_request(port, "GET", "/healthz").status == 200);
}

TEST_CASE("oversized headers are refused with 431") {
  AgentProcess agent;
  agent.write_config("p.toml", kPipeline);
  agent.start();
  uint16_t port = agent.http_port();
  auto r = http_request(port, "GET", "/healthz", "", "X-Big: " + std::string(64 * 1024, 'a') + "\r\n");
  CHECK(r.status == 431);
}

TEST_CASE("Host names: local names and IP literals by default, others only from allowed_hosts (421)") {
  AgentProcess agent(false);
  agent.write_config("00-http.toml", "[agent.http]\nlisten = \"127.0.0.1:0\"\nallowed_hosts = [\"vitals.lan\"]\n");
  agent.write_config("p.toml", kPipeline);
  agent.start();
  uint16_t port = agent.http_port();
  REQUIRE(port != 0);
  auto with_host = [&](const std::string &host) {
    RawSocket s(port);
    s.send("GET /healthz HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n");
    return parse_reply(s.read_all());
  };
  CHECK(with_host("127.0.0.1:" + std::to_string(port)).status == 200);
  CHECK(with_host("localhost:" + std::to_string(port)).status == 200);
  CHECK(with_host("vitals.lan:" + std::to_string(port)).status == 200);
  auto rebound = with_host("attacker.example:" + std::to_string(port));
  CHECK(rebound.status == 421);
  CHECK(rebound.body.find("allowed_hosts") != std::string::npos);
  // A foreign page's write is refused by its Origin; the agent's own page may write.
  auto foreign = http_request(port, "POST", "/api/admin/reload", "", "Origin: http://attacker.example\r\n");
  CHECK(foreign.status == 403);
  CHECK(foreign.body.find("cross-origin") != std::string::npos);
}
