// The dashboard output behind the agent's real HTTP server: gzip when the
// browser accepts it, HEAD, 304, 404 and 405, the token cookie, and the web
// files the build put beside the plugin.
#include <doctest/doctest.h>
#include <zlib.h>

#include <string>

#include "agent_process.hpp"
#include "http_client.hpp"

using namespace vitals::test;

namespace {

std::string gunzip(const std::string &in) {
  z_stream zs{};
  REQUIRE(inflateInit2(&zs, 15 + 16) == Z_OK);
  zs.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  std::string out;
  char buf[16384];
  int rc = Z_OK;
  while (rc == Z_OK) {
    zs.next_out = reinterpret_cast<Bytef *>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(buf, sizeof buf - zs.avail_out);
  }
  inflateEnd(&zs);
  CHECK(rc == Z_STREAM_END);
  return out;
}

// Large and repetitive: worth compressing.
std::string script() {
  std::string s;
  for (int i = 0; i < 400; ++i) s += "export const value" + std::to_string(i) + " = " + std::to_string(i * 7) + ";\n";
  return s;
}

// An agent serving a small site from its data dir (plus a secret beside it).
struct SiteAgent {
  explicit SiteAgent(const std::string &http_extra = "") : agent(false) {
    write_file(agent.data_dir() / "web/index.html", "<!doctype html><title>Vitals</title>");
    write_file(agent.data_dir() / "web/assets/main-ABCDEFGH.js", script());
    write_file(agent.data_dir() / "secret.txt", "top secret");
    agent.write_config("00-http.toml", "[agent.http]\nlisten = \"127.0.0.1:0\"\n" + http_extra);
    agent.write_config("dashboard.toml",
                       "[output.dashboard]\ninputs = []\nroot = \"" + (agent.data_dir() / "web").string() + "\"\n");
    agent.start();
    port = agent.http_port();
  }
  AgentProcess agent;
  uint16_t port = 0;
};

}  // namespace

TEST_CASE("the agent gzips dashboard assets for browsers that accept it") {
  SiteAgent site;
  REQUIRE(site.port != 0);
  auto plain = http_request(site.port, "GET", "/dashboard/assets/main-ABCDEFGH.js");
  REQUIRE(plain.status == 200);
  CHECK(plain.body == script());
  CHECK(plain.header("content-encoding").empty());
  CHECK(plain.header("content-type") == "text/javascript; charset=utf-8");
  CHECK(plain.header("cache-control") == "public, max-age=31536000, immutable");

  auto zipped = http_request(site.port, "GET", "/dashboard/assets/main-ABCDEFGH.js", "",
                             "Accept-Encoding: gzip, deflate, br\r\n");
  REQUIRE(zipped.status == 200);
  CHECK(zipped.header("content-encoding") == "gzip");
  CHECK(zipped.header("vary") == "Accept-Encoding");
  CHECK(zipped.header("etag") == plain.header("etag"));
  CHECK(zipped.body.size() < plain.body.size() / 2);
  CHECK(gunzip(zipped.body) == script());
}

TEST_CASE("the agent answers HEAD, 304, 404 and 405 for the dashboard") {
  SiteAgent site;
  REQUIRE(site.port != 0);
  auto index = http_request(site.port, "GET", "/");
  REQUIRE(index.status == 200);
  CHECK(index.body == "<!doctype html><title>Vitals</title>");
  CHECK(index.header("cache-control") == "no-cache");
  std::string etag = index.header("etag");
  REQUIRE_FALSE(etag.empty());

  CHECK(http_request(site.port, "GET", "/dashboard").body == index.body);
  auto head = http_request(site.port, "HEAD", "/dashboard/");
  CHECK(head.status == 200);
  CHECK(head.body.empty());
  CHECK(head.header("content-length") == std::to_string(index.body.size()));

  auto cached = http_request(site.port, "GET", "/", "", "If-None-Match: " + etag + "\r\n");
  CHECK(cached.status == 304);
  CHECK(cached.body.empty());
  CHECK(cached.header("etag") == etag);

  CHECK(http_request(site.port, "GET", "/dashboard/missing.js").status == 404);
  // Dot segments: the server refuses them (400) before routing, or the
  // dashboard finds no such file (404); never the file beside the root.
  for (const char *path : {"/dashboard/%2e%2e/secret.txt", "/dashboard/../secret.txt",
                           "/dashboard/assets/..%2F..%2Fsecret.txt", "/dashboard/assets/%2E%2E/%2E%2E/secret.txt"}) {
    INFO(path);
    auto r = http_request(site.port, "GET", path);
    CHECK((r.status == 404 || r.status == 400));
    CHECK(r.body.find("top secret") == std::string::npos);
  }
  CHECK(http_request(site.port, "POST", "/", "x").status == 405);
}

TEST_CASE("with a token, the dashboard page hands it to the browser as a cookie") {
  TempDir dir;
  write_file(dir.path() / "token", "s3cret\n");
  SiteAgent site("token_file = \"" + (dir.path() / "token").string() + "\"\n");
  REQUIRE(site.port != 0);
  CHECK(http_request(site.port, "GET", "/").status == 401);
  auto page = http_request(site.port, "GET", "/?token=s3cret");
  CHECK(page.status == 200);
  CHECK(page.header("set-cookie") == "vitals_token=s3cret; Path=/; HttpOnly; SameSite=Strict");
  CHECK(http_request(site.port, "GET", "/?token=wrong").status == 401);
  CHECK(http_request(site.port, "GET", "/dashboard/assets/main-ABCDEFGH.js").status == 401);
  CHECK(http_request(site.port, "GET", "/dashboard/assets/main-ABCDEFGH.js", "", "Cookie: vitals_token=s3cret\r\n")
            .status == 200);
}

TEST_CASE("run from the build tree, the agent serves the dashboard the build made") {
  AgentProcess agent;
  agent.write_config("dashboard.toml", "[output.dashboard]\ninputs = []\n");
  agent.start();
  uint16_t port = agent.http_port();
  REQUIRE(port != 0);
  auto index = http_request(port, "GET", "/", "", "Accept-Encoding: gzip\r\n");
  REQUIRE(index.status == 200);
  CHECK(index.header("content-type") == "text/html; charset=utf-8");
  CHECK(index.header("content-encoding") == "gzip");
  std::string html = gunzip(index.body);
  size_t at = html.find("src=\"/dashboard/assets/main-");
  REQUIRE(at != std::string::npos);
  at += 5;
  std::string bundle = html.substr(at, html.find('"', at) - at);
  auto js = http_request(port, "GET", bundle, "", "Accept-Encoding: gzip\r\n");
  CHECK(js.status == 200);
  CHECK(js.header("content-encoding") == "gzip");
  CHECK(gunzip(js.body).find("u-legend") != std::string::npos);  // uPlot is in the bundle
  agent.signal(SIGTERM);
  CHECK(agent.wait_exit() == 0);
}
