// WebSocket in the core: the handshake, server frame encoding, UTF-8
// validation, and whole connections over real sockets (echo, fragmentation,
// ping/pong, close handshake, protocol errors with their close codes, shared
// frames to many clients).
#include <doctest/doctest.h>
#include <netinet/tcp.h>

#include "http/websocket.hpp"
#include "http_test_support.hpp"
#include "ws_client.hpp"

using namespace vitals::core;
using namespace vitals::core::http;
using namespace vitals::testing;
using vitals::test::WsClient;

namespace {

HttpRequest handshake_request() {
  HttpRequest r;
  r.method = "GET";
  r.headers.add("Upgrade", "websocket");
  r.headers.add("Connection", "keep-alive, Upgrade");
  r.headers.add("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
  r.headers.add("Sec-WebSocket-Version", "13");
  return r;
}

// A server whose /ws route accepts WebSockets with the given handlers.
struct WsServer {
  Harness h;
  WsLimits limits;
  std::vector<WebSocket *> sockets;  // in accept order; loop thread only
  std::function<void(WebSocket *, WsOpcode, std::string_view)> on_message;
  std::vector<std::pair<uint16_t, std::string>> closes;  // what on_close reported
  std::atomic<int> closed{0};                            // closes.size(), for client threads
  int keepalive = 0, keepidle = 0;                       // of the last accepted socket

  WsServer() {
    h.route("GET", "/ws", [this](const HttpRequest &req, std::shared_ptr<HttpResponse> res) {
      WsHandshake hs = check_websocket_handshake(req);
      if (hs.status != 101) {
        res->send(hs.status, "text/plain", hs.error);
        return;
      }
      res->upgrade({{"Upgrade", "websocket"}, {"Connection", "Upgrade"}, {"Sec-WebSocket-Accept", hs.accept}},
                   [this](UvTcpPtr socket, std::string already_read) {
                     size_t index = sockets.size();
                     WebSocket::Handlers handlers;
                     handlers.on_message = [this, index](WsOpcode op, std::string_view data) {
                       if (on_message) on_message(sockets[index], op, data);
                     };
                     handlers.on_close = [this](uint16_t code, std::string_view reason) {
                       closes.emplace_back(code, std::string(reason));
                       ++closed;
                     };
                     uv_os_fd_t fd = -1;
                     uv_fileno(reinterpret_cast<uv_handle_t *>(socket.get()), &fd);
                     sockets.push_back(
                         WebSocket::start(std::move(socket), std::move(already_read), std::move(handlers), limits));
                     socklen_t len = sizeof keepalive;
                     getsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &keepalive, &len);
                     len = sizeof keepidle;
                     getsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &keepidle, &len);
                   });
    });
  }
  void echo() {
    on_message = [](WebSocket *ws, WsOpcode op, std::string_view data) {
      ws->send(std::make_shared<const std::string>(encode_ws_frame(op, data)));
    };
  }
};

// The largest unsent output of the first accepted connection, sampled on the
// loop every 2 ms while it is open. stop() (in the test thread, after run())
// ends the sampling before the server goes away.
struct BacklogProbe {
  WsServer &s;
  size_t max = 0;
  std::shared_ptr<bool> stopped = std::make_shared<bool>(false);

  explicit BacklogProbe(WsServer &server) : s(server) { tick(); }
  ~BacklogProbe() { *stopped = true; }
  void tick() {
    if (!s.sockets.empty() && s.closes.empty()) max = std::max(max, s.sockets[0]->buffered());
    after(&s.h.loop, 2, [this, stopped = stopped] {
      if (!*stopped) tick();
    });
  }
};

// Makes a send on `fd` give up after `ms` when the server no longer reads.
void send_timeout(int fd, int ms) {
  timeval timeout{ms / 1000, (ms % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
}

// Waits (polling) until the server reported `n` connections ended.
bool wait_for_closes(WsServer &s, int n, int timeout_ms = 5000) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (s.closed.load() < n && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  return s.closed.load() >= n;
}

}  // namespace

TEST_CASE("the accept key is the RFC 6455 example's") {
  CHECK(websocket_accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  WsHandshake ok = check_websocket_handshake(handshake_request());
  CHECK(ok.status == 101);
  CHECK(ok.accept == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST_CASE("bad handshakes are refused with the status a client can act on") {
  auto with = [](const char *name, const char *value) {
    HttpRequest r = handshake_request();
    if (value)
      r.headers.set(name, value);
    else
      r.headers.remove(name);
    return check_websocket_handshake(r);
  };
  CHECK(with("Sec-WebSocket-Version", "8").status == 426);
  CHECK(with("Sec-WebSocket-Version", nullptr).status == 426);
  CHECK(with("Sec-WebSocket-Key", nullptr).status == 400);
  CHECK(with("Sec-WebSocket-Key", "c2hvcnQ=").status == 400);                  // 5 bytes
  CHECK(with("Sec-WebSocket-Key", "!!!!!!!!!!!!!!!!!!!!!!==").status == 400);  // not base64
  CHECK(with("Upgrade", "h2c").status == 400);
  CHECK(with("Connection", "keep-alive").status == 400);
  HttpRequest post = handshake_request();
  post.method = "POST";
  CHECK(check_websocket_handshake(post).status == 400);
  HttpRequest old = handshake_request();
  old.http_minor = 0;
  CHECK(check_websocket_handshake(old).status == 400);
  CHECK_FALSE(with("Sec-WebSocket-Key", nullptr).error.empty());
}

TEST_CASE("server frames use the shortest length encoding and are never masked") {
  auto head = [](size_t n) { return encode_ws_frame(ws_text, std::string(n, 'x')).substr(0, 10); };
  CHECK(encode_ws_frame(ws_text, "") == std::string("\x81\x00", 2));
  CHECK(encode_ws_frame(ws_binary, "ab") == std::string("\x82\x02"
                                                        "ab",
                                                        4));
  CHECK(head(125).substr(0, 2) == std::string("\x81\x7d", 2));
  CHECK(head(126).substr(0, 4) == std::string("\x81\x7e\x00\x7e", 4));
  CHECK(head(65535).substr(0, 4) == std::string("\x81\x7e\xff\xff", 4));
  CHECK(head(65536) == std::string("\x81\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10));
  CHECK(encode_ws_frame(ws_text, std::string(70000, 'y')).size() == 70010);
  CHECK(encode_ws_frame(ws_ping, "hi") == std::string("\x89\x02hi", 4));
  CHECK(encode_ws_close(1001, "bye") == std::string("\x88\x05\x03\xe9"
                                                    "bye",
                                                    7));
  // A long reason is cut to fit a control frame, never inside a character.
  std::string reason;
  for (int i = 0; i < 80; ++i) reason += "\xc3\xa9";  // é
  std::string close = encode_ws_close(1000, reason);
  CHECK(close.size() <= 2 + 125);
  CHECK(valid_utf8(close.substr(4)));
}

TEST_CASE("UTF-8 validation rejects what RFC 3629 forbids") {
  CHECK(valid_utf8(""));
  CHECK(valid_utf8("plain ascii"));
  CHECK(valid_utf8("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"));  // κόσμε
  CHECK(valid_utf8("\xf0\x9f\x98\x80"));                              // emoji
  CHECK(valid_utf8("\xf4\x8f\xbf\xbf"));                              // U+10FFFF
  CHECK_FALSE(valid_utf8("\x80"));                                    // lone continuation
  CHECK_FALSE(valid_utf8("\xc0\xaf"));                                // overlong '/'
  CHECK_FALSE(valid_utf8("\xe0\x80\xaf"));                            // overlong
  CHECK_FALSE(valid_utf8("\xed\xa0\x80"));                            // surrogate U+D800
  CHECK_FALSE(valid_utf8("\xf4\x90\x80\x80"));                        // above U+10FFFF
  CHECK_FALSE(valid_utf8("\xce"));                                    // truncated
  CHECK_FALSE(valid_utf8("\xff"));
}

TEST_CASE("a WebSocket echoes text and binary, reassembles fragments and answers pings") {
  WsServer s;
  s.echo();
  std::optional<vitals::test::WsMessage> text, binary, fragmented, pong, after_ping;
  std::string head;
  s.h.run([&] {
    WsClient c(s.h.port(), "/ws");
    REQUIRE(c.handshake_status() == 101);
    head = c.response_head();
    c.send_text("hello");
    text = c.read();
    c.send_frame(2, std::string("\x00\x01\xff", 3));
    binary = c.read();
    c.send_frame(1, "frag", false);
    c.send_frame(9, "mid-ping");  // a control frame may come between fragments
    c.send_frame(0, "men", false);
    c.send_frame(0, "ted", true);
    // The pong and the echo may come in either order.
    for (int i = 0; i < 2; ++i) {
      auto m = c.read();
      if (m && m->opcode == 10)
        pong = m;
      else
        fragmented = m;
    }
    c.send_frame(9, "are you there");
    after_ping = c.read();
    c.send_close(1000);
    CHECK(c.read().value_or(vitals::test::WsMessage{}).close_code() == 1000);
    CHECK(c.wait_closed(2000));
  });
  CHECK(head.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") != std::string::npos);
  REQUIRE(text);
  CHECK(text->opcode == 1);
  CHECK(text->data == "hello");
  REQUIRE(binary);
  CHECK(binary->opcode == 2);
  CHECK(binary->data == std::string("\x00\x01\xff", 3));
  REQUIRE(pong);
  CHECK(pong->opcode == 10);
  CHECK(pong->data == "mid-ping");
  REQUIRE(fragmented);
  CHECK(fragmented->data == "fragmented");
  REQUIRE(after_ping);
  CHECK(after_ping->opcode == 10);
  CHECK(after_ping->data == "are you there");
  REQUIRE(s.closes.size() == 1);
  CHECK(s.closes[0].first == 1000);
}

TEST_CASE("frames sent together with the handshake are not lost") {
  WsServer s;
  s.echo();
  std::optional<vitals::test::WsMessage> first, second;
  s.h.run([&] {
    WsClient c(s.h.port(), "/ws", "", WsClient::encode(1, "early") + WsClient::encode(1, "bird"));
    REQUIRE(c.handshake_status() == 101);
    first = c.read();
    second = c.read();
  });
  REQUIRE(first);
  CHECK(first->data == "early");
  REQUIRE(second);
  CHECK(second->data == "bird");
}

TEST_CASE("protocol violations close the connection with the right code") {
  struct Case {
    const char *what;
    std::string bytes;
    int code;
  };
  std::vector<Case> cases = {
      {"unmasked client frame", WsClient::encode(1, "hi", true, false), 1002},
      {"reserved opcode", WsClient::encode(3, "x"), 1002},
      {"fragmented ping", WsClient::encode(9, "x", false), 1002},
      {"ping over 125 bytes", WsClient::encode(9, std::string(126, 'p')), 1002},
      {"continuation without a start", WsClient::encode(0, "x"), 1002},
      {"message over max_message", WsClient::encode(1, std::string(2000, 'm')), 1009},
      {"fragments adding up over max_message",
       WsClient::encode(1, std::string(600, 'a'), false) + WsClient::encode(0, std::string(600, 'b')), 1009},
      {"invalid UTF-8 text", WsClient::encode(1, "caf\xc3"), 1007},
  };
  for (const auto &c : cases) {
    CAPTURE(c.what);
    WsServer s;
    s.limits.max_message = 1000;
    s.echo();
    int got = 0;
    bool closed = false;
    s.h.run([&] {
      WsClient client(s.h.port(), "/ws");
      REQUIRE(client.handshake_status() == 101);
      client.send_raw(c.bytes);
      auto m = client.read();
      if (m && m->opcode == 8) {
        got = m->close_code();
        client.send_close(got);  // complete the handshake; the server then closes TCP
      }
      closed = client.wait_closed(3000);
    });
    CHECK(got == c.code);
    CHECK(closed);
    REQUIRE(s.closes.size() == 1);
    CHECK(s.closes[0].first == c.code);
  }
}

TEST_CASE("the server closes with its code and reason, and shuts TCP after the client's reply") {
  WsServer s;
  std::optional<vitals::test::WsMessage> close;
  bool closed = false;
  s.on_message = [](WebSocket *ws, WsOpcode, std::string_view) { ws->close(4000, "bye now"); };
  s.h.run([&] {
    WsClient c(s.h.port(), "/ws");
    c.send_text("close me");
    close = c.read();
    c.send_close(4000);
    closed = c.wait_closed(1000);
  });
  REQUIRE(close);
  CHECK(close->opcode == 8);
  CHECK(close->close_code() == 4000);
  CHECK(close->data.substr(2) == "bye now");
  CHECK(closed);
  CHECK(s.closes.empty());  // close() means the owner needs no callback
}

TEST_CASE("a client that never answers the close frame is cut off after close_timeout") {
  WsServer s;
  s.limits.close_timeout_ms = 200;
  s.on_message = [](WebSocket *ws, WsOpcode, std::string_view) { ws->close(1000, ""); };
  bool closed = false;
  int64_t waited = 0;
  s.h.run([&] {
    WsClient c(s.h.port(), "/ws");
    c.send_text("x");
    auto start = Clock::now();
    CHECK(c.read().value_or(vitals::test::WsMessage{}).opcode == 8);
    closed = c.wait_closed(3000);
    waited = ms_since(start);
  });
  CHECK(closed);
  CHECK(waited < 2000);
}

TEST_CASE("one encoded frame reaches every client; a vanished client is reported as 1006") {
  WsServer s;
  s.on_message = [&](WebSocket *, WsOpcode, std::string_view) {
    auto frame = std::make_shared<const std::string>(encode_ws_frame(ws_text, "to all"));
    for (WebSocket *ws : s.sockets) CHECK(ws->send(frame));
  };
  std::vector<std::string> received(3);
  std::atomic<int> connected{0};
  s.h.run({[&] {
             WsClient c(s.h.port(), "/ws");
             ++connected;
             received[0] = c.read_data().value_or(vitals::test::WsMessage{}).data;
           },
           [&] {
             WsClient c(s.h.port(), "/ws");
             ++connected;
             received[1] = c.read_data().value_or(vitals::test::WsMessage{}).data;
           },
           [&] {
             WsClient c(s.h.port(), "/ws");
             ++connected;
             while (connected < 3) std::this_thread::sleep_for(std::chrono::milliseconds(5));
             c.send_text("broadcast");  // every client is in
             received[2] = c.read_data().value_or(vitals::test::WsMessage{}).data;
           }});
  for (const auto &r : received) CHECK(r == "to all");
  // The clients closed TCP without a close frame.
  for (int i = 0; i < 50 && s.closes.size() < 3; ++i) uv_run(&s.h.loop, UV_RUN_NOWAIT);
  REQUIRE(s.closes.size() == 3);
  for (const auto &c : s.closes) CHECK(c.first == 1006);
}

TEST_CASE("a plain GET to a WebSocket route is told to upgrade") {
  WsServer s;
  ParsedResponse r;
  s.h.run([&] {
    TestClient c(s.h.port());
    c.send(get_request("/ws", "Sec-WebSocket-Version: 13\r\n"));
    r = c.read_response();
  });
  CHECK(r.status == 400);
}

TEST_CASE("an accepted WebSocket has TCP keepalive on, so a vanished client is found") {
  WsServer s;
  s.h.run([&] {
    WsClient c(s.h.port(), "/ws");
    REQUIRE(c.handshake_status() == 101);
    c.send_close(1000);
    c.wait_closed(2000);
  });
  CHECK(s.keepalive == 1);
  CHECK(s.keepidle == 30);
}

TEST_CASE("a client that never reads what its pings or messages earn stops being read past the output bound") {
  struct Case {
    std::string what;
    std::string frame;
    bool echo;
  };
  // A ping earns a pong; a message earns a reply (here an echo; the
  // websocket output answers garbage with an error message).
  std::vector<Case> cases = {{"pings", WsClient::encode(9, std::string(125, 'p')), false},
                             {"messages with replies", WsClient::encode(1, "garbage"), true}};
  for (const auto &k : cases) {
    CAPTURE(k.what);
    WsServer s;
    s.limits.pause_reading_output = 64 * 1024;
    if (k.echo) s.echo();
    uint64_t pauses_before = ws_stats().reads_paused;
    std::optional<BacklogProbe> probe(s);
    size_t pushed = 0;
    s.h.run([&] {
      WsClient c(s.h.port(), "/ws", "", "", 4096);
      REQUIRE(c.handshake_status() == 101);
      send_timeout(c.fd(), 500);
      std::string frames;
      while (frames.size() < 128 * 1024) frames += k.frame;
      // ~26 MB, each frame earning a reply of about its size that nobody reads.
      for (int round = 0; round < 200; ++round) {
        if (!c.send_raw(frames)) break;
        pushed += frames.size();
      }
    });
    size_t max = probe->max;
    probe.reset();
    INFO("client pushed " << pushed << " bytes; the server held up to " << max << " unsent");
    // The bound, plus what one read of the socket (16 KiB of frames) earns.
    CHECK(max < 128 * 1024);
    CHECK(ws_stats().reads_paused > pauses_before);
  }
}

TEST_CASE("a client that reads its pongs slowly gets every one of them past the output bound") {
  WsServer s;
  s.limits.pause_reading_output = 16 * 1024;
  int pongs = 0;
  s.h.run([&] {
    WsClient c(s.h.port(), "/ws", "", "", 4096);
    REQUIRE(c.handshake_status() == 101);
    std::string pings;
    for (int i = 0; i < 3000; ++i) pings += WsClient::encode(9, std::string(100, static_cast<char>('a' + i % 26)));
    std::thread sender([&] { c.send_raw(pings); });
    for (int i = 0; i < 3000; ++i) {
      if (i % 500 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a slow reader
      auto m = c.read(5000);
      if (!m) break;
      if (m->opcode == 10 && m->data == std::string(100, static_cast<char>('a' + i % 26))) ++pongs;
    }
    sender.join();
  });
  CHECK(pongs == 3000);
}

TEST_CASE("a connection whose unsent output passes max_output is dropped, reported as 1008 and counted") {
  WsServer s;
  s.limits.pause_reading_output = 16 * 1024;
  s.limits.max_output = 512 * 1024;
  auto frame = std::make_shared<const std::string>(encode_ws_frame(ws_binary, std::string(64 * 1024, 'f')));
  bool refused = false;
  s.on_message = [&](WebSocket *ws, WsOpcode, std::string_view) {
    for (int i = 0; i < 100 && !refused; ++i) refused = !ws->send(frame);  // 6.4 MB for a client that reads nothing
  };
  uint64_t dropped_before = ws_stats().dropped_for_output;
  bool ended = false;
  s.h.run([&] {
    WsClient c(s.h.port(), "/ws", "", "", 4096);
    REQUIRE(c.handshake_status() == 101);
    c.send_text("flood me");
    REQUIRE(wait_for_closes(s, 1));
    ended = c.wait_closed(3000);  // what the kernel still had, then the end
  });
  CHECK(refused);
  CHECK(ended);
  REQUIRE(s.closes.size() == 1);
  CHECK(s.closes[0].first == 1008);
  CHECK(ws_stats().dropped_for_output == dropped_before + 1);
}

TEST_CASE("after the server sent its close frame, what the client keeps sending is neither processed nor kept") {
  struct Case {
    std::string what;
    std::function<void(WsClient &)> trigger;
    bool server_closes;
  };
  std::vector<Case> cases = {
      {"invalid UTF-8 (1007)", [](WsClient &c) { c.send_text("caf\xc3"); }, false},
      {"message too big (1009)", [](WsClient &c) { c.send_frame(2, std::string(2000, 'b')); }, false},
      {"the server closes", [](WsClient &c) { c.send_text("close me"); }, true},
  };
  for (const auto &k : cases) {
    CAPTURE(k.what);
    WsServer s;
    s.limits.max_message = 1000;
    s.limits.close_timeout_ms = 2000;
    if (k.server_closes) s.on_message = [](WebSocket *ws, WsOpcode, std::string_view) { ws->close(1000, "bye"); };
    size_t pushed = 0;
    int code = 0;
    s.h.run([&] {
      WsClient c(s.h.port(), "/ws");
      REQUIRE(c.handshake_status() == 101);
      int small = 16 * 1024;
      ::setsockopt(c.fd(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
      send_timeout(c.fd(), 500);
      k.trigger(c);
      auto close = c.read();
      if (close && close->opcode == 8) code = close->close_code();
      // The client ignores the close and keeps sending pings and messages:
      // 48 MB, until the server stops taking them.
      std::string junk;
      for (int i = 0; i < 100; ++i) junk += WsClient::encode(9, "ping") + WsClient::encode(2, std::string(900, 'j'));
      for (int round = 0; round < 500; ++round) {
        if (!c.send_raw(junk)) break;
        pushed += junk.size();
      }
    });
    INFO("client pushed " << pushed << " bytes after the close frame");
    CHECK(code != 0);
    // Loopback socket buffers take a few MB; a server that went on reading takes all of it.
    CHECK(pushed < 8 * 1024 * 1024);
  }
}

TEST_CASE("a client that sends its close frame but reads nothing is cut off after close_timeout") {
  WsServer s;
  s.limits.close_timeout_ms = 300;
  auto frame = std::make_shared<const std::string>(encode_ws_frame(ws_binary, std::string(1024 * 1024, 'f')));
  s.on_message = [&](WebSocket *ws, WsOpcode, std::string_view) {
    for (int i = 0; i < 16; ++i) ws->send(frame);
  };
  size_t got = 0;
  bool ended = false;
  s.h.run([&] {
    WsClient c(s.h.port(), "/ws", "", "", 4096);
    REQUIRE(c.handshake_status() == 101);
    // In one write, so that the server reads the close frame before its
    // unread output pauses reading (a client that does not read is not read).
    c.send_raw(WsClient::encode(1, "16 MB please") + WsClient::encode(8, std::string("\x03\xe8", 2)));
    REQUIRE(wait_for_closes(s, 1));  // the server saw the close frame
    // Well past close_timeout, the client reads what is left for it.
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    while (auto m = c.read(3000)) got += m->data.size();
    ended = c.wait_closed(100);
  });
  INFO("the client still received " << got << " bytes");
  CHECK(ended);
  CHECK(got < 8 * 1024 * 1024);
}
