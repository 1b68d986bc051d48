// A real HttpServer on a private libuv loop in the fuzzing thread, and a
// client socket on 127.0.0.1 that sends a fuzz input as one connection's
// bytes. Everything runs in one thread: the loop is stepped (UV_RUN_NOWAIT)
// while the client writes and drains, so an input's outcome does not depend
// on thread scheduling.
//
// One exchange: connect, send every byte, step until the server is idle
// (nothing readable left on its sockets, no write in flight, no timer or
// callback due now), then half-close; the server takes EOF as "client gone"
// and closes; the client resets its end (no TIME_WAIT) and the loop runs
// until every handle the connection made is closed again. Nothing of the
// connection outlives the exchange; the server and its routes persist
// (created once per process) as in the agent.
#pragma once

#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "http/server.hpp"
#include "http/websocket.hpp"
#include "http/websocket_protocol.hpp"

namespace vitals::fuzz {

using namespace ::vitals::core;

inline constexpr const char *kFuzzToken = "fuzz-token";

class FuzzServer {
 public:
  static FuzzServer &get() {
    static FuzzServer *server = new FuzzServer();  // never destroyed: the loop outlives every input
    return *server;
  }

  // Sends `bytes` on a new connection; returns what the server answered
  // (capped at 1 MiB). Aborts if the exchange does not end within 10 s.
  std::string exchange(std::string_view bytes) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) fail("socket");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(server_->port());
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0 && errno != EINPROGRESS) fail("connect");
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    uint64_t accepted_before = server_->stats().connections_accepted;
    std::string received;
    size_t sent = 0;
    bool half_closed = false, ended = false;
    int quiet = 0;
    while (!ended) {
      if (std::chrono::steady_clock::now() > deadline) fail("the exchange did not end within 10 s");
      if (sent < bytes.size()) {
        ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
        if (n > 0)
          sent += static_cast<size_t>(n);
        else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOTCONN)
          sent = bytes.size();  // reset
      }
      uv_run(&loop_, UV_RUN_NOWAIT);
      ended = drain(fd, received);
      if (ended || half_closed || sent < bytes.size()) continue;
      // Idle several times in a row: everything sent has been handled.
      bool accepted = server_->stats().connections_accepted > accepted_before;
      quiet = accepted && server_idle() ? quiet + 1 : 0;
      if (quiet >= 3) {
        ::shutdown(fd, SHUT_WR);
        half_closed = true;
      }
    }
    linger l{1, 0};  // reset: leave no TIME_WAIT behind
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    ::close(fd);
    while (handle_count() != baseline_handles_) {
      if (std::chrono::steady_clock::now() > deadline) fail("the connection's handles were not all closed");
      uv_run(&loop_, UV_RUN_NOWAIT);
    }
    return received;
  }

 private:
  FuzzServer() {
    uv_loop_init(&loop_);
    HttpServerConfig config;
    config.listen = "127.0.0.1:0";
    config.token = kFuzzToken;
    config.max_body_bytes = 256 * 1024;  // decoded bodies too: a zip bomb stops here
    config.max_pending_requests = 4;     // pipelining beyond it pauses reading
    config.gzip_min_bytes = 64;          // echoes get compressed
    config.header_timeout_ms = 5'000;
    config.idle_timeout_ms = 5'000;
    config.linger_ms = 5'000;
    config.allowed_hosts = {"vitals.example"};
    server_ = std::make_unique<HttpServer>(&loop_, config);
    std::string error;
    if (!server_->listen(error)) fail(error.c_str());
    add_routes();
    // Let the listener settle, then count what exists between exchanges.
    for (int i = 0; i < 3; ++i) uv_run(&loop_, UV_RUN_NOWAIT);
    baseline_handles_ = handle_count();
  }

  void add_routes() {
    using Response = std::shared_ptr<HttpResponse>;
    auto add = [&](const char *method, const char *path, RouteAccess access, HttpHandler handler) {
      std::string error;
      if (server_->add_route({method, path, std::move(handler), access}, error) == 0) fail(error.c_str());
    };
    add("GET", "/healthz", RouteAccess::open,
        [](const HttpRequest &, Response res) { res->send(200, "text/plain", "ok\n"); });
    // The decoded body back, with the request's content type: response gzip.
    add("POST", "/api/echo", RouteAccess::normal, [](const HttpRequest &req, Response res) {
      res->send(200, std::string(req.header("Content-Type").value_or("application/json")), req.body);
    });
    // What the server made of the target and the headers.
    add("GET", "/api/params", RouteAccess::normal, [](const HttpRequest &req, Response res) {
      std::string out = req.method + " " + req.path + "\n";
      for (const auto &[k, v] : req.query) out += k + "=" + v + "\n";
      for (const auto &[k, v] : req.headers) out += k + ": " + v + "\n";
      res->send(200, "text/plain", std::move(out));
    });
    add("GET", "/dashboard/*", RouteAccess::open,
        [](const HttpRequest &req, Response res) { res->send(200, "text/html", "<p>" + req.path + "</p>"); });
    add("POST", "/api/admin/reload", RouteAccess::admin,
        [](const HttpRequest &, Response res) { res->send(204, HttpHeaders{}, ""); });
    // A chunked stream (close-delimited for HTTP/1.0).
    add("GET", "/api/stream", RouteAccess::normal, [](const HttpRequest &req, Response res) {
      res->start(200, HttpHeaders{{"Content-Type", "text/event-stream"}});
      res->write("data: " + req.path + "\n\n");
      res->write(std::string(100, 'x'));
      res->end();
    });
    // A handler that drops its response unanswered (the server answers 500).
    add("GET", "/api/forget", RouteAccess::normal, [](const HttpRequest &, Response) {});
    // WebSocket: echo; a binary message starting with 'C' closes with the
    // code in its next two bytes and the rest as the reason.
    add("GET", "/ws", RouteAccess::normal, [](const HttpRequest &req, Response res) {
      http::WsHandshake hs = http::check_websocket_handshake(req);
      if (hs.status != 101) {
        res->send(hs.status, "text/plain", hs.error);
        return;
      }
      res->upgrade(
          {{"Upgrade", "websocket"}, {"Connection", "Upgrade"}, {"Sec-WebSocket-Accept", hs.accept}},
          [](UvTcpPtr socket, std::string already_read) {
            auto self = std::make_shared<http::WebSocket *>(nullptr);
            http::WebSocket::Handlers handlers;
            handlers.on_message = [self](http::WsOpcode op, std::string_view data) {
              if (op == http::ws_binary && data.size() >= 3 && data[0] == 'C') {
                auto code = static_cast<uint16_t>(static_cast<uint8_t>(data[1]) << 8 | static_cast<uint8_t>(data[2]));
                (*self)->close(code, data.substr(3));
                return;
              }
              (*self)->send(std::make_shared<const std::string>(http::encode_ws_frame(op, data)));
            };
            handlers.on_close = [](uint16_t, std::string_view) {};
            http::WsLimits limits;
            limits.max_message = 16 * 1024;
            limits.close_timeout_ms = 5'000;
            *self = http::WebSocket::start(std::move(socket), std::move(already_read), std::move(handlers), limits);
          });
    });
  }

  // Reads what is there; true once the server closed or reset the connection.
  static bool drain(int fd, std::string &received) {
    char buf[16384];
    for (;;) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n > 0) {
        if (received.size() < (1u << 20)) received.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n == 0) return true;
      return errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOTCONN;
    }
  }

  // No work due now, no write in flight, and nothing unread on the server's
  // sockets that read (one that paused reading resumes through a timer).
  bool server_idle() {
    if (uv_backend_timeout(&loop_) == 0 || loop_.active_reqs.count != 0) return false;
    bool unread = false;
    uv_walk(
        &loop_,
        [](uv_handle_t *h, void *arg) {
          if (h->type != UV_TCP || uv_is_closing(h) || !uv_is_active(h)) return;
          uv_os_fd_t fd = -1;
          int pending = 0;
          if (uv_fileno(h, &fd) == 0 && ::ioctl(fd, FIONREAD, &pending) == 0 && pending > 0)
            *static_cast<bool *>(arg) = true;
        },
        &unread);
    return !unread;
  }

  size_t handle_count() {
    size_t n = 0;
    uv_walk(
        &loop_, [](uv_handle_t *, void *arg) { ++*static_cast<size_t *>(arg); }, &n);
    return n;
  }

  [[noreturn]] static void fail(const char *what) {
    std::fprintf(stderr, "fuzz server: %s\n", what);
    std::abort();
  }

  uv_loop_t loop_{};
  std::unique_ptr<HttpServer> server_;
  size_t baseline_handles_ = 0;
};

// With VITALS_FUZZ_SHOW=1 in the environment, prints what the server
// answered (for writing seeds: did the request reach its route?).
inline void show_answer(std::string_view answer) {
  static const bool show = std::getenv("VITALS_FUZZ_SHOW") != nullptr;
  if (!show) return;
  std::string printable;
  for (char c : answer.substr(0, 600)) printable += (c >= ' ' && c <= '~') || c == '\n' ? c : '.';
  std::fprintf(stderr, "--- answer (%zu bytes)\n%s\n", answer.size(), printable.c_str());
}

}  // namespace vitals::fuzz
