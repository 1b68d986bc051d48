// Telegraf's InfluxDB outputs against the real binary, with requests shaped
// as Telegraf sends them (its Go client: chunked, gzip, text/plain, the
// credentials of its config): outputs.influxdb (v1) and outputs.influxdb_v2
// with their defaults, and the health probes InfluxDB clients use. Telegraf
// drops a batch on any 4xx, so every one of these must be a 2xx.
#include <doctest/doctest.h>
#include <zlib.h>

#include <chrono>
#include <thread>

#include "agent_process.hpp"
#include "http_client.hpp"

using namespace vitals::test;

namespace {

std::string gzip(const std::string &input) {
  z_stream zs{};
  REQUIRE(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&zs, static_cast<uLong>(input.size())) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(input.data()));
  zs.avail_in = static_cast<uInt>(input.size());
  zs.next_out = reinterpret_cast<Bytef *>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

// Go's net/http sends a body of unknown length (Telegraf's gzip pipe, its
// NopCloser-wrapped buffer) chunked.
std::string chunked(const std::string &body) {
  char size[32];
  std::snprintf(size, sizeof size, "%zx", body.size());
  return std::string(size) + "\r\n" + body + "\r\n0\r\n\r\n";
}

HttpReply telegraf_post(uint16_t port, const std::string &target, const std::string &auth, const std::string &lines) {
  RawSocket s(port);
  REQUIRE(s.connected());
  std::string req = "POST " + target + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                    "\r\nUser-Agent: Telegraf/1.30.0 Go/1.22.1\r\nTransfer-Encoding: chunked\r\n" + auth +
                    "Content-Encoding: gzip\r\nContent-Type: text/plain; charset=utf-8\r\n"
                    "Accept-Encoding: gzip\r\nConnection: close\r\n\r\n" +
                    chunked(gzip(lines));
  REQUIRE(s.send(req));
  return parse_reply(s.read_all());
}

int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

const std::string kTelemetry = R"(
[input.telemetry]
plugin = "http_telemetry"

[storage.local]
plugin = "sqlite"
inputs = ["telemetry"]
path = "metrics.db"
)";

}  // namespace

TEST_CASE("Telegraf's influxdb and influxdb_v2 outputs write with their defaults; /ping and /health answer") {
  AgentProcess agent(false);
  write_file(agent.data_dir() / "token", "s3cret\n");
  agent.write_config("00-http.toml", "[agent.http]\nlisten = \"127.0.0.1:0\"\ntoken_file = \"" +
                                         (agent.data_dir() / "token").string() + "\"\n");
  agent.write_config("p.toml", kTelemetry);
  agent.start();
  uint16_t port = agent.http_port();
  REQUIRE(port != 0);

  const std::string ts = std::to_string(now_s()) + "000000000";
  // outputs.influxdb with username = "telegraf", password = the token:
  // base64("telegraf:s3cret").
  auto v1 = telegraf_post(port, "/write?db=telegraf", "Authorization: Basic dGVsZWdyYWY6czNjcmV0\r\n",
                          "tg,host=a v1=1 " + ts + "\n");
  CHECK(v1.status == 204);
  INFO(v1.body);
  // The same output with the password in the query (u=, p=) instead.
  auto v1_query = telegraf_post(port, "/write?db=telegraf&u=telegraf&p=s3cret", "", "tg,host=a v1q=2 " + ts + "\n");
  CHECK(v1_query.status == 204);
  // outputs.influxdb with urls = ["http://127.0.0.1:8470/api"].
  auto v1_api = telegraf_post(port, "/api/write?db=telegraf", "Authorization: Basic dGVsZWdyYWY6czNjcmV0\r\n",
                              "tg,host=a v1api=3 " + ts + "\n");
  CHECK(v1_api.status == 204);
  // outputs.influxdb_v2: token = the token.
  auto v2 = telegraf_post(port, "/api/v2/write?bucket=telegraf&org=vitals", "Authorization: Token s3cret\r\n",
                          "tg,host=a v2=4 " + ts + "\n");
  CHECK(v2.status == 204);
  auto v2_wrong = telegraf_post(port, "/api/v2/write?bucket=telegraf&org=vitals", "Authorization: Token wrong\r\n",
                                "tg,host=a v2=5 " + ts + "\n");
  CHECK(v2_wrong.status == 401);

  auto ping = http_request(port, "GET", "/ping");
  CHECK(ping.status == 204);
  CHECK(!ping.header("x-influxdb-version").empty());
  CHECK(http_request(port, "HEAD", "/ping").status == 204);
  auto health = http_request(port, "GET", "/health");
  CHECK(health.status == 200);
  CHECK(health.body.find("pass") != std::string::npos);

  auto stored =
      http_request(port, "GET", "/api/series?match=%7Bhost%3D%22a%22%7D", "", "Authorization: Bearer s3cret\r\n");
  CHECK(stored.status == 200);
  for (const char *name : {"tg_v1", "tg_v1q", "tg_v1api", "tg_v2"}) {
    INFO(name);
    CHECK(stored.body.find(std::string("\"") + name + "{") != std::string::npos);
  }
  CHECK(stored.body.find("tg_v2{host=\\\"a\\\"}") != std::string::npos);
}
