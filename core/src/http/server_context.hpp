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

#include "engine/uv_timer.hpp"
#include "router.hpp"
#include "server.hpp"
#include "stream_slot.hpp"

namespace vitals::core::http {

class Connection;
class Exchange;
enum class Pool;

// GET or HEAD of /healthz, /health, /ping or /readyz: what a probe slot serves.
bool is_probe_request(const HttpRequest &request);

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
  // Connections per Pool (general, probe, stream; not those closing).
  std::array<uint32_t, 3> in_pool{};
  uint32_t &count(Pool pool);
  // Stream slots held: by connections in the stream pool, and by upgraded
  // sockets, which have left `connections` (and may outlive the server).
  std::shared_ptr<StreamPool> streams = std::make_shared<StreamPool>();

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
  // Starts an accepted socket in the pool it may have (slots.cpp).
  void admit(uv_tcp_t *tcp);
  // Closes the general connection idle longest; false if none is idle.
  bool evict_idle();
  // Empty when max_streams are open (counted and logged).
  StreamSlot take_stream_slot();
  void reject_connection(uv_tcp_t *tcp);  // answers 503 and closes
  void count_refused_connection();        // rejected at accept or from a probe slot
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
