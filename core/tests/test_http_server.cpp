// The HTTP server over real sockets on 127.0.0.1 (ephemeral port): the loop
// runs in the test thread, blocking clients on their own threads.
#include <doctest/doctest.h>
#include <zlib.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <regex>
#include <thread>
#include <vector>

#include "http/server.hpp"
#include "http_test_client.hpp"

using namespace vitals::core;
using vitals::testing::get_request;
using vitals::testing::ParsedResponse;
using vitals::testing::TestClient;
using Clock = std::chrono::steady_clock;

namespace {

HttpServerConfig test_config() {
  HttpServerConfig c;
  c.listen = "127.0.0.1:0";
  c.header_timeout_ms = 300;
  c.idle_timeout_ms = 2'000;
  c.linger_ms = 200;
  return c;
}

int64_t ms_since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

// Runs `fn` once on the loop after `delay_ms`; the timer frees itself.
void after(uv_loop_t *loop, uint64_t delay_ms, std::function<void()> fn) {
  struct Timer {
    uv_timer_t handle;
    std::function<void()> fn;
  };
  auto *t = new Timer{{}, std::move(fn)};
  uv_timer_init(loop, &t->handle);
  t->handle.data = t;
  uv_timer_start(
      &t->handle,
      [](uv_timer_t *h) {
        auto *timer = static_cast<Timer *>(h->data);
        timer->fn();
        uv_close(reinterpret_cast<uv_handle_t *>(h), [](uv_handle_t *c) { delete static_cast<Timer *>(c->data); });
      },
      delay_ms, 0);
}

struct Harness {
  uv_loop_t loop{};
  std::unique_ptr<HttpServer> server;

  explicit Harness(HttpServerConfig config = test_config()) {
    uv_loop_init(&loop);
    server = std::make_unique<HttpServer>(&loop, std::move(config));
    std::string error;
    INFO(error);
    REQUIRE(server->listen(error));
    REQUIRE(server->port() != 0);
  }

  ~Harness() {
    bool done = false;
    server->close([&] { done = true; }, 500);
    while (!done) uv_run(&loop, UV_RUN_ONCE);
    server.reset();
    uv_run(&loop, UV_RUN_DEFAULT);  // the close callbacks free the last handles
    CHECK(uv_loop_close(&loop) == 0);
  }

  uint16_t port() const { return server->port(); }

  void route(std::string method, std::string path, HttpHandler handler, RouteAccess access = RouteAccess::normal) {
    std::string error;
    INFO(error);
    REQUIRE(server->add_route({std::move(method), std::move(path), std::move(handler), access}, error) != 0);
  }

  // Runs the loop until every client (each on its own thread) has returned.
  void run(std::vector<std::function<void()>> clients) {
    uv_async_t stop{};
    uv_async_init(&loop, &stop, [](uv_async_t *a) { uv_stop(a->loop); });
    std::atomic<size_t> running{clients.size()};
    std::vector<std::exception_ptr> errors(clients.size());
    std::vector<std::thread> threads;
    for (size_t i = 0; i < clients.size(); ++i) {
      threads.emplace_back([&, i] {
        try {
          clients[i]();
        } catch (...) {
          errors[i] = std::current_exception();
        }
        if (--running == 0) uv_async_send(&stop);
      });
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    for (auto &t : threads) t.join();
    uv_close(reinterpret_cast<uv_handle_t *>(&stop), nullptr);
    uv_run(&loop, UV_RUN_NOWAIT);
    for (auto &e : errors)
      if (e) std::rethrow_exception(e);
  }
  void run(std::function<void()> client) { run(std::vector<std::function<void()>>{std::move(client)}); }
};

HttpHandler text(std::string body) {
  return [body](const HttpRequest &, std::shared_ptr<HttpResponse> res) { res->send(200, "text/plain", body); };
}

std::string inflate_gzip(const std::string &in) {
  z_stream zs{};
  inflateInit2(&zs, 15 + 16);
  std::string out(in.size() * 20 + 1024, '\0');
  zs.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef *>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = inflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  inflateEnd(&zs);
  return rc == Z_STREAM_END ? out : "<inflate failed>";
}

}  // namespace

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

TEST_CASE("connections beyond max_connections get 503 and are counted") {
  auto config = test_config();
  config.max_connections = 2;
  Harness h(config);
  h.route("GET", "/x", text("x"));
  ParsedResponse first, second, refused, later;
  h.run([&] {
    TestClient a(h.port()), b(h.port());
    a.send(get_request("/x"));
    first = a.read_response();
    b.send(get_request("/x"));
    second = b.read_response();
    TestClient c(h.port());
    refused = c.read_response();
    a.close();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the server notices a's close
    TestClient d(h.port());
    d.send(get_request("/x"));
    later = d.read_response();
  });
  CHECK(first.status == 200);
  CHECK(second.status == 200);
  CHECK(refused.status == 503);
  CHECK(refused.header("retry-after") == "1");
  CHECK(refused.has("x-process-time"));
  CHECK(refused.has("date"));
  CHECK(later.status == 200);
  CHECK(h.server->stats().connections_rejected == 1);
  CHECK(h.server->stats().connections_accepted == 3);
}

TEST_CASE("gzip when the client asks for it, only for large textual bodies") {
  Harness h;
  std::string json = "[";
  for (int i = 0; i < 500; ++i) json += "{\"ts\":" + std::to_string(1700000000 + i) + ",\"v\":0.5},";
  json.back() = ']';
  h.route("GET", "/big",
          [&](const HttpRequest &, std::shared_ptr<HttpResponse> res) { res->send(200, "application/json", json); });
  h.route("GET", "/small", text("tiny"));
  h.route("GET", "/png", [&](const HttpRequest &, std::shared_ptr<HttpResponse> res) {
    res->send(200, "image/png", std::string(5000, 'x'));
  });
  ParsedResponse zipped, plain, small, png;
  h.run([&] {
    TestClient c(h.port());
    c.send(get_request("/big", "Accept-Encoding: gzip, deflate\r\n"));
    zipped = c.read_response();
    c.send(get_request("/big"));
    plain = c.read_response();
    c.send(get_request("/small", "Accept-Encoding: gzip\r\n"));
    small = c.read_response();
    c.send(get_request("/png", "Accept-Encoding: gzip\r\n"));
    png = c.read_response();
  });
  CHECK(zipped.header("content-encoding") == "gzip");
  CHECK(zipped.header("vary") == "Accept-Encoding");
  CHECK(zipped.body.size() < json.size() / 3);
  CHECK(zipped.header("content-length") == std::to_string(zipped.body.size()));
  CHECK(inflate_gzip(zipped.body) == json);
  CHECK_FALSE(plain.has("content-encoding"));
  CHECK(plain.header("vary") == "Accept-Encoding");
  CHECK(plain.body == json);
  CHECK_FALSE(small.has("content-encoding"));
  CHECK(small.body == "tiny");
  CHECK_FALSE(png.has("content-encoding"));
  CHECK(png.body.size() == 5000);
}

TEST_CASE("bearer token: header, ?token= and cookie; public and admin routes") {
  auto config = test_config();
  config.token = "s3cret";
  Harness h(config);
  h.route("GET", "/data", text("data"));
  h.route("GET", "/healthz", text("ok"), RouteAccess::open);
  h.route("POST", "/api/admin/x", text("done"), RouteAccess::admin);
  std::vector<ParsedResponse> r;
  h.run([&] {
    TestClient c(h.port());
    for (const std::string &req : {
             get_request("/data"),
             get_request("/data", "Authorization: Bearer wrong\r\n"),
             get_request("/data", "Authorization: Bearer s3cret\r\n"),
             get_request("/data?token=s3cret"),
             get_request("/data", "Cookie: theme=dark; vitals_token=s3cret\r\n"),
             get_request("/healthz"),
             std::string("POST /api/admin/x HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"),
             std::string("POST /api/admin/x HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer s3cret\r\n"
                         "Content-Length: 0\r\n\r\n"),
         }) {
      c.send(req);
      r.push_back(c.read_response());
    }
  });
  REQUIRE(r.size() == 8);
  CHECK(r[0].status == 401);
  CHECK(r[0].header("www-authenticate") == "Bearer realm=\"vitals\"");
  CHECK(r[1].status == 401);
  CHECK(r[1].header("www-authenticate").find("invalid_token") != std::string::npos);
  CHECK(r[2].status == 200);
  CHECK(r[3].status == 200);
  CHECK(r[4].status == 200);
  CHECK(r[5].status == 200);
  CHECK(r[6].status == 401);
  CHECK(r[7].status == 200);
}

TEST_CASE("admin routes are refused with 403 when no token is configured") {
  Harness h;
  h.route("PUT", "/api/performance/thresholds", text("set"), RouteAccess::admin);
  h.route("GET", "/data", text("data"));
  ParsedResponse admin, normal;
  h.run([&] {
    TestClient c(h.port());
    c.send("PUT /api/performance/thresholds HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n{}");
    admin = c.read_response();
    c.send(get_request("/data"));
    normal = c.read_response();
  });
  CHECK(admin.status == 403);
  CHECK(admin.body.find("admin routes are disabled: set [agent.http] token_file") != std::string::npos);
  CHECK(normal.status == 200);
}

TEST_CASE("an async answer after the client disconnected is a harmless no-op") {
  Harness h;
  std::shared_ptr<HttpResponse> kept;
  bool on_close_called = false, connected_when_answering = true, write_result = true;
  h.route("GET", "/later", [&](const HttpRequest &, std::shared_ptr<HttpResponse> res) {
    kept = res;
    res->on_close([&] { on_close_called = true; });
    after(&h.loop, 200, [&, res] {
      connected_when_answering = res->connected();
      res->send(200, "text/plain", "too late");
      write_result = res->write("more");
      res->end();
    });
  });
  h.run([&] {
    TestClient c(h.port());
    c.send(get_request("/later"));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    c.close();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the answer comes meanwhile
  });
  CHECK(on_close_called);
  CHECK_FALSE(connected_when_answering);
  CHECK_FALSE(write_result);
  REQUIRE(kept);
  CHECK_FALSE(kept->connected());
  bool late_close = false;
  kept->on_close([&] { late_close = true; });  // registered after the fact: runs at once
  CHECK(late_close);
}

TEST_CASE("a streaming response (start/write/end) is delivered chunked") {
  Harness h;
  h.route("GET", "/stream", [&](const HttpRequest &, std::shared_ptr<HttpResponse> res) {
    res->start(200, HttpHeaders{{"Content-Type", "text/event-stream"}});
    res->write("data: one\n\n");
    after(&h.loop, 50, [res] { res->write("data: two\n\n"); });
    after(&h.loop, 100, [res] { res->end(); });
  });
  h.route("GET", "/after", text("after"));
  ParsedResponse stream, next, old_http;
  bool old_closed = false;
  h.run([&] {
    TestClient c(h.port());
    c.send(get_request("/stream") + get_request("/after"));
    stream = c.read_response();
    next = c.read_response();
    TestClient d(h.port());
    d.send("GET /stream HTTP/1.0\r\n\r\n");
    old_http = d.read_response();
    old_closed = d.wait_closed(500);
  });
  CHECK(stream.status == 200);
  CHECK(stream.chunked);
  CHECK(stream.header("transfer-encoding") == "chunked");
  CHECK(stream.has("x-process-time"));
  CHECK(stream.body == "data: one\n\ndata: two\n\n");
  CHECK(stream.raw.find("b\r\ndata: one\n\n\r\n") != std::string::npos);
  CHECK(next.body == "after");  // the connection stays usable after the stream
  // HTTP/1.0 has no chunked encoding: the body ends with the connection.
  CHECK_FALSE(old_http.chunked);
  CHECK(old_http.body == "data: one\n\ndata: two\n\n");
  CHECK(old_closed);
}

TEST_CASE("an upgrade hands the socket and the bytes already read to the route") {
  Harness h;
  // An echo protocol standing in for WebSocket.
  struct Echo {
    UvTcpPtr socket;
    std::string pending;
  };
  std::vector<std::unique_ptr<Echo>> echoes;
  h.route("GET", "/echo", [&](const HttpRequest &req, std::shared_ptr<HttpResponse> res) {
    CHECK(req.upgrade);
    res->upgrade(HttpHeaders{{"Upgrade", "echo"}, {"Connection", "Upgrade"}}, [&](UvTcpPtr socket, std::string early) {
      auto echo = std::make_unique<Echo>();
      echo->socket = std::move(socket);
      echo->pending = "early:" + early + ";";
      auto *stream = reinterpret_cast<uv_stream_t *>(echo->socket.get());
      stream->data = echo.get();
      auto *w = new uv_write_t;
      uv_buf_t buf = uv_buf_init(echo->pending.data(), static_cast<unsigned>(echo->pending.size()));
      uv_write(w, stream, &buf, 1, [](uv_write_t *req, int) { delete req; });
      echoes.push_back(std::move(echo));
    });
  });
  ParsedResponse switched;
  std::string echoed;
  h.run([&] {
    TestClient c(h.port());
    c.send("GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\nHELLO");
    switched = c.read_response();
    echoed = c.read_raw(std::string("early:HELLO;").size());
  });
  CHECK(switched.status == 101);
  CHECK(switched.header("upgrade") == "echo");
  CHECK(switched.header("connection") == "Upgrade");
  CHECK(echoed == "early:HELLO;");
  CHECK(h.server->stats().connections_upgraded == 1);
  CHECK(h.server->stats().connections_active == 0);
  echoes.clear();  // closes the taken-over sockets before the loop ends
}

TEST_CASE("handlers that throw or never answer cost a 500, not the connection") {
  Harness h;
  h.route("GET", "/throws",
          [](const HttpRequest &, std::shared_ptr<HttpResponse>) { throw std::runtime_error("boom"); });
  h.route("GET", "/forgets", [](const HttpRequest &, std::shared_ptr<HttpResponse>) {});
  h.route("GET", "/ok", text("ok"));
  ParsedResponse thrown, forgotten, ok;
  h.run([&] {
    TestClient c(h.port());
    c.send(get_request("/throws") + get_request("/forgets") + get_request("/ok"));
    thrown = c.read_response();
    forgotten = c.read_response();
    ok = c.read_response();
  });
  CHECK(thrown.status == 500);
  CHECK(forgotten.status == 500);
  CHECK(ok.status == 200);
  CHECK(h.server->stats().responses_by_class[4] == 2);
}

TEST_CASE("graceful close lets the response in flight finish, then closes") {
  Harness h;
  bool closed_done = false;
  h.route("GET", "/work", [&](const HttpRequest &, std::shared_ptr<HttpResponse> res) {
    h.server->close([&] { closed_done = true; }, 2000);  // shutdown begins while we work
    after(&h.loop, 100, [res] { res->send(200, "text/plain", "finished"); });
  });
  ParsedResponse r;
  bool closed = false, refused = false;
  h.run([&] {
    TestClient c(h.port());
    c.send(get_request("/work"));
    r = c.read_response();
    closed = c.wait_closed(1000);
    TestClient late(h.port());
    refused = !late.connected() || late.wait_closed(500);
  });
  CHECK(r.status == 200);
  CHECK(r.body == "finished");
  CHECK(r.header("connection") == "close");
  CHECK(closed);
  CHECK(refused);
  while (!closed_done) uv_run(&h.loop, UV_RUN_ONCE);
  CHECK(h.server->stats().connections_active == 0);
}
