// The HTTP server's protocol over real sockets: round trips, routing answers,
// decoding, keep-alive and pipelining, chunked bodies, HTTP/1.0.
#include <doctest/doctest.h>

#include <regex>

#include "http_test_support.hpp"

using namespace vitals::core;
using namespace vitals::testing;

TEST_CASE("GET and POST round trip with Date, Content-Length and X-Process-Time") {
  Harness h;
  std::string seen_remote, seen_body, seen_type;
  h.route("GET", "/hello", text("hi"));
  h.route("POST", "/echo", [&](const HttpRequest &req, std::shared_ptr<HttpResponse> res) {
    seen_remote = req.remote_address;
    seen_body = req.body;
    seen_type = std::string(req.header("content-type").value_or(""));
    res->send(201, "application/json", "{\"got\":" + std::to_string(req.body.size()) + "}");
  });
  ParsedResponse get, post;
  h.run([&] {
    TestClient c(h.port());
    c.send(get_request("/hello"));
    get = c.read_response();
    c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello");
    post = c.read_response();
  });
  CHECK(get.status == 200);
  CHECK(get.body == "hi");
  CHECK(get.header("content-length") == "2");
  CHECK(get.header("content-type") == "text/plain");
  CHECK(std::regex_match(get.header("x-process-time"), std::regex(R"(\d+\.\d\dms)")));
  CHECK(std::regex_match(get.header("date"), std::regex(R"(\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT)")));
  CHECK_FALSE(get.has("connection"));  // HTTP/1.1 keep-alive is the default
  CHECK(post.status == 201);
  CHECK(post.body == "{\"got\":5}");
  CHECK(post.has("x-process-time"));
  CHECK(seen_body == "hello");
  CHECK(seen_type == "text/plain");
  CHECK(seen_remote.rfind("127.0.0.1:", 0) == 0);
  CHECK(h.server->stats().requests == 2);
  CHECK(h.server->stats().responses_by_class[1] == 2);
}

TEST_CASE("unknown path is 404, wrong method 405 with Allow, HEAD is GET without a body") {
  Harness h;
  h.route("GET", "/thing", text("twelve bytes"));
  h.route("PUT", "/thing", text("put"));
  ParsedResponse missing, wrong, head, after_head, bad_path;
  h.run([&] {
    TestClient c(h.port());
    c.send(get_request("/nope"));
    missing = c.read_response();
    c.send("DELETE /thing HTTP/1.1\r\nHost: t\r\n\r\n");
    wrong = c.read_response();
    c.send("HEAD /thing HTTP/1.1\r\nHost: t\r\n\r\n");
    head = c.read_response(true);
    c.send(get_request("/thing"));  // the connection is still in step after HEAD
    after_head = c.read_response();
    c.send(get_request("/a/../thing"));
    bad_path = c.read_response();
  });
  CHECK(missing.status == 404);
  CHECK(missing.body.find("not found") != std::string::npos);
  CHECK(wrong.status == 405);
  CHECK(wrong.header("allow") == "GET, HEAD, PUT");
  CHECK(head.status == 200);
  CHECK(head.header("content-length") == "12");
  CHECK(head.body.empty());
  CHECK(after_head.body == "twelve bytes");
  CHECK(bad_path.status == 400);
}

TEST_CASE("query strings and paths are decoded") {
  Harness h;
  HttpRequest seen;
  h.route("GET", "/api/*", [&](const HttpRequest &req, std::shared_ptr<HttpResponse> res) {
    seen = req;
    res->send(200, "text/plain", "ok");
  });
  ParsedResponse r;
  h.run([&] {
    TestClient c(h.port());
    c.send(get_request("/api/a%20b?match=cpu%7Bhost%3D%22x%22%7D&q=a+b%2Bc&flag&q=2"));
    r = c.read_response();
  });
  CHECK(r.status == 200);
  CHECK(seen.path == "/api/a b");
  CHECK(seen.route == "/api/*");
  CHECK(seen.query_string == "match=cpu%7Bhost%3D%22x%22%7D&q=a+b%2Bc&flag&q=2");
  CHECK(seen.param("match") == "cpu{host=\"x\"}");
  CHECK(seen.param("q") == "a b+c");
  CHECK(seen.query.count("q") == 2);
  CHECK(seen.param("flag") == "");
  CHECK_FALSE(seen.param("missing").has_value());
}

TEST_CASE("keep-alive serves several requests on one connection") {
  Harness h;
  int n = 0;
  h.route("GET", "/count", [&](const HttpRequest &, std::shared_ptr<HttpResponse> res) {
    res->send(200, "text/plain", std::to_string(++n));
  });
  std::vector<std::string> bodies;
  h.run([&] {
    TestClient c(h.port());
    for (int i = 0; i < 5; ++i) {
      c.send(get_request("/count"));
      bodies.push_back(c.read_response().body);
    }
  });
  CHECK(bodies == std::vector<std::string>{"1", "2", "3", "4", "5"});
  CHECK(h.server->stats().connections_accepted == 1);
}

TEST_CASE("HTTP/1.0 closes unless it asks for keep-alive; HTTP/1.1 keeps unless asked to close") {
  Harness h;
  h.route("GET", "/x", text("x"));
  ParsedResponse plain, kept, asked_close;
  bool closed = false, closed_11 = false;
  h.run([&] {
    TestClient a(h.port());
    a.send("GET /x HTTP/1.0\r\n\r\n");
    plain = a.read_response();
    closed = a.wait_closed(1000);
    TestClient b(h.port());
    b.send("GET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    kept = b.read_response();
    TestClient c(h.port());
    c.send(get_request("/x", "Connection: close\r\n"));
    asked_close = c.read_response();
    closed_11 = c.wait_closed(1000);
  });
  CHECK(plain.header("connection") == "close");
  CHECK(closed);
  CHECK(kept.header("connection") == "keep-alive");
  CHECK(asked_close.header("connection") == "close");
  CHECK(closed_11);
}

TEST_CASE("Expect: 100-continue gets the interim answer before the body is sent") {
  Harness h;
  std::string seen;
  h.route("POST", "/in", [&](const HttpRequest &req, std::shared_ptr<HttpResponse> res) {
    seen = req.body;
    res->send(204, "text/plain", "");
  });
  ParsedResponse interim, final_answer;
  h.run([&] {
    TestClient c(h.port());
    c.send("POST /in HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
    interim = c.read_response();
    c.send("data");
    final_answer = c.read_response();
  });
  CHECK(interim.status == 100);
  CHECK(final_answer.status == 204);
  CHECK(seen == "data");
}

TEST_CASE("pipelined requests are answered in order even when the first answers last") {
  auto config = test_config();
  config.max_pending_requests = 3;  // the 8 requests below also exercise pausing and resuming
  config.slow_request_ms = 100;
  Harness h(config);
  h.route("GET", "/slow", [&](const HttpRequest &, std::shared_ptr<HttpResponse> res) {
    after(&h.loop, 150, [res] { res->send(200, "text/plain", "slow"); });
  });
  h.route("GET", "/fast/*",
          [&](const HttpRequest &req, std::shared_ptr<HttpResponse> res) { res->send(200, "text/plain", req.path); });
  std::vector<std::string> bodies;
  h.run([&] {
    TestClient c(h.port());
    std::string batch = get_request("/slow");
    for (int i = 1; i <= 6; ++i) batch += get_request("/fast/" + std::to_string(i));
    batch += get_request("/slow");
    c.send(batch);  // one write: the server sees them all at once
    for (int i = 0; i < 8; ++i) bodies.push_back(c.read_response().body);
  });
  CHECK(bodies ==
        std::vector<std::string>{"slow", "/fast/1", "/fast/2", "/fast/3", "/fast/4", "/fast/5", "/fast/6", "slow"});
  CHECK(h.server->stats().slow_requests == 2);  // each logged with its route and time
  CHECK(h.server->stats().connections_accepted == 1);
}

TEST_CASE("chunked request bodies arrive de-chunked and are bounded too") {
  auto config = test_config();
  config.max_body_bytes = 64;
  Harness h(config);
  std::string seen;
  h.route("POST", "/in", [&](const HttpRequest &req, std::shared_ptr<HttpResponse> res) {
    seen = req.body;
    res->send(204, "text/plain", "");
  });
  ParsedResponse ok, too_big;
  h.run([&] {
    TestClient c(h.port());
    c.send("POST /in HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nhello \r\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a body in two reads
    c.send("5\r\nworld\r\n0\r\n\r\n");
    ok = c.read_response();
    TestClient d(h.port());
    d.send("POST /in HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n" + std::string(64, 'a') +
           "\r\n1\r\nb\r\n0\r\n\r\n");
    too_big = d.read_response();
  });
  CHECK(ok.status == 204);
  CHECK_FALSE(ok.has("content-length"));
  CHECK(seen == "hello world");
  CHECK(too_big.status == 413);
  CHECK(too_big.header("connection") == "close");
}
