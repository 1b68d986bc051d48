// The HTTP server's defences over real sockets: body and header limits,
// slowloris and idle timeouts, the connection cap.
#include <doctest/doctest.h>

#include <atomic>

#include "http_test_support.hpp"

using namespace vitals::core;
using namespace vitals::testing;

TEST_CASE("a Content-Length over the limit gets 413 before the body is sent") {
  auto config = test_config();
  config.max_body_bytes = 1024;
  Harness h(config);
  bool called = false;
  h.route("POST", "/in", [&](const HttpRequest &, std::shared_ptr<HttpResponse> res) {
    called = true;
    res->send(204, "text/plain", "");
  });
  ParsedResponse r;
  bool closed = false;
  h.run([&] {
    TestClient c(h.port());
    c.send("POST /in HTTP/1.1\r\nHost: t\r\nContent-Length: 104857600\r\n\r\n");  // and no body at all
    r = c.read_response();
    closed = c.wait_closed(1000);
  });
  CHECK(r.status == 413);
  CHECK(r.body.find("larger than 1024 bytes") != std::string::npos);
  CHECK(closed);
  CHECK_FALSE(called);
}

TEST_CASE("oversized headers and too many headers get 431") {
  auto config = test_config();
  config.max_header_bytes = 4096;
  config.max_header_count = 10;
  Harness h(config);
  h.route("GET", "/x", text("x"));
  ParsedResponse big, many, fine;
  h.run([&] {
    TestClient a(h.port());
    a.send(get_request("/x", "X-Big: " + std::string(5000, 'v') + "\r\n"));
    big = a.read_response();
    TestClient b(h.port());
    std::string lots;
    for (int i = 0; i < 11; ++i) lots += "X-H" + std::to_string(i) + ": v\r\n";
    b.send(get_request("/x", lots));
    many = b.read_response();
    TestClient c(h.port());
    c.send(get_request("/x", "X-Ok: " + std::string(3000, 'v') + "\r\n"));
    fine = c.read_response();
  });
  CHECK(big.status == 431);
  CHECK(many.status == 431);
  CHECK(many.body.find("more than 10 header fields") != std::string::npos);
  CHECK(fine.status == 200);
}

TEST_CASE("a slowloris client is cut off after header_timeout while others are served") {
  Harness h;  // header_timeout_ms = 300
  h.route("GET", "/x", text("x"));
  ParsedResponse slow_answer, normal;
  int64_t slow_cut_ms = 0, normal_done_ms = 0;
  auto t0 = Clock::now();
  h.run({[&] {
           TestClient c(h.port());
           std::string request = get_request("/x", "X-Padding: " + std::string(40, 'p') + "\r\n");
           for (char ch : request) {  // one byte every 100 ms: never finishes in time
             if (!c.send(std::string_view(&ch, 1)) || c.readable(100)) break;
           }
           slow_answer = c.read_response();
           slow_cut_ms = ms_since(t0);
         },
         [&] {
           std::this_thread::sleep_for(std::chrono::milliseconds(100));
           TestClient c(h.port());
           c.send(get_request("/x"));
           normal = c.read_response();
           normal_done_ms = ms_since(t0);
         }});
  CHECK(slow_answer.status == 408);
  CHECK(slow_cut_ms >= 280);
  CHECK(slow_cut_ms < 1500);
  CHECK(normal.status == 200);
  CHECK(normal_done_ms < 280);  // served while the slow client was still trickling
  CHECK(h.server->stats().request_timeouts == 1);
}

TEST_CASE("a connection that never sends a request is closed after header_timeout") {
  Harness h;  // header_timeout_ms = 300
  bool closed = false;
  int64_t waited_ms = 0;
  h.run([&] {
    TestClient c(h.port());
    auto t = Clock::now();
    closed = c.wait_closed(2000);
    waited_ms = ms_since(t);
  });
  CHECK(closed);
  CHECK(waited_ms >= 250);
  CHECK(waited_ms < 1000);
}

TEST_CASE("an idle keep-alive connection is closed after idle_timeout") {
  auto config = test_config();
  config.idle_timeout_ms = 200;
  Harness h(config);
  h.route("GET", "/x", text("x"));
  ParsedResponse r;
  bool closed = false;
  int64_t idle_ms = 0;
  h.run([&] {
    TestClient c(h.port());
    c.send(get_request("/x"));
    r = c.read_response();
    auto t = Clock::now();
    closed = c.wait_closed(2000);
    idle_ms = ms_since(t);
  });
  CHECK(r.status == 200);
  CHECK(closed);
  CHECK(idle_ms >= 150);
  CHECK(idle_ms < 1000);
  CHECK(h.server->stats().idle_timeouts == 1);
}

TEST_CASE("connections beyond max_connections, none idle and no probe slot free, get 503 and are counted") {
  auto config = test_config();
  config.max_connections = 2;
  config.probe_slots = 0;
  Harness h(config);
  h.route("GET", "/x", text("x"));
  // Busy connections: an idle one would be closed to make room instead.
  std::atomic<int> busy{0};
  std::vector<std::shared_ptr<HttpResponse>> unanswered;  // loop thread only
  h.route("GET", "/hang", [&](const HttpRequest &, std::shared_ptr<HttpResponse> res) {
    unanswered.push_back(std::move(res));
    ++busy;
  });
  ParsedResponse refused, later;
  bool both_busy = false, served_later = false;
  h.run([&] {
    TestClient a(h.port()), b(h.port());
    a.send(get_request("/hang"));
    b.send(get_request("/hang"));
    both_busy = eventually([&] { return busy.load() == 2; });
    TestClient c(h.port());
    refused = c.read_response();
    a.close();
    // a's slot is free once the server has seen it go.
    served_later = eventually([&] {
      TestClient d(h.port());
      d.send(get_request("/x"));
      later = d.read_response();
      return later.status == 200;
    });
  });
  CHECK(both_busy);
  CHECK(refused.status == 503);
  CHECK(refused.header("retry-after") == "1");
  CHECK(refused.has("x-process-time"));
  CHECK(refused.has("date"));
  CHECK(served_later);
  CHECK(h.server->stats().connections_rejected >= 1);
  CHECK(h.server->stats().connections_evicted == 0);
}

TEST_CASE("a handler that never answers costs a 504 after response_timeout, not the connection") {
  auto config = test_config();
  config.response_timeout_ms = 300;
  Harness h(config);
  std::shared_ptr<HttpResponse> kept;  // the handler holds its response and never answers
  h.route("GET", "/hang", [&](const HttpRequest &, std::shared_ptr<HttpResponse> res) { kept = res; });
  h.route("GET", "/x", text("x"));
  // A stream that has begun owns its pace: it outlives the timeout.
  h.route("GET", "/stream", [&](const HttpRequest &, std::shared_ptr<HttpResponse> res) {
    res->start(200, HttpHeaders{{"Content-Type", "text/plain"}});
    res->write("begun\n");
    after(&h.loop, 600, [res] {
      res->write("still here\n");
      res->end();
    });
  });
  ParsedResponse hung, behind, stream;
  int64_t hung_ms = 0;
  h.run([&] {
    TestClient c(h.port());
    auto t = Clock::now();
    c.send(get_request("/hang") + get_request("/x"));  // the second waits behind the first
    hung = c.read_response();
    hung_ms = ms_since(t);
    behind = c.read_response();
    TestClient d(h.port());
    d.send(get_request("/stream"));
    stream = d.read_response();
  });
  CHECK(hung.status == 504);
  CHECK(hung.body.find("did not answer within response_timeout") != std::string::npos);
  CHECK(hung_ms >= 250);
  CHECK(hung_ms < 1500);
  CHECK(behind.status == 200);  // the connection, and the request queued behind, carry on
  CHECK(behind.body == "x");
  CHECK(stream.status == 200);
  CHECK(stream.body == "begun\nstill here\n");
  CHECK(h.server->stats().response_timeouts == 1);
  // The handler's answer, arriving after all, is dropped harmlessly.
  REQUIRE(kept);
  kept->send(200, "text/plain", "too late");
  CHECK(kept->finished());
}

TEST_CASE("a body trickling slower than min_body_rate gets 408; one at the rate is served") {
  auto config = test_config();
  config.header_timeout_ms = 1'000;  // the body's grace
  config.min_body_rate = 1000;       // bytes/s
  config.idle_timeout_ms = 5'000;
  Harness h(config);
  size_t received = 0;
  h.route("POST", "/in", [&](const HttpRequest &req, std::shared_ptr<HttpResponse> res) {
    received = req.body.size();
    res->send(204, "text/plain", "");
  });
  // Trickles `total` bytes in pieces of `piece` every 100 ms; returns the answer.
  auto trickle = [&](size_t total, size_t piece, int64_t &elapsed_ms) {
    TestClient c(h.port(), 5'000);
    auto t = Clock::now();
    c.send("POST /in HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(total) + "\r\n\r\n");
    for (size_t sent = 0; sent < total; sent += piece) {
      if (c.readable(100)) break;  // answered (cut off) before the body was all sent
      if (!c.send(std::string(std::min(piece, total - sent), 'x'))) break;
    }
    ParsedResponse r = c.read_response();
    elapsed_ms = ms_since(t);
    return r;
  };
  ParsedResponse slow, steady;
  int64_t slow_ms = 0, steady_ms = 0;
  h.run([&] {
    // 200 bytes/s: every read arrives well within idle_timeout, but the
    // body falls behind 1 s + bytes/1000 after about 1.25 s.
    slow = trickle(20'000, 20, slow_ms);
    // 5,000 bytes/s for 0.6 s: far ahead of the minimum, even with stalls.
    steady = trickle(3'000, 500, steady_ms);
  });
  CHECK(slow.status == 408);
  CHECK(slow.body.find("slower than min_body_rate (1000 bytes/s)") != std::string::npos);
  CHECK(slow_ms >= 900);
  CHECK(slow_ms < 3'500);
  CHECK(steady.status == 204);
  CHECK(received == 3'000);
  CHECK(steady_ms >= 500);
  CHECK(h.server->stats().request_timeouts == 1);
}

TEST_CASE("a pipelining client that never reads its answers stops being read: its output stays bounded") {
  auto config = test_config();
  config.idle_timeout_ms = 10'000;
  Harness h(config);
  std::atomic<int> answered{0};
  std::string four_kib(4096, 'a');
  h.route("GET", "/big", [&](const HttpRequest &, std::shared_ptr<HttpResponse> res) {
    ++answered;
    res->send(200, "text/plain", four_kib);
  });
  h.run([&] {
    int fd = connect_raw(h.port(), 300);
    REQUIRE(fd >= 0);
    std::string requests;
    for (int i = 0; i < 1000; ++i) requests += get_request("/big");
    // 40,000 requests would be 160 MB of answers that nobody reads.
    for (int round = 0; round < 40; ++round)
      if (::send(fd, requests.data(), requests.size(), MSG_NOSIGNAL) <= 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    ::close(fd);
  });
  // The kernel's socket buffers on loopback plus the server's bound hold a
  // few thousand 4 KiB answers at most.
  CHECK(answered.load() < 8000);
}

TEST_CASE("a pipelining client that reads slowly gets every answer, in order, past the output bound") {
  auto config = test_config();
  config.max_output_buffer = 16 * 1024;
  Harness h(config);
  std::string body(4096, 'b');
  h.route("GET", "/big", text(body));
  int complete = 0;
  h.run([&] {
    TestClient c(h.port());
    std::string requests;
    for (int i = 0; i < 300; ++i) requests += get_request("/big");
    std::thread sender([&] { c.send(requests); });
    for (int i = 0; i < 300; ++i) {
      if (i % 50 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a slow reader
      ParsedResponse r = c.read_response();
      if (r.status == 200 && r.body == body) ++complete;
    }
    sender.join();
  });
  CHECK(complete == 300);
}

TEST_CASE("a fast start buys one window: a body that bursts then trickles still gets 408") {
  auto config = test_config();
  config.header_timeout_ms = 1'000;  // the rate window
  config.min_body_rate = 1000;       // bytes/s: 1,000 bytes per window
  config.idle_timeout_ms = 10'000;
  Harness h(config);
  h.route("POST", "/in",
          [&](const HttpRequest &, std::shared_ptr<HttpResponse> res) { res->send(204, "text/plain", ""); });
  ParsedResponse r;
  int64_t cut_ms = 0;
  h.run([&] {
    TestClient c(h.port(), 8'000);
    auto t = Clock::now();
    size_t total = 200'000;
    c.send("POST /in HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(total) + "\r\n\r\n");
    c.send(std::string(100'000, 'x'));  // a cumulative average would allow 100 s of trickling after this
    for (size_t sent = 100'000; sent < total; sent += 20) {
      if (c.readable(100)) break;
      if (!c.send(std::string(20, 'x'))) break;
    }
    r = c.read_response();
    cut_ms = ms_since(t);
  });
  CHECK(r.status == 408);
  CHECK(cut_ms < 4'000);
}

TEST_CASE("request bodies in flight are bounded over all connections: the one past the bound gets 503") {
  auto config = test_config();
  config.max_bodies_in_flight = 100'000;
  config.header_timeout_ms = 5'000;
  config.min_body_rate = 0;
  Harness h(config);
  h.route("POST", "/in",
          [&](const HttpRequest &, std::shared_ptr<HttpResponse> res) { res->send(204, "text/plain", ""); });
  ParsedResponse third, after;
  h.run([&] {
    // Two clients announce 40 KB each and send 35 KB: 70 KB held.
    TestClient a(h.port()), b(h.port());
    for (TestClient *c : {&a, &b}) {
      c->send("POST /in HTTP/1.1\r\nHost: t\r\nContent-Length: 40000\r\n\r\n");
      c->send(std::string(35'000, 'x'));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    TestClient c(h.port());
    c.send("POST /in HTTP/1.1\r\nHost: t\r\nContent-Length: 40000\r\n\r\n");
    c.send(std::string(40'000, 'z'));  // bodies count as they arrive: this one passes the bound
    third = c.read_response();
    // The first two finish: their share is released, the next one fits.
    a.send(std::string(5'000, 'x'));
    b.send(std::string(5'000, 'x'));
    CHECK(a.read_response().status == 204);
    CHECK(b.read_response().status == 204);
    TestClient d(h.port());
    d.send("POST /in HTTP/1.1\r\nHost: t\r\nContent-Length: 40000\r\n\r\n" + std::string(40'000, 'y'));
    after = d.read_response();
  });
  CHECK(third.status == 503);
  CHECK(third.body.find("max_bodies_in_flight") != std::string::npos);
  CHECK(after.status == 204);
  CHECK(h.server->stats().bodies_refused == 1);
}

TEST_CASE("a connection paused because its answers are not read is closed after idle_timeout") {
  auto config = test_config();
  config.idle_timeout_ms = 300;
  config.max_output_buffer = 16 * 1024;
  Harness h(config);
  std::string big(64 * 1024, 'c');
  h.route("GET", "/big", text(big));
  h.run([&] {
    int fd = connect_raw(h.port(), 300);
    REQUIRE(fd >= 0);
    std::string requests;
    for (int i = 0; i < 200; ++i) requests += get_request("/big");  // 12.8 MB of answers
    ::send(fd, requests.data(), requests.size(), MSG_NOSIGNAL);
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // never reads
    ::close(fd);
  });
  // Paused for output with nothing pending at the handlers, the connection
  // is idle on the client's side and must not be held forever.
  CHECK(h.server->stats().idle_timeouts >= 1);
}
