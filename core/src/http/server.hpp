// The agent's HTTP/1.1 server on the one libuv loop: keep-alive, pipelining
// in order, bounded requests, timeouts, bearer-token auth, gzip, streaming.
#pragma once

#include <uv.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "request.hpp"
#include "response.hpp"

namespace vitals::core {

namespace http {
struct ServerContext;
}

struct HttpServerConfig {
  std::string listen = "127.0.0.1:8470";  // host:port or [v6]:port; port 0 picks a free one
  // Connections serving requests. When all are taken, a new connection
  // closes the one idle longest, else takes a probe slot, else gets 503.
  uint32_t max_connections = 256;
  // Long-lived streams (a streamed response kept open, an upgraded socket)
  // leave max_connections for this pool; beyond it a stream request gets 503.
  uint32_t max_streams = 256;
  // Connections beyond max_connections that serve only liveness/readiness
  // probes (/healthz, /health, /ping, /readyz), one request each.
  uint32_t probe_slots = 8;
  uint32_t max_header_bytes = 16 * 1024;       // request line + headers, else 431
  uint32_t max_header_count = 100;             // else 431
  uint64_t max_body_bytes = 16 * 1024 * 1024;  // else 413 (Content-Length checked before reading)
  uint64_t header_timeout_ms = 10'000;         // the whole header must arrive within it, else 408
  uint64_t idle_timeout_ms = 60'000;           // keep-alive idle and stalled bodies, then close
  uint64_t min_body_rate = 500;  // bytes/s a body must bring in every header_timeout window, else 408; 0: any
  uint64_t max_bodies_in_flight = 64 * 1024 * 1024;  // request body bytes held by all connections; else 503
  uint64_t slow_request_ms = 1'000;                  // slower answers are logged as warnings
  uint64_t response_timeout_ms = 60'000;             // a handler that has not begun its answer by then: 504; 0: never
  uint32_t max_pending_requests = 16;                // per connection; reading pauses beyond it
  uint64_t max_output_buffer = 1024 * 1024;          // unsent answer bytes per connection; reading pauses beyond it
  uint32_t gzip_min_bytes = 1024;                    // smaller bodies are never compressed
  int gzip_level = 1;                                // fast: compression must not dominate query latency
  uint64_t linger_ms = 2'000;                        // reading is drained this long before a close
  std::string token;                                 // bearer token; empty: no auth, and admin routes are refused
  // Host names served besides "localhost", *.localhost and IP literals ("*":
  // any). Empty on a non-loopback listen address: any name. See host_origin.hpp.
  std::vector<std::string> allowed_hosts;
};

enum class RouteAccess {
  normal,  // needs the token when one is configured
  open,    // never needs it (/healthz)
  admin,   // always needs it; 403 when no token is configured
};

using HttpHandler = std::function<void(const HttpRequest &request, std::shared_ptr<HttpResponse> response)>;

struct HttpRoute {
  std::string method;  // "GET" (which also answers HEAD), "POST", ...
  std::string path;    // exact ("/api/query"), or a prefix ending in "/*" ("/dashboard/*")
  HttpHandler handler;
  RouteAccess access = RouteAccess::normal;
};

using RouteId = uint64_t;  // 0 is never a valid id

// Counters since start, read on the loop thread; exported as self-metrics.
struct HttpServerStats {
  uint64_t connections_accepted = 0;
  uint64_t connections_rejected = 0;  // over max_connections (and the probe slots)
  uint64_t connections_evicted = 0;   // idle keep-alive connections closed to admit a new one
  uint64_t connections_active = 0;
  uint64_t connections_upgraded = 0;  // handed over after 101
  uint64_t requests = 0;
  std::array<uint64_t, 5> responses_by_class{};  // [0] 1xx ... [4] 5xx
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  uint64_t request_timeouts = 0;   // 408: header (or a stalled body) too slow
  uint64_t idle_timeouts = 0;      // quiet keep-alive connections closed
  uint64_t slow_requests = 0;      // answered after more than slow_request_ms
  uint64_t response_timeouts = 0;  // 504: the handler did not begin its answer within response_timeout_ms
  uint64_t bodies_refused = 0;     // 503: max_bodies_in_flight reached
  uint64_t streams_active = 0;     // streamed responses and upgraded sockets open
  uint64_t streams_rejected = 0;   // 503: max_streams reached
};

class HttpServer {
 public:
  HttpServer(uv_loop_t *loop, HttpServerConfig config);
  // Closes everything at once. Prefer close() and destroy after `done`.
  ~HttpServer();
  HttpServer(const HttpServer &) = delete;
  HttpServer &operator=(const HttpServer &) = delete;

  // Binds and listens; on failure returns false and sets `error` to one line
  // naming the address.
  bool listen(std::string &error);
  uint16_t port() const;  // the bound port (useful with port 0)

  // Returns 0 and sets `error` when the route is malformed or taken. Routes
  // may be added and removed at any time, from the loop thread.
  RouteId add_route(HttpRoute route, std::string &error);
  bool remove_route(RouteId id);

  // A new token applies to the next request (SIGHUP reload).
  void set_token(std::string token);

  const HttpServerStats &stats() const;

  // Stops accepting, closes idle connections, lets responses in flight finish
  // (each then closes its connection) and force-closes what remains after
  // `deadline_ms`. `done` runs on the loop once every socket is closed.
  void close(std::function<void()> done, uint64_t deadline_ms = 5'000);

 private:
  std::unique_ptr<http::ServerContext> ctx_;
};

}  // namespace vitals::core
