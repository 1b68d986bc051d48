// Who gets a connection slot. Three pools, so that no kind of client can
// take the slots another needs:
//  - general (max_connections): connections serving requests. When it is
//    full, a new connection closes the general connection idle longest (a
//    keep-alive client loses nothing but a reconnect; as nginx reuses idle
//    keep-alive connections), so idle clients cannot lock others out;
//  - probe (probe_slots): when none is idle, a few connections beyond
//    max_connections that answer one liveness/readiness probe each, so a
//    probe does not restart an agent that is only busy;
//  - stream (max_streams): a connection whose response stays open (an event
//    stream) or is upgraded (a WebSocket) moves here, so long-lived clients
//    cannot take the slots that ingest and probes need.
// Beyond all of them: 503 with Retry-After, counted, logged rate-limited.
#include <array>
#include <string_view>

#include "connection.hpp"
#include "log.hpp"
#include "server_context.hpp"

namespace vitals::core::http {

namespace {

// Every power of two: a flood is visible in the log without flooding it.
bool worth_logging(uint64_t n) { return (n & (n - 1)) == 0; }

}  // namespace

bool is_probe_request(const HttpRequest &request) {
  static constexpr std::array<std::string_view, 4> probes = {"/healthz", "/health", "/ping", "/readyz"};
  if (request.method != "GET" && request.method != "HEAD") return false;
  for (std::string_view p : probes)
    if (request.path == p) return true;
  return false;
}

uint32_t &ServerContext::count(Pool pool) { return in_pool[static_cast<size_t>(pool)]; }

void ServerContext::admit(uv_tcp_t *tcp) {
  if (count(Pool::general) < config.max_connections || evict_idle()) {
    ++stats.connections_accepted;
    Connection::start(this, tcp, Pool::general);
  } else if (count(Pool::probe) < config.probe_slots) {
    ++stats.connections_accepted;
    Connection::start(this, tcp, Pool::probe);
  } else {
    reject_connection(tcp);
  }
}

bool ServerContext::evict_idle() {
  Connection *oldest = nullptr;
  // A scan, but only while the pool is full, over at most max_connections
  // plus the streams: cheaper than keeping an idle list in order.
  for (Connection *c : connections)
    if (c->pool() == Pool::general && c->idle() && (!oldest || c->last_read_ns() < oldest->last_read_ns())) oldest = c;
  if (!oldest) return false;
  ++stats.connections_evicted;
  oldest->close();  // leaves the general pool at once
  return true;
}

StreamSlot ServerContext::take_stream_slot() {
  StreamSlot slot = StreamSlot::take(streams, config.max_streams);
  if (!slot && worth_logging(++stats.streams_rejected))
    log_warn("http", "refused a stream: " + std::to_string(config.max_streams) + " streams are open (max_streams); " +
                         std::to_string(stats.streams_rejected) + " refused so far");
  return slot;
}

void ServerContext::count_refused_connection() {
  ++stats.connections_rejected;
  uint64_t n = stats.connections_rejected;
  if (worth_logging(n))
    log_warn("http", "refused a connection: " + std::to_string(config.max_connections) +
                         " connections are busy (max_connections) and " + std::to_string(count(Pool::probe)) +
                         " probe slots taken; " + std::to_string(n) + " refused so far");
}

void ServerContext::reject_connection(uv_tcp_t *tcp) {
  count_refused_connection();
  ++stats.responses_by_class[4];
  // Not a Connection: nothing is read; the socket lives until this write ends.
  struct Refusal {
    uv_write_t req{};
    std::string text;
  };
  auto refusal = std::make_unique<Refusal>();
  std::string body = error_body("too many connections");
  refusal->text =
      "HTTP/1.1 503 Service Unavailable\r\nDate: " + http_date() +
      "\r\nX-Process-Time: 0.00ms\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\nRetry-After: 1\r\nConnection: close\r\n\r\n" + body;
  refusal->req.data = refusal.get();
  uv_buf_t buf = uv_buf_init(refusal->text.data(), static_cast<unsigned>(refusal->text.size()));
  int rc = uv_write(&refusal->req, reinterpret_cast<uv_stream_t *>(tcp), &buf, 1, [](uv_write_t *req, int) {
    std::unique_ptr<Refusal> owned(static_cast<Refusal *>(req->data));
    UvTcpPtr closing(reinterpret_cast<uv_tcp_t *>(req->handle));
  });
  if (rc != 0) {
    UvTcpPtr closing(tcp);
    return;
  }
  stats.bytes_out += refusal->text.size();
  refusal.release();  // freed by the write callback
}

// ---------------------------------------------------------------- Connection

void Connection::move_to(Pool pool) {
  if (pool == pool_) return;
  if (ctx_) {
    if (pool_ != Pool::none) --ctx_->count(pool_);
    if (pool != Pool::none) ++ctx_->count(pool);
  }
  pool_ = pool;
}

bool Connection::idle() const {
  return !closing_ && phase_ == Phase::awaiting_request && queue_.empty() && unparsed_.empty() &&
         writes_in_flight_ == 0;
}

bool Connection::begin_stream() {
  if (!ctx_ || closing_) return false;
  if (!stream_slot_) {
    stream_slot_ = ctx_->take_stream_slot();
    if (!stream_slot_) return false;
    move_to(Pool::stream);
  }
  ++streams_;
  return true;
}

void Connection::end_stream() {
  if (streams_ == 0 || --streams_ > 0 || closing_) return;
  stream_slot_.reset();
  move_to(Pool::general);
  // A stream that ends in a full pool must not overfill it: this connection
  // reads no more requests and goes once its answers are out (advance()).
  if (ctx_ && ctx_->count(Pool::general) > ctx_->config.max_connections) {
    close_when_done_ = true;
    drain();
  }
}

}  // namespace vitals::core::http
