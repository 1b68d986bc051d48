// Live data end to end on the real binary over loopback: WebSocket
// subscriptions (order, no gaps, changing subscriptions, slow clients), SSE
// resume with Last-Event-ID, the stream limit (max_streams), and /metrics
// checked by promtool.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agent_process.hpp"
#include "http_client.hpp"
#include "ws_client.hpp"

using namespace vitals::test;
using Clock = std::chrono::steady_clock;

namespace {

const char *kLive = R"(
[input.telemetry]
plugin = "http_telemetry"
ack = "accepted"  # live streams only, no storage to commit to

[output.live]
plugin = "websocket"
inputs = ["telemetry"]
max_client_buffer = "64KiB"
slow_client_timeout = "1s"

[output.events]
plugin = "sse"
inputs = ["telemetry"]

[output.metrics]
plugin = "prometheus"
inputs = ["telemetry"]
)";

// Posts one sample of `name` through the explicit JSON form.
bool post(uint16_t port, const std::string &name, int64_t ts_ns, double value) {
  std::string json =
      "[{\"name\":\"" + name + "\",\"ts\":" + std::to_string(ts_ns) + ",\"value\":" + std::to_string(value) + "}]";
  return http_request(port, "POST", "/api/telemetry", json, "Content-Type: application/json\r\n").status == 204;
}

// The values of every "samples" message of series `name` in `text`, in order.
std::vector<int> values_of(const std::string &text, const std::string &name) {
  std::vector<int> out;
  std::string key = "{\"series\":\"" + name + "\",\"ts\":";
  for (size_t at = text.find(key); at != std::string::npos; at = text.find(key, at + 1)) {
    size_t v = text.find("\"value\":", at) + 8;
    out.push_back(std::stoi(text.substr(v)));
  }
  return out;
}

std::string run(const std::string &command) {
  std::string out;
  FILE *p = ::popen(command.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int rc = ::pclose(p);
  return "exit=" + std::to_string(WEXITSTATUS(rc)) + "\n" + out;
}

}  // namespace

TEST_CASE("a WebSocket client gets every sample in order, then only what it subscribes to") {
  AgentProcess agent;
  agent.write_config("live.toml", kLive);
  agent.start();
  uint16_t port = agent.http_port();
  REQUIRE(port != 0);
  WsClient ws(port, "/api/stream");
  REQUIRE(ws.handshake_status() == 101);
  auto hello = ws.read_data();
  REQUIRE(hello);
  CHECK(hello->data.find("\"type\":\"hello\"") != std::string::npos);
  ws.send_text(R"({"subscribe":["seq"]})");
  auto sub = ws.read_data();
  REQUIRE(sub);
  CHECK(sub->data == R"({"type":"subscribed","subscriptions":["seq"]})");
  const int n = 200;
  // "other" first: once the seq samples after it have come, it has reached
  // the output too, so the snapshot below carries it. Posted last, it could
  // arrive after the subscription change: no snapshot, a live update instead
  // (this test failed twice that way).
  REQUIRE(post(port, "other", 1'700'000'000'000'000'000, 1));
  for (int i = 1; i <= n; ++i) REQUIRE(post(port, "seq", 1'700'000'000'000'000'000 + i, i));
  std::string all;
  while (values_of(all, "seq").size() < n) {
    auto m = ws.read_data(3000);
    if (!m) break;
    all += m->data;
  }
  std::vector<int> got = values_of(all, "seq");
  REQUIRE(got.size() == n);
  for (int i = 0; i < n; ++i) CHECK(got[static_cast<size_t>(i)] == i + 1);
  CHECK(all.find("\"other\"") == std::string::npos);
  // Change the subscription: "other" now, "seq" no more; the snapshot
  // carries other's current value.
  ws.send_text(R"({"unsubscribe":["seq"],"subscribe":["oth*"]})");
  auto changed = ws.read_data();
  REQUIRE(changed);
  CHECK(changed->data == R"({"type":"subscribed","subscriptions":["oth*"]})");
  auto snapshot = ws.read_data();
  REQUIRE(snapshot);
  CHECK(snapshot->data.find(R"("type":"snapshot")") != std::string::npos);
  CHECK(values_of(snapshot->data, "other") == std::vector<int>{1});
  REQUIRE(post(port, "seq", 1'700'000'000'000'001'000, 999));
  REQUIRE(post(port, "other", 1'700'000'000'000'001'000, 2));
  auto live = ws.read_data();
  REQUIRE(live);
  CHECK(values_of(live->data, "other") == std::vector<int>{2});
  CHECK(live->data.find("\"seq\"") == std::string::npos);
  // A bad selector is answered, and the connection stays usable.
  ws.send_text(R"({"subscribe":["x{a=~\"(\"}"]})");
  auto error = ws.read_data();
  REQUIRE(error);
  CHECK(error->data.find(R"("type":"error")") != std::string::npos);
  ws.send_close(1000);
  auto close = ws.read();
  REQUIRE(close);
  CHECK(close->opcode == 8);
  CHECK(ws.wait_closed(2000));
}

TEST_CASE("a client that does not read is coalesced then dropped; a fast client keeps its latency") {
  AgentProcess agent;
  agent.write_config("live.toml", kLive);
  agent.start();
  uint16_t port = agent.http_port();
  REQUIRE(port != 0);
  WsClient fast(port, "/api/stream");
  WsClient slow(port, "/api/stream", "", "", 4096);
  REQUIRE(fast.open());
  REQUIRE(slow.open());
  fast.send_text(R"({"subscribe":"*"})");
  slow.send_text(R"({"subscribe":"*"})");
  // Big messages fill the slow client's socket quickly: 500 series per POST.
  std::string label(200, 'x');
  std::atomic<bool> stop{false};
  std::vector<double> latencies_ms;  // per POST the fast client saw
  std::thread reader([&] {
    std::set<int64_t> seen;  // POSTs (their ts) already counted
    while (!stop) {
      auto m = fast.read_data(500);
      if (!m || m->data.find("\"type\":\"samples\"") == std::string::npos) continue;
      int64_t now =
          std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
              .count();
      // POSTs close together (within frame_interval) share one message.
      for (size_t at = m->data.find("\"ts\":"); at != std::string::npos; at = m->data.find("\"ts\":", at + 5)) {
        int64_t ts = std::stoll(m->data.substr(at + 5, 24));
        if (seen.insert(ts).second) latencies_ms.push_back(static_cast<double>(now - ts) / 1e6);
      }
    }
  });
  auto start = Clock::now();
  int posts = 0;
  while (Clock::now() - start < std::chrono::seconds(4)) {
    int64_t now =
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    std::string json = "[";
    for (int i = 0; i < 500; ++i)
      json += std::string(i ? "," : "") + "{\"name\":\"load\",\"labels\":{\"pad\":\"" + label + "\",\"i\":\"" +
              std::to_string(i) + "\"},\"ts\":" + std::to_string(now) + ",\"value\":" + std::to_string(posts) + "}";
    json += "]";
    REQUIRE(http_request(port, "POST", "/api/telemetry", json, "Content-Type: application/json\r\n").status == 204);
    ++posts;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop = true;
  reader.join();
  auto metrics = http_request(port, "GET", "/api/performance/metrics").body;
  auto counter = [&](const std::string &name) {
    size_t at = metrics.find("\"" + name + "\"");
    if (at == std::string::npos) return -1.0;
    return std::stod(metrics.substr(metrics.find("\"value\":", at) + 8));
  };
  CHECK(counter("vitals_websocket_clients_coalesced_total") >= 1);
  CHECK(counter("vitals_websocket_clients_dropped_slow_total") == 1);
  // The slow client's connection is ended: what it finally reads runs out
  // (its close frame, if it ever gets that far, carries 1008).
  size_t slow_samples = 0;
  int code = 0;
  while (auto m = slow.read(2000)) {
    if (m->opcode == 8) code = m->close_code();
    if (m->opcode == 1 && m->data.find("\"coalesced\":false") != std::string::npos) ++slow_samples;
  }
  CHECK(slow.wait_closed(3000));
  CHECK((code == 0 || code == 1008));
  CHECK(slow_samples < static_cast<size_t>(posts));
  // The fast client saw (nearly) every POST, each promptly.
  REQUIRE(latencies_ms.size() >= static_cast<size_t>(posts) * 9 / 10);
  std::sort(latencies_ms.begin(), latencies_ms.end());
  double p99 = latencies_ms[latencies_ms.size() * 99 / 100];
  INFO("fast client p99 latency ms: " << p99 << " over " << latencies_ms.size() << " messages");
  CHECK(p99 < 250);
}

TEST_CASE("the WebSocket route takes the token as ?token= or a cookie, like every route") {
  AgentProcess agent(false);
  write_file(agent.data_dir() / "token", "s3cret\n");
  agent.write_config("00-http.toml", "[agent.http]\nlisten = \"127.0.0.1:0\"\ntoken_file = \"" +
                                         (agent.data_dir() / "token").string() + "\"\n");
  agent.write_config("live.toml", kLive);
  agent.start();
  uint16_t port = agent.http_port();
  REQUIRE(port != 0);
  CHECK(WsClient(port, "/api/stream").handshake_status() == 401);
  CHECK(WsClient(port, "/api/stream?token=wrong").handshake_status() == 401);
  CHECK(WsClient(port, "/api/stream?token=s3cret").handshake_status() == 101);
  CHECK(WsClient(port, "/api/stream", "Cookie: vitals_token=s3cret\r\n").handshake_status() == 101);
}

TEST_CASE("a request that is no WebSocket handshake is answered, not hung up on") {
  AgentProcess agent;
  agent.write_config("live.toml", kLive);
  agent.start();
  uint16_t port = agent.http_port();
  REQUIRE(port != 0);
  auto plain = http_request(port, "GET", "/api/stream");
  CHECK(plain.status == 426);
  CHECK(plain.header("sec-websocket-version") == "13");
  auto old = http_request(port, "GET", "/api/stream", "",
                          "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                          "Sec-WebSocket-Version: 8\r\n");
  CHECK(old.status == 426);
  CHECK(old.header("sec-websocket-version") == "13");
}

TEST_CASE("an SSE client reconnecting with Last-Event-ID receives exactly the events it missed") {
  AgentProcess agent;
  agent.write_config("live.toml", kLive);
  agent.start();
  uint16_t port = agent.http_port();
  REQUIRE(port != 0);
  std::string first;
  {
    RawSocket s(port);
    REQUIRE(s.send("GET /api/events?match=temp HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
    for (int i = 1; i <= 3; ++i) REQUIRE(post(port, "temp", 1'000 + i, i));
    while (values_of(first, "temp").size() < 3) {
      std::string chunk = s.read_all(500);
      if (chunk.empty()) break;
      first += chunk;
    }
  }  // the client goes away
  REQUIRE(values_of(first, "temp") == std::vector<int>{1, 2, 3});
  size_t id_at = first.rfind("id: ");
  std::string last_id = first.substr(id_at + 4, first.find('\n', id_at) - id_at - 4);
  for (int i = 4; i <= 6; ++i) REQUIRE(post(port, "temp", 1'000 + i, i));
  RawSocket again(port);
  REQUIRE(
      again.send("GET /api/events?match=temp HTTP/1.1\r\nHost: 127.0.0.1\r\nLast-Event-ID: " + last_id + "\r\n\r\n"));
  std::string resumed;
  while (values_of(resumed, "temp").size() < 3) {
    std::string chunk = again.read_all(500);
    if (chunk.empty()) break;
    resumed += chunk;
  }
  CHECK(values_of(resumed, "temp") == std::vector<int>{4, 5, 6});
  CHECK(resumed.find("event: reset") == std::string::npos);
}

TEST_CASE("past [agent.http] max_streams both live outputs answer 503; ingest and /healthz keep their slots") {
  AgentProcess agent;
  agent.write_config("00-test-http.toml",
                     "[agent.http]\nlisten = \"127.0.0.1:0\"\nmax_connections = 2\nmax_streams = 2\n");
  agent.write_config("live.toml", kLive);
  agent.start();
  uint16_t port = agent.http_port();
  REQUIRE(port != 0);
  WsClient ws(port, "/api/stream");
  REQUIRE(ws.handshake_status() == 101);
  REQUIRE(ws.read_data());  // hello
  ws.send_text(R"({"subscribe":["temp"]})");
  REQUIRE(ws.read_data());  // subscribed
  RawSocket sse(port);
  REQUIRE(sse.send("GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  REQUIRE(sse.read_all(500).rfind("HTTP/1.1 200", 0) == 0);

  // Both stream slots are taken: a third stream of either kind is refused
  // before it starts, each output's handle given back cleanly.
  WsClient refused_ws(port, "/api/stream");
  CHECK(refused_ws.handshake_status() == 503);
  CHECK(refused_ws.response_head().find("Retry-After: 1") != std::string::npos);
  CHECK(refused_ws.rest().find("max_streams") != std::string::npos);
  auto refused_sse = http_request(port, "GET", "/api/events");
  CHECK(refused_sse.status == 503);
  CHECK(refused_sse.body.find("max_streams") != std::string::npos);

  // The streams hold none of the two general slots: ingest and the probe
  // are served, and the open streams still get what is ingested.
  CHECK(http_request(port, "GET", "/healthz").status == 200);
  REQUIRE(post(port, "temp", 1'000, 7));
  std::string live;
  while (values_of(live, "temp").empty()) {
    auto m = ws.read_data(3000);
    if (!m) break;
    live += m->data;
  }
  CHECK(values_of(live, "temp") == std::vector<int>{7});
  std::string events;
  while (values_of(events, "temp").empty()) {
    std::string chunk = sse.read_all(500);
    if (chunk.empty()) break;
    events += chunk;
  }
  CHECK(values_of(events, "temp") == std::vector<int>{7});

  auto metrics = http_request(port, "GET", "/api/performance/metrics").body;
  auto value = [&](const std::string &name) {
    size_t at = metrics.find("\"" + name + "\"");
    if (at == std::string::npos) return -1.0;
    return std::stod(metrics.substr(metrics.find("\"value\":", at) + 8));
  };
  CHECK(value("vitals_http_streams_rejected_total") == 2);
  CHECK(value("vitals_http_streams_active") == 2);
  CHECK(value("vitals_http_connections_rejected_total") == 0);
  CHECK(value("vitals_websocket_clients") == 1);
  CHECK(value("vitals_sse_clients") == 1);
}

TEST_CASE("promtool accepts the /metrics the agent serves") {
  AgentProcess agent;
  agent.write_config("live.toml", kLive);
  agent.start();
  uint16_t port = agent.http_port();
  REQUIRE(port != 0);
  REQUIRE(post(port, "room temp.celsius", 1'700'000'000'000'000'000, 21));
  REQUIRE(
      http_request(port, "POST", "/api/telemetry",
                   R"([{"name":"disk_free","labels":{"dev":"sda\"1","mount":"/"},"ts":1700000000000000000,"value":5}])",
                   "Content-Type: application/json\r\n")
          .status == 204);
  auto metrics = http_request(port, "GET", "/metrics");
  REQUIRE(metrics.status == 200);
  CHECK(metrics.body.find("disk_free{") != std::string::npos);
  fs::path file = agent.data_dir() / "metrics.txt";
  write_file(file, metrics.body);
  std::string out = run("promtool check metrics < " + file.string() + " 2>&1");
  INFO(metrics.body);
  INFO(out);
  CHECK(out.rfind("exit=0", 0) == 0);
}
