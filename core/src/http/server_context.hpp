// The server state that connections share: config, routes, counters, the
// connection registry and the graceful-close bookkeeping.
#pragma once

#include <uv.h>

#include <array>
#include <ctime>
#include <functional>
#include <memory>
#include <string>
#include <unordered_set>

#include "../uv_timer.hpp"
#include "router.hpp"
#include "server.hpp"

namespace vitals::core::http {

class Connection;
class Exchange;

struct ServerContext {
  ServerContext(uv_loop_t *loop, HttpServerConfig config) : loop(loop), config(std::move(config)) {}
  ~ServerContext();

  uv_loop_t *loop;
  HttpServerConfig config;
  Router router;
  HttpServerStats stats;

  // Owned; freed by its close callback, which may run after we are gone.
  uv_tcp_t *listener = nullptr;
  uint16_t port = 0;
  // Bound to 127.0.0.0/8 or ::1: only local Host names are served (DNS rebinding).
  bool loopback_listener = true;
  // Connections free themselves in their socket's close callback and leave
  // this set then; the set never owns them.
  std::unordered_set<Connection *> connections;

  // Request body bytes received or announced (Content-Length) and not yet
  // handed to a handler, over every connection: max_connections x max_body
  // would be gigabytes.
  uint64_t body_bytes_in_flight = 0;

  bool draining = false;
  bool listener_closed = true;
  std::function<void()> close_done;
  std::unique_ptr<UvTimer> close_deadline;

  // Every read is consumed before the next one starts, so one buffer serves
  // all connections.
  std::array<char, 64 * 1024> read_buffer{};

  bool listen(std::string &error);
  void accept_one();
  void reject_connection(uv_tcp_t *tcp);  // answers 503 and closes
  // Auth, routing and the handler call for one complete request.
  void dispatch(HttpRequest &request, const std::shared_ptr<Exchange> &exchange);
  void begin_close(std::function<void()> done, uint64_t deadline_ms);
  void connection_gone(Connection *connection);
  void finish_close_if_done();
  // The Date header value, formatted once per second.
  const std::string &http_date();

 private:
  std::time_t date_second_ = 0;
  std::string date_;
};

}  // namespace vitals::core::http
