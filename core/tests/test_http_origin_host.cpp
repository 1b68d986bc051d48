// What a web page may do to an agent on 127.0.0.1, over real sockets: a
// foreign page's writes and WebSocket handshakes carry its Origin and are
// refused (403); a DNS-rebinding page reaches us under its own host name and
// is refused by the Host check (421).
#include <doctest/doctest.h>

#include "http_test_support.hpp"

using namespace vitals::core;
using namespace vitals::testing;

namespace {

std::vector<ParsedResponse> ask(Harness &h, const std::vector<std::string> &requests) {
  std::vector<ParsedResponse> out;
  h.run([&] {
    for (const auto &req : requests) {
      TestClient c(h.port());
      c.send(req);
      out.push_back(c.read_response());
    }
  });
  REQUIRE(out.size() == requests.size());
  return out;
}

std::string request(const std::string &method, const std::string &host, const std::string &extra = "") {
  return method + " /api/thing HTTP/1.1\r\nHost: " + host + "\r\n" + extra + "Content-Length: 0\r\n\r\n";
}

std::string upgrade(const std::string &host, const std::string &origin) {
  return "GET /api/thing HTTP/1.1\r\nHost: " + host +
         "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: " +
         origin + "\r\n\r\n";
}

HttpHandler answer_ok(int &handled) {
  return [&handled](const HttpRequest &, std::shared_ptr<HttpResponse> res) {
    ++handled;
    res->send(200, "text/plain", "ok");
  };
}

}  // namespace

TEST_CASE("on a loopback address only local names and IP literals are served as Host (DNS rebinding)") {
  Harness h;  // 127.0.0.1
  int handled = 0;
  h.route("GET", "/api/thing", answer_ok(handled));
  std::string port = std::to_string(h.port());
  auto r = ask(h, {
                      request("GET", "attacker.example:" + port),
                      request("GET", "127.0.0.1:" + port),
                      request("GET", "localhost:" + port),
                      request("GET", "LOCALHOST"),
                      request("GET", "[::1]:" + port),
                      request("GET", "192.0.2.7"),  // an IP literal cannot be rebound
                      request("GET", "app.localhost:" + port),
                  });
  CHECK(r[0].status == 421);
  CHECK(r[0].body.find("allowed_hosts") != std::string::npos);
  for (size_t i = 1; i < r.size(); ++i) CHECK(r[i].status == 200);
  CHECK(handled == 6);
}

TEST_CASE("a write or WebSocket handshake from a foreign Origin gets 403; same-origin and no Origin pass") {
  Harness h;
  int handled = 0;
  h.route("POST", "/api/thing", answer_ok(handled));
  h.route("GET", "/api/thing", answer_ok(handled));
  std::string host = "127.0.0.1:" + std::to_string(h.port());
  auto r = ask(
      h, {
             request("POST", host, "Origin: http://attacker.example\r\n"), request("POST", host, "Origin: null\r\n"),
             upgrade(host, "http://attacker.example"), request("POST", host, "Origin: http://" + host + "\r\n"),
             request("POST", host),  // curl, Telegraf: no Origin at all
             request("GET", host,
                     "Origin: http://attacker.example\r\n"),  // reads: the browser keeps the answer from the page
             request("POST", "localhost:" + std::to_string(h.port()),
                     "Origin: http://localhost:" + std::to_string(h.port()) + "\r\n"),
             request("POST", host, "Origin: http://127.0.0.1:1\r\n"),  // another port is another origin
         });
  CHECK(r[0].status == 403);
  CHECK(r[0].body.find("Origin") != std::string::npos);
  CHECK(r[1].status == 403);
  CHECK(r[2].status == 403);
  CHECK(r[3].status == 200);
  CHECK(r[4].status == 200);
  CHECK(r[5].status == 200);
  CHECK(r[6].status == 200);
  CHECK(r[7].status == 403);
  CHECK(handled == 4);
}
