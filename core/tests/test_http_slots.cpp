// Who gets a connection slot, over real sockets: long-lived streams (event
// streams, WebSockets) have their own pool (max_streams) and never take the
// slots that requests and probes need; a full general pool closes its
// longest-idle keep-alive connection to admit a new one, and keeps a few
// slots that answer only liveness probes.
#include <doctest/doctest.h>

#include <atomic>

#include "http/websocket.hpp"
#include "http_test_support.hpp"
#include "ws_client.hpp"

using namespace vitals::core;
using namespace vitals::core::http;
using namespace vitals::testing;
using vitals::test::WsClient;

namespace {

// GET /events: an event stream that stays open; POST /broadcast writes an
// event to every open one; POST /end-streams ends them; GET /ws: a WebSocket
// echo; GET /healthz and POST /api/write answer at once; GET /hang never
// answers (until the server closes).
struct SlotServer {
  Harness h;
  // Loop thread only.
  std::vector<std::shared_ptr<HttpResponse>> streams;
  std::vector<std::shared_ptr<HttpResponse>> hanging;
  std::atomic<int> hanging_count{0};

  explicit SlotServer(HttpServerConfig config) : h(std::move(config)) {
    h.route("GET", "/events", [this](const HttpRequest &, std::shared_ptr<HttpResponse> res) {
      res->start(200, HttpHeaders{{"Content-Type", "text/event-stream"}});
      if (res->finished()) return;  // refused: the server answered instead
      res->write("data: hello\n\n");
      streams.push_back(std::move(res));
    });
    h.route("POST", "/broadcast", [this](const HttpRequest &, std::shared_ptr<HttpResponse> res) {
      for (auto &s : streams) s->write("data: again\n\n");
      res->send(204, "text/plain", "");
    });
    h.route("POST", "/end-streams", [this](const HttpRequest &, std::shared_ptr<HttpResponse> res) {
      for (auto &s : streams) s->end();
      streams.clear();
      res->send(204, "text/plain", "");
    });
    h.route("GET", "/ws", [](const HttpRequest &req, std::shared_ptr<HttpResponse> res) {
      WsHandshake hs = check_websocket_handshake(req);
      REQUIRE(hs.status == 101);
      res->upgrade({{"Upgrade", "websocket"}, {"Connection", "Upgrade"}, {"Sec-WebSocket-Accept", hs.accept}},
                   [](UvTcpPtr socket, std::string already_read) {
                     // The WebSocket frees itself when its socket closes.
                     auto ws = std::make_shared<WebSocket *>(nullptr);
                     WebSocket::Handlers handlers;
                     handlers.on_message = [ws](WsOpcode op, std::string_view data) {
                       (*ws)->send(std::make_shared<const std::string>(encode_ws_frame(op, data)));
                     };
                     *ws = WebSocket::start(std::move(socket), std::move(already_read), std::move(handlers), {});
                   });
    });
    h.route("GET", "/healthz", text("ok"), RouteAccess::open);
    h.route("POST", "/api/write",
            [](const HttpRequest &, std::shared_ptr<HttpResponse> res) { res->send(204, "text/plain", ""); });
    h.route("GET", "/hang", [this](const HttpRequest &, std::shared_ptr<HttpResponse> res) {
      hanging.push_back(std::move(res));
      ++hanging_count;
    });
  }
  ~SlotServer() {
    streams.clear();
    hanging.clear();
  }
  uint16_t port() const { return h.port(); }
};

std::string post(std::string_view target, std::string_view body = "x") {
  return "POST " + std::string(target) + " HTTP/1.1\r\nHost: test\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + std::string(body);
}

// An open event stream: its head and first event have arrived.
bool open_stream(TestClient &c) {
  c.send(get_request("/events"));
  std::string got = c.read_until("data: hello\n\n");
  return got.rfind("HTTP/1.1 200", 0) == 0 && got.find("data: hello") != std::string::npos;
}

bool ws_echoes(WsClient &ws, const std::string &text) {
  if (!ws.send_text(text)) return false;
  auto m = ws.read_data();
  return m && m->data == text;
}

}  // namespace

TEST_CASE("streams do not take the slots that requests and /healthz need") {
  auto config = test_config();
  config.max_connections = 2;
  config.max_streams = 4;
  config.probe_slots = 0;  // the general pool alone must serve
  SlotServer s(config);
  bool streams_open = false, sockets_open = false;
  ParsedResponse health, ingest;
  s.h.run([&] {
    TestClient e1(s.port()), e2(s.port());
    streams_open = open_stream(e1) && open_stream(e2);
    WsClient w1(s.port(), "/ws"), w2(s.port(), "/ws");
    sockets_open = w1.open() && w2.open();
    // Two streams of each kind open, more than max_connections: both
    // general slots are still free, and stay taken together.
    TestClient probe(s.port()), writer(s.port());
    probe.send(get_request("/healthz"));
    writer.send(post("/api/write"));
    health = probe.read_response();
    ingest = writer.read_response();
  });
  CHECK(streams_open);
  CHECK(sockets_open);
  CHECK(health.status == 200);
  CHECK(ingest.status == 204);
  CHECK(s.h.server->stats().connections_rejected == 0);
  CHECK(s.h.server->stats().streams_rejected == 0);
}

TEST_CASE("past max_streams a stream gets 503 before it starts, and the open ones keep working") {
  auto config = test_config();
  config.max_connections = 4;
  config.max_streams = 2;
  SlotServer s(config);
  bool first_open = false, socket_open = false;
  ParsedResponse refused_stream, broadcast;
  bool refused_closed = false;
  int refused_ws = 0;
  std::string refused_ws_head, refused_ws_body, event;
  bool echo_after = false, ws_again = false, stream_again = false;
  s.h.run([&] {
    TestClient e1(s.port());
    first_open = open_stream(e1);
    auto w1 = std::make_unique<WsClient>(s.port(), "/ws");
    socket_open = w1->open();

    TestClient e2(s.port());
    e2.send(get_request("/events"));
    refused_stream = e2.read_response();
    refused_closed = e2.wait_closed(3000);
    WsClient w2(s.port(), "/ws");
    refused_ws = w2.handshake_status();
    refused_ws_head = w2.response_head();
    refused_ws_body = w2.rest();

    // The open ones are untouched by the refusals.
    TestClient control(s.port());
    control.send(post("/broadcast"));
    broadcast = control.read_response();
    event = e1.read_until("data: again\n\n");
    echo_after = ws_echoes(*w1, "still here");

    // A stream's slot comes back when it ends: for a WebSocket once its
    // socket closes, for an event stream once its connection does.
    w1->send_close(1000);
    w1->wait_closed(3000);
    w1.reset();
    ws_again = eventually([&] {
      WsClient w(s.port(), "/ws");
      return w.open() && ws_echoes(w, "again");
    });
    e1.close();
    stream_again = eventually([&] {
      TestClient e(s.port());
      return open_stream(e);
    });
  });
  CHECK(first_open);
  CHECK(socket_open);
  CHECK(refused_stream.status == 503);
  CHECK(refused_stream.header("retry-after") == "1");
  CHECK(refused_stream.header("connection") == "close");
  CHECK(refused_stream.body.find("max_streams") != std::string::npos);
  CHECK(refused_closed);
  CHECK(refused_ws == 503);  // before the upgrade: never a 101
  CHECK(refused_ws_head.find("Retry-After: 1") != std::string::npos);
  CHECK(refused_ws_body.find("max_streams") != std::string::npos);
  CHECK(broadcast.status == 204);
  CHECK(event.find("data: again") != std::string::npos);
  CHECK(echo_after);
  CHECK(ws_again);
  CHECK(stream_again);
  CHECK(s.h.server->stats().streams_rejected >= 2);
  CHECK(s.h.server->stats().connections_rejected == 0);
}

TEST_CASE("a full pool closes its longest-idle keep-alive connection to admit a new one") {
  auto config = test_config();
  config.max_connections = 2;
  config.probe_slots = 0;
  SlotServer s(config);
  ParsedResponse a1, b1, c1, b2;
  bool a_closed = false;
  s.h.run([&] {
    TestClient a(s.port()), b(s.port());
    a.send(get_request("/healthz"));
    a1 = a.read_response();
    b.send(get_request("/healthz"));
    b1 = b.read_response();
    // Both are idle now, a for longer.
    TestClient c(s.port());
    c.send(get_request("/healthz"));
    c1 = c.read_response();
    a_closed = a.wait_closed(3000);
    b.send(get_request("/healthz"));
    b2 = b.read_response();
  });
  CHECK(a1.status == 200);
  CHECK(b1.status == 200);
  CHECK(c1.status == 200);
  CHECK(a_closed);
  CHECK(b2.status == 200);
  CHECK(s.h.server->stats().connections_evicted == 1);
  CHECK(s.h.server->stats().connections_rejected == 0);
}

TEST_CASE("with every connection busy, probes are still answered from the probe slots") {
  auto config = test_config();
  config.max_connections = 2;
  config.probe_slots = 1;
  config.header_timeout_ms = 5'000;
  SlotServer s(config);
  bool busy = false, write_closed = false, health_closes = false, answered = false;
  ParsedResponse write, health;
  s.h.run([&] {
    TestClient a(s.port()), b(s.port());
    a.send(get_request("/hang"));
    b.send(get_request("/hang"));
    busy = eventually([&] { return s.hanging_count.load() == 2; });
    // Not a probe: refused, and the probe slot is given back.
    TestClient c(s.port());
    c.send(post("/api/write"));
    write = c.read_response();
    write_closed = c.wait_closed(3000);
    c.close();
    // The slot frees once the server has seen c go; until then a probe may
    // be refused at accept.
    answered = eventually([&] {
      TestClient d(s.port());
      d.send(get_request("/healthz"));
      health = d.read_response();
      health_closes = d.wait_closed(3000);
      return health.status == 200;
    });
  });
  CHECK(busy);
  CHECK(answered);
  CHECK(write.status == 503);
  CHECK(write.header("retry-after") == "1");
  CHECK(write.body.find("/healthz") != std::string::npos);
  CHECK(write_closed);
  CHECK(health.status == 200);
  CHECK(health.header("connection") == "close");
  CHECK(health_closes);  // one request per probe slot
  CHECK(s.h.server->stats().connections_rejected >= 1);
}

TEST_CASE("a stream that ends gives its connection back to the general pool, or closes it when that is full") {
  for (uint32_t max_connections : {1u, 2u}) {
    CAPTURE(max_connections);
    auto config = test_config();
    config.max_connections = max_connections;
    config.max_streams = 2;
    config.probe_slots = 0;
    SlotServer s(config);
    bool opened = false, closed = false;
    ParsedResponse ended, after;
    std::string tail;
    s.h.run([&] {
      TestClient e(s.port());
      opened = open_stream(e);
      // The control connection stays in the pool (keep-alive) while the
      // stream ends.
      TestClient control(s.port());
      control.send(post("/end-streams"));
      ended = control.read_response();
      tail = e.read_until("0\r\n\r\n");
      if (max_connections == 1) {
        closed = e.wait_closed(3000);
      } else {
        e.send(get_request("/healthz"));
        after = e.read_response();
      }
    });
    CHECK(opened);
    CHECK(ended.status == 204);
    CHECK(tail.find("0\r\n\r\n") != std::string::npos);
    if (max_connections == 1) {
      CHECK(closed);
    } else {
      CHECK(after.status == 200);
    }
  }
}
