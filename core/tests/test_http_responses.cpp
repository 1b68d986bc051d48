// The HTTP server's responses over real sockets: gzip, auth, answers after a
// disconnect, streaming, upgrade handover, handler failures, graceful close.
#include <doctest/doctest.h>
#include <zlib.h>

#include <atomic>

#include "http_test_support.hpp"

using namespace vitals::core;
using namespace vitals::testing;

namespace {

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

TEST_CASE("a stream to a client that stops reading keeps every chunk, intact and in order") {
  // Chunks go to the socket without a copy while it takes them; once its
  // buffer is full the rest must be queued (copied), and the client that
  // reads again later must still see exactly what was written.
  Harness h;
  std::string expected;
  size_t buffered_at_end = 0;
  // The client reads only after the handler has written everything: a fixed
  // sleep raced a slow (sanitized) server, whose client had started draining.
  std::atomic<bool> all_written{false};
  h.route("GET", "/flood", [&](const HttpRequest &, std::shared_ptr<HttpResponse> res) {
    res->start(200, HttpHeaders{{"Content-Type", "text/event-stream"}});
    for (int i = 0; i < 3000; ++i) {
      std::string chunk =
          "data: " + std::to_string(i) + " " + std::string(4000, static_cast<char>('a' + i % 26)) + "\n\n";
      expected += chunk;
      res->write(chunk);
    }
    buffered_at_end = res->buffered_bytes();
    res->end();
    all_written = true;
  });
  ParsedResponse flood;
  h.run([&] {
    TestClient c(h.port(), 10'000);
    c.send(get_request("/flood"));
    auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!all_written && std::chrono::steady_clock::now() < give_up)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    flood = c.read_response();
  });
  CHECK(buffered_at_end > 0);  // the socket did fill: the queued path was taken
  CHECK(flood.status == 200);
  CHECK(flood.body.size() == expected.size());
  CHECK(flood.body == expected);
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
      auto w = std::make_unique<uv_write_t>();
      uv_buf_t buf = uv_buf_init(echo->pending.data(), static_cast<unsigned>(echo->pending.size()));
      uv_write(w.release(), stream, &buf, 1, [](uv_write_t *req, int) { std::unique_ptr<uv_write_t> done(req); });
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

TEST_CASE("destroying the server with a connection open is safe; a kept response becomes a no-op") {
  uv_loop_t loop{};
  uv_loop_init(&loop);
  auto server = std::make_unique<HttpServer>(&loop, test_config());
  std::string error;
  REQUIRE(server->listen(error));
  std::shared_ptr<HttpResponse> kept;
  bool on_close_called = false;
  REQUIRE(server->add_route({"GET", "/hold",
                             [&](const HttpRequest &, std::shared_ptr<HttpResponse> res) {
                               kept = res;
                               res->on_close([&] { on_close_called = true; });
                             }},
                            error) != 0);
  bool client_saw_close = false;
  std::thread client([&, port = server->port()] {
    TestClient c(port);
    c.send(get_request("/hold"));
    client_saw_close = c.wait_closed(2000);
  });
  while (!kept) uv_run(&loop, UV_RUN_ONCE);
  server.reset();  // no close() first
  CHECK(on_close_called);
  kept->send(200, "text/plain", "nobody listens");
  CHECK_FALSE(kept->connected());
  uv_run(&loop, UV_RUN_DEFAULT);  // the close callbacks run after the server is gone
  client.join();
  CHECK(client_saw_close);
  kept.reset();
  CHECK(uv_loop_close(&loop) == 0);
}
