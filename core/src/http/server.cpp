// The listening socket and the connection set: binding, accepting (who gets
// a slot is slots.cpp's), the graceful close, and the public HttpServer facade.
#include "server.hpp"

#include <csignal>
#include <cstdio>

#include "connection.hpp"
#include "log.hpp"
#include "server_context.hpp"

namespace vitals::core {

namespace http {

namespace {

// "127.0.0.1:8470", "[::1]:8470", ":8470" and "*:8470" (every interface),
// "localhost:8470". Only literal addresses: name resolution would block the loop.
bool parse_listen(const std::string &listen, sockaddr_storage &addr, std::string &error) {
  std::string host, port_text;
  if (!listen.empty() && listen.front() == '[') {
    size_t close = listen.find(']');
    if (close == std::string::npos || close + 1 >= listen.size() || listen[close + 1] != ':') {
      error = "listen address \"" + listen + "\": expected [IPv6]:port";
      return false;
    }
    host = listen.substr(1, close - 1);
    port_text = listen.substr(close + 2);
  } else {
    size_t colon = listen.rfind(':');
    if (colon == std::string::npos) {
      error = "listen address \"" + listen + "\": expected host:port";
      return false;
    }
    host = listen.substr(0, colon);
    port_text = listen.substr(colon + 1);
    if (host.empty() || host == "*") host = "0.0.0.0";
    if (host == "localhost") host = "127.0.0.1";
  }
  if (port_text.empty() || port_text.size() > 5 || port_text.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(port_text) > 65535) {
    error = "listen address \"" + listen + "\": port must be a number from 0 to 65535";
    return false;
  }
  int port = static_cast<int>(std::stoul(port_text));
  if (host.find(':') != std::string::npos) {
    if (uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6 *>(&addr)) == 0) return true;
  } else if (uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in *>(&addr)) == 0) {
    return true;
  }
  error = "listen address \"" + listen + "\": \"" + host + "\" is not an IP address";
  return false;
}

void on_listener_closed(uv_handle_t *handle) {
  std::unique_ptr<uv_tcp_t> tcp(reinterpret_cast<uv_tcp_t *>(handle));
  auto *ctx = static_cast<ServerContext *>(handle->data);
  if (!ctx) return;
  ctx->listener = nullptr;
  ctx->listener_closed = true;
  ctx->finish_close_if_done();
}

void close_listener(ServerContext &ctx) {
  if (ctx.listener && !uv_is_closing(reinterpret_cast<uv_handle_t *>(ctx.listener)))
    uv_close(reinterpret_cast<uv_handle_t *>(ctx.listener), on_listener_closed);
}

// libuv writes to sockets with write(2): a client that resets the connection
// would kill the whole agent with SIGPIPE. Ignore it unless someone installed
// a handler of their own; the write then fails with EPIPE and we close.
void ignore_sigpipe() {
  struct sigaction current {};
  if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    sigaction(SIGPIPE, &ignore, nullptr);
  }
}

}  // namespace

ServerContext::~ServerContext() {
  // Connections outlive us only until their close callbacks; they must not
  // reach back.
  auto open = connections;
  connections.clear();
  for (Connection *c : open) {
    c->forget_server();
    c->close();
  }
  if (listener) {
    listener->data = nullptr;
    close_listener(*this);
  }
}

bool ServerContext::listen(std::string &error) {
  ignore_sigpipe();
  sockaddr_storage addr{};
  if (!parse_listen(config.listen, addr, error)) return false;
  auto tcp = std::make_unique<uv_tcp_t>();
  uv_tcp_init(loop, tcp.get());
  tcp->data = this;
  int rc = uv_tcp_bind(tcp.get(), reinterpret_cast<const sockaddr *>(&addr), 0);
  if (rc == 0) {
    rc = uv_listen(reinterpret_cast<uv_stream_t *>(tcp.get()), 511, [](uv_stream_t *server, int status) {
      auto *ctx = static_cast<ServerContext *>(server->data);
      if (!ctx) return;
      if (status < 0) {
        log_warn("http", std::string("accept failed: ") + uv_strerror(status));
        return;
      }
      ctx->accept_one();
    });
  }
  if (rc != 0) {
    error = "cannot listen on " + config.listen + ": " + uv_strerror(rc);
    tcp->data = nullptr;
    UvTcpPtr closing(tcp.release());
    return false;
  }
  sockaddr_storage bound{};
  int len = sizeof bound;
  uv_tcp_getsockname(tcp.get(), reinterpret_cast<sockaddr *>(&bound), &len);
  port = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6 *>(&bound)->sin6_port
                                           : reinterpret_cast<sockaddr_in *>(&bound)->sin_port);
  loopback_listener = bound.ss_family == AF_INET6
                          ? IN6_IS_ADDR_LOOPBACK(&reinterpret_cast<sockaddr_in6 *>(&bound)->sin6_addr)
                          : (ntohl(reinterpret_cast<sockaddr_in *>(&bound)->sin_addr.s_addr) >> 24) == 127;
  listener = tcp.release();  // freed by on_listener_closed
  listener_closed = false;
  return true;
}

void ServerContext::accept_one() {
  auto tcp = std::make_unique<uv_tcp_t>();
  uv_tcp_init(loop, tcp.get());
  if (uv_accept(reinterpret_cast<uv_stream_t *>(listener), reinterpret_cast<uv_stream_t *>(tcp.get())) != 0) {
    UvTcpPtr closing(tcp.release());
    return;
  }
  admit(tcp.release());
}

void ServerContext::begin_close(std::function<void()> done, uint64_t deadline_ms) {
  if (!draining) {
    draining = true;
    close_listener(*this);
    auto open = connections;
    for (Connection *c : open) c->drain();
  }
  // A repeated close() hears about the same end (at once if it already came).
  close_done = [first = std::move(close_done), done = std::move(done)] {
    if (first) first();
    if (done) done();
  };
  if (!close_deadline) {
    close_deadline = std::make_unique<UvTimer>(loop, [this] {
      auto remaining = connections;
      for (Connection *c : remaining) c->close();
      finish_close_if_done();
    });
  }
  // Nothing to wait for: still report from the loop, never from inside close().
  close_deadline->start(connections.empty() && listener_closed ? 0 : deadline_ms);
}

void ServerContext::connection_gone(Connection *connection) {
  connections.erase(connection);
  stats.connections_active = connections.size();
}

void ServerContext::finish_close_if_done() {
  if (!draining || !listener_closed || !connections.empty() || !close_done) return;
  close_deadline.reset();
  auto done = std::move(close_done);
  close_done = nullptr;
  done();  // last: the owner may destroy the server here
}

const std::string &ServerContext::http_date() {
  std::time_t now = std::time(nullptr);
  if (now != date_second_ || date_.empty()) {
    static constexpr const char *days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr const char *months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    std::tm t{};
    gmtime_r(&now, &t);
    char buf[40];
    // Not strftime: %a and %b follow the locale, HTTP wants English.
    std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[t.tm_wday % 7], t.tm_mday,
                  months[t.tm_mon % 12], t.tm_year + 1900, t.tm_hour, t.tm_min, t.tm_sec);
    date_ = buf;
    date_second_ = now;
  }
  return date_;
}

}  // namespace http

HttpServer::HttpServer(uv_loop_t *loop, HttpServerConfig config)
    : ctx_(std::make_unique<http::ServerContext>(loop, std::move(config))) {}

HttpServer::~HttpServer() = default;

bool HttpServer::listen(std::string &error) { return ctx_->listen(error); }

uint16_t HttpServer::port() const { return ctx_->port; }

RouteId HttpServer::add_route(HttpRoute route, std::string &error) { return ctx_->router.add(std::move(route), error); }

bool HttpServer::remove_route(RouteId id) { return ctx_->router.remove(id); }

void HttpServer::set_token(std::string token) { ctx_->config.token = std::move(token); }

const HttpServerStats &HttpServer::stats() const {
  // Upgraded sockets give their slots back without the server hearing of it.
  ctx_->stats.streams_active = ctx_->streams->open;
  return ctx_->stats;
}

void HttpServer::close(std::function<void()> done, uint64_t deadline_ms) {
  ctx_->begin_close(std::move(done), deadline_ms);
}

}  // namespace vitals::core
