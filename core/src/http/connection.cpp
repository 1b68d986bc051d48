// A connection's input side: reading, request parsing with size limits,
// backpressure, the header/idle/body timeouts, and dispatch.
#include "connection.hpp"

#include <algorithm>
#include <climits>
#include <cstdint>

#include "gzip.hpp"
#include "log.hpp"
#include "server_context.hpp"
#include "uri.hpp"

namespace vitals::core::http {

namespace {

Connection *self(http_parser *p) { return static_cast<Connection *>(p->data); }
uv_stream_t *as_stream(uv_tcp_t *tcp) { return reinterpret_cast<uv_stream_t *>(tcp); }

// What a request line adds around its target ("POST " ... " HTTP/1.1\r\n"),
// and what each header line adds around its name and value (": ", CRLF).
constexpr size_t kRequestLineOverhead = 20;
constexpr size_t kHeaderLineOverhead = 4;

std::string peer_name(uv_tcp_t *tcp) {
  sockaddr_storage addr{};
  int len = sizeof addr;
  if (uv_tcp_getpeername(tcp, reinterpret_cast<sockaddr *>(&addr), &len) != 0) return "-";
  char ip[64] = {};
  if (addr.ss_family == AF_INET6) {
    const auto *a6 = reinterpret_cast<const sockaddr_in6 *>(&addr);
    uv_ip6_name(a6, ip, sizeof ip);
    return "[" + std::string(ip) + "]:" + std::to_string(ntohs(a6->sin6_port));
  }
  const auto *a4 = reinterpret_cast<const sockaddr_in *>(&addr);
  uv_ip4_name(a4, ip, sizeof ip);
  return std::string(ip) + ":" + std::to_string(ntohs(a4->sin_port));
}

}  // namespace

const http_parser_settings Connection::parser_settings = [] {
  http_parser_settings s;
  http_parser_settings_init(&s);
  s.on_message_begin = [](http_parser *p) { return self(p)->on_message_begin(); };
  s.on_url = [](http_parser *p, const char *at, size_t n) { return self(p)->on_url(at, n); };
  s.on_header_field = [](http_parser *p, const char *at, size_t n) { return self(p)->on_header_field(at, n); };
  s.on_header_value = [](http_parser *p, const char *at, size_t n) { return self(p)->on_header_value(at, n); };
  s.on_headers_complete = [](http_parser *p) { return self(p)->on_headers_complete(); };
  s.on_chunk_header = [](http_parser *p) { return self(p)->on_chunk_header(); };
  s.on_body = [](http_parser *p, const char *at, size_t n) { return self(p)->on_body(at, n); };
  s.on_message_complete = [](http_parser *p) { return self(p)->on_message_complete(); };
  return s;
}();

Connection::Connection(ServerContext *ctx, uv_tcp_t *tcp, Pool pool)
    : ctx_(ctx),
      tcp_(tcp),
      remote_address_(peer_name(tcp)),
      pool_(pool),
      last_read_ns_(uv_hrtime()),
      timer_(ctx->loop, [this] { on_timeout(); }),
      resume_timer_(ctx->loop, [this] { resume_if_possible(); }),
      answer_timer_(ctx->loop, [this] { on_answer_timeout(); }),
      handover_timer_(ctx->loop, [this] {
        // An upgrade whose 101 head went out at once (no write_done to come).
        if (upgrade_handler_ && writes_in_flight_ == 0 && !closing_) handover();  // frees this connection
      }) {
  tcp_->data = this;
  http_parser_init(&parser_, HTTP_REQUEST);
  parser_.data = this;
}

void Connection::start(ServerContext *ctx, uv_tcp_t *accepted, Pool pool) {
  std::unique_ptr<Connection> c(new Connection(ctx, accepted, pool));
  ctx->connections.insert(c.get());
  ++ctx->count(pool);
  ctx->stats.connections_active = ctx->connections.size();
  // Small responses must not wait for Nagle's algorithm.
  uv_tcp_nodelay(accepted, 1);
  c->start_reading();
  c->arm_timer();
  // Owned by its socket from here on: on_closed (or handover) frees it.
  c.release();
}

// ---------------------------------------------------------------- reading

void Connection::on_alloc(uv_handle_t *handle, size_t, uv_buf_t *buf) {
  auto *c = static_cast<Connection *>(handle->data);
  *buf = uv_buf_init(c->ctx_->read_buffer.data(), static_cast<unsigned>(c->ctx_->read_buffer.size()));
}

void Connection::on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
  auto *c = static_cast<Connection *>(stream->data);
  if (nread == 0) return;
  if (nread < 0) {
    // EOF or reset. A client that half-closes counts as gone: that is what
    // lets streaming responses notice a closed browser tab.
    c->close();
    return;
  }
  c->ctx_->stats.bytes_in += static_cast<uint64_t>(nread);
  c->last_read_ns_ = uv_hrtime();
  if (c->phase_ == Phase::lingering) return;  // draining before close: discard
  c->feed(buf->base, static_cast<size_t>(nread));
  // A body keeps its connection while it keeps moving fast enough; the
  // deadline moves with what arrived (counted by feed, hence after it).
  if (c->phase_ == Phase::in_body && !c->closing_) c->arm_timer();
}

void Connection::feed(const char *data, size_t length) {
  size_t offset = 0;
  while (offset < length) {
    if (closing_ || phase_ == Phase::stopped || phase_ == Phase::lingering) return;
    if (must_pause_input()) {
      // Backpressure: keep the rest unparsed and stop reading until responses
      // drain, so one pipelining client cannot queue unbounded work, nor
      // unbounded answers by never reading them.
      unparsed_.assign(data + offset, length - offset);
      stop_reading();
      arm_timer();
      return;
    }
    offset += http_parser_execute(&parser_, &parser_settings, data + offset, length - offset);
    auto err = HTTP_PARSER_ERRNO(&parser_);
    if (err == HPE_PAUSED) {
      // on_message_complete paused the parser: one whole request is ready.
      http_parser_pause(&parser_, 0);
      bool upgrade = request_.upgrade;
      // After an upgrade request the bytes belong to the new protocol.
      if (upgrade) upgrade_bytes_.assign(data + offset, length - offset);
      dispatch_request();
      if (upgrade) return;
      continue;
    }
    if (err != HPE_OK) {
      if (reject_status_ != 0) {
        reject(reject_status_, reject_message_);
      } else if (err == HPE_HEADER_OVERFLOW) {
        reject(431, "request header too large");
      } else {
        reject(400, std::string("malformed request: ") + http_errno_description(err));
      }
      return;
    }
  }
}

bool Connection::add_header_bytes(size_t n) {
  header_bytes_ += n;
  if (header_bytes_ <= ctx_->config.max_header_bytes) return true;
  reject_status_ = 431;
  reject_message_ = "request header larger than " + std::to_string(ctx_->config.max_header_bytes) + " bytes";
  return false;
}

int Connection::on_message_begin() {
  request_ = HttpRequest{};
  request_.remote_address = remote_address_;
  header_bytes_ = kRequestLineOverhead;
  header_count_ = 0;
  field_.clear();
  value_.clear();
  in_value_ = false;
  headers_done_ = false;
  phase_ = Phase::in_headers;
  // The first request's deadline already runs from accept: a client may not
  // buy time by connecting early and sending slowly.
  if (!first_request_) timer_.start(ctx_->config.header_timeout_ms);
  first_request_ = false;
  return 0;
}

int Connection::on_url(const char *at, size_t length) {
  request_.target.append(at, length);
  return add_header_bytes(length) ? 0 : 1;
}

bool Connection::commit_header() {
  // http-parser (not built strict) takes "Transfer-Encoding : chunked" as
  // Transfer-Encoding; a proxy in front may not, and that disagreement about
  // framing is what request smuggling needs. RFC 9112 section 5.1: 400.
  if (field_.find_first_of(" \t") != std::string::npos) {
    reject_status_ = 400;
    reject_message_ = "whitespace between a header field name and its colon";
    return false;
  }
  // Trailers after a chunked body count against the limits but are dropped.
  if (!headers_done_) request_.headers.add(std::move(field_), std::move(value_));
  field_.clear();
  value_.clear();
  return true;
}

int Connection::on_header_field(const char *at, size_t length) {
  if (in_value_ && !commit_header()) return 1;
  in_value_ = false;
  if (field_.empty()) {
    if (++header_count_ > ctx_->config.max_header_count) {
      reject_status_ = 431;
      reject_message_ = "more than " + std::to_string(ctx_->config.max_header_count) + " header fields";
      return 1;
    }
    if (!add_header_bytes(kHeaderLineOverhead)) return 1;
  }
  field_.append(at, length);
  return add_header_bytes(length) ? 0 : 1;
}

int Connection::on_header_value(const char *at, size_t length) {
  in_value_ = true;
  value_.append(at, length);
  return add_header_bytes(length) ? 0 : 1;
}

// RFC 9110 section 2.5 and RFC 9112 section 3.2: what makes a request line
// and header unanswerable whatever the route. Empty when the request is fine.
std::string Connection::version_and_host_problem(int &status) const {
  if (parser_.http_major != 1) {
    status = 505;
    return "HTTP/" + std::to_string(parser_.http_major) + "." + std::to_string(parser_.http_minor) +
           " is not supported: this server speaks HTTP/1.1";
  }
  size_t hosts = 0;
  for (const auto &[name, value] : request_.headers) hosts += iequals(name, "Host") ? 1 : 0;
  status = 400;
  // Two Host fields let two parsers pick two different ones.
  if (hosts > 1) return "more than one Host header field";
  if (hosts == 0 && parser_.http_minor >= 1) return "an HTTP/1.1 request needs a Host header field";
  return {};
}

int Connection::on_headers_complete() {
  if (!field_.empty() && !commit_header()) return -1;
  in_value_ = false;
  headers_done_ = true;
  request_.method = http_method_str(static_cast<http_method>(parser_.method));
  int status = 0;
  if (std::string problem = version_and_host_problem(status); !problem.empty()) {
    reject_status_ = status;
    reject_message_ = std::move(problem);
    return -1;
  }
  request_.http_major = parser_.http_major;
  // A later 1.x minor is read as the highest we implement (RFC 9110 section 2.5).
  request_.http_minor = std::min(parser_.http_minor, static_cast<unsigned short>(1));
  request_.upgrade = parser_.upgrade != 0;
  if (!split_target(request_.target, request_.path, request_.query_string)) {
    reject_status_ = 400;
    reject_message_ = "malformed request target";
    return -1;
  }
  request_.query = parse_query(request_.query_string);
  bool chunked = (parser_.flags & F_CHUNKED) != 0;
  if (!chunked && parser_.content_length != ULLONG_MAX && parser_.content_length > ctx_->config.max_body_bytes) {
    // Refused before a byte of the body is read.
    reject_status_ = 413;
    reject_message_ = "request body larger than " + std::to_string(ctx_->config.max_body_bytes) + " bytes";
    return -1;
  }
  bool has_body = chunked || (parser_.content_length != ULLONG_MAX && parser_.content_length > 0);
  // A client waiting for "100 Continue" only gets it when nothing is ahead of
  // it in the queue: an interim response must not overtake earlier answers.
  if (has_body && queue_.empty() && request_.http_minor >= 1 && request_.headers.has_token("Expect", "100-continue"))
    write("HTTP/1.1 100 Continue\r\n\r\n", {});
  phase_ = Phase::in_body;
  rate_window_start_ns_ = uv_hrtime();
  rate_window_bytes_ = 0;
  arm_timer();
  return 0;
}

int Connection::on_chunk_header() {
  // The chunk size is known before its bytes: a chunk that cannot fit is
  // refused now, not after waiting for data the client may never send.
  if (parser_.content_length != ULLONG_MAX &&
      request_.body.size() + parser_.content_length > ctx_->config.max_body_bytes) {
    reject_status_ = 413;
    reject_message_ = "request body larger than " + std::to_string(ctx_->config.max_body_bytes) + " bytes";
    return 1;
  }
  return 0;
}

int Connection::on_body(const char *at, size_t length) {
  // Chunked bodies carry no length up front: count as they come.
  if (request_.body.size() + length > ctx_->config.max_body_bytes) {
    reject_status_ = 413;
    reject_message_ = "request body larger than " + std::to_string(ctx_->config.max_body_bytes) + " bytes";
    return 1;
  }
  if (request_.body.size() + length > body_reserved_ &&
      !reserve_body_bytes(request_.body.size() + length - body_reserved_))
    return 1;
  request_.body.append(at, length);
  rate_window_bytes_ += length;
  uint64_t window_ms = ctx_->config.header_timeout_ms;
  if (rate_window_bytes_ * 1000 >= ctx_->config.min_body_rate * window_ms) {  // this window is satisfied
    rate_window_start_ns_ = uv_hrtime();
    rate_window_bytes_ = 0;
  }
  return 0;
}

bool Connection::reserve_body_bytes(uint64_t n) {
  if (ctx_->body_bytes_in_flight + n > ctx_->config.max_bodies_in_flight) {
    ++ctx_->stats.bodies_refused;
    reject_status_ = 503;
    reject_message_ = "too many request bodies in flight (max_bodies_in_flight " +
                      std::to_string(ctx_->config.max_bodies_in_flight) + " bytes); retry";
    return false;
  }
  ctx_->body_bytes_in_flight += n;
  body_reserved_ += n;
  return true;
}

void Connection::release_body_bytes() {
  if (ctx_) ctx_->body_bytes_in_flight -= body_reserved_;
  body_reserved_ = 0;
}

int Connection::on_message_complete() {
  keep_alive_ = http_should_keep_alive(&parser_) != 0;
  // Pausing returns control to feed(), which dispatches outside the parser.
  http_parser_pause(&parser_, 1);
  return 0;
}

void Connection::dispatch_request() {
  HttpRequest request = std::move(request_);
  request_ = HttpRequest{};
  ExchangeInfo info;
  info.method = request.method;
  info.path = request.path;
  info.head = request.method == "HEAD";
  info.http10 = request.http_major == 1 && request.http_minor == 0;
  // A probe slot serves one request: the next probe gets a slot of its own.
  info.keep_alive = keep_alive_ && !request.upgrade && pool_ != Pool::probe;
  info.accept_gzip = accepts_gzip(request.header("Accept-Encoding").value_or(""));
  info.upgrade_requested = request.upgrade;
  info.received_ns = uv_hrtime();
  auto exchange = std::make_shared<Exchange>(this, std::move(info));
  queue_.push_back(exchange);
  phase_ = exchange->info.keep_alive ? Phase::awaiting_request : Phase::stopped;
  // The upgraded protocol's bytes stay in the kernel for the new owner.
  if (request.upgrade) stop_reading();
  arm_timer();
  if (pool_ == Pool::probe && !is_probe_request(request)) {
    ctx_->count_refused_connection();
    exchange->send(503, HttpHeaders{{"Content-Type", "application/json"}, {"Retry-After", "1"}},
                   error_body("too many connections (max_connections): beyond it only /healthz, /health, /ping "
                              "and /readyz are answered"));
  } else {
    ctx_->dispatch(request, exchange);
  }
  // The handler has read the body (what it keeps, it copied).
  release_body_bytes();
  if (!closing_) arm_answer_timer();
}

void Connection::reject(int status, std::string_view message) {
  release_body_bytes();
  stop_reading();
  phase_ = Phase::stopped;
  ExchangeInfo info;
  info.method = request_.method.empty() ? "-" : request_.method;
  info.path = request_.path;
  info.http10 = parser_.http_major == 1 && parser_.http_minor == 0;
  info.keep_alive = false;
  info.received_ns = uv_hrtime();
  auto exchange = std::make_shared<Exchange>(this, std::move(info));
  queue_.push_back(exchange);
  exchange->send(status, HttpHeaders{{"Content-Type", "application/json"}}, error_body(message));
}

void Connection::start_reading() {
  if (reading_ || closing_) return;
  if (uv_read_start(as_stream(tcp_), on_alloc, on_read) == 0) reading_ = true;
}

void Connection::stop_reading() {
  if (!reading_) return;
  uv_read_stop(as_stream(tcp_));
  reading_ = false;
}

size_t Connection::output_backlog() const {
  size_t n = uv_stream_get_write_queue_size(reinterpret_cast<const uv_stream_t *>(tcp_));
  for (const auto &e : queue_)
    for (const auto &s : e->held_output) n += s.size();
  return n;
}

bool Connection::must_pause_input() const {
  if (!ctx_) return true;
  if (queue_.size() >= ctx_->config.max_pending_requests) return true;
  // Only between requests: a request half read stays on its own deadlines,
  // which the server must not run out by pausing it.
  return phase_ == Phase::awaiting_request && output_backlog() >= ctx_->config.max_output_buffer;
}

void Connection::resume_if_possible() {
  if (closing_ || phase_ != Phase::awaiting_request) return;
  if (must_pause_input()) return;
  if (!unparsed_.empty()) {
    std::string input = std::move(unparsed_);
    unparsed_.clear();
    feed(input.data(), input.size());
  }
  if (closing_ || phase_ == Phase::stopped || phase_ == Phase::lingering) return;
  if (!must_pause_input()) start_reading();
  arm_timer();
}

// ---------------------------------------------------------------- timers

void Connection::arm_timer() {
  switch (phase_) {
    case Phase::awaiting_request:
      // Waiting on our own handlers (or paused by backpressure) is not the
      // client's idleness; answers the client does not read are: the idle
      // deadline runs, restarted whenever the socket takes more (write_done).
      if (!queue_.empty()) {
        timer_.stop();
      } else if (!reading_) {
        timer_.start(ctx_->config.idle_timeout_ms);
      } else {
        timer_.start(first_request_ ? ctx_->config.header_timeout_ms : ctx_->config.idle_timeout_ms);
      }
      break;
    case Phase::in_headers:  // the header deadline runs from on_message_begin
    case Phase::lingering:   // the linger deadline runs from shutdown_and_linger
      break;
    case Phase::in_body:
      timer_.start(std::min(ctx_->config.idle_timeout_ms, body_deadline_ms_from_now()));
      break;
    case Phase::stopped:
      timer_.stop();
      break;
  }
}

// Responses go out in request order, so only the oldest request can hold
// the connection: a handler that never answers (a plugin bug, a storage that
// hangs) would keep it, and every pipelined request behind it, forever.
// Once the handler has begun (a stream, an upgrade) it owns the pace.
void Connection::arm_answer_timer() {
  uint64_t limit_ms = ctx_ ? ctx_->config.response_timeout_ms : 0;
  if (closing_ || limit_ms == 0 || queue_.empty() || queue_.front()->started()) {
    answer_timer_.stop();
    return;
  }
  uint64_t waited_ms = (uv_hrtime() - queue_.front()->info.received_ns) / 1'000'000;
  answer_timer_.start(waited_ms >= limit_ms ? 0 : limit_ms - waited_ms);
}

void Connection::on_answer_timeout() {
  if (closing_ || !ctx_ || queue_.empty() || queue_.front()->started()) return;
  std::shared_ptr<Exchange> late = queue_.front();
  ++ctx_->stats.response_timeouts;
  log_warn("http", late->info.method + " " + late->info.path + ": no answer within response_timeout (" +
                       std::to_string(ctx_->config.response_timeout_ms) + " ms); answered 504");
  // The handler's own answer, should it still come, finds the response
  // finished and is dropped.
  late->send(504, HttpHeaders{{"Content-Type", "application/json"}},
             error_body("the handler of this route did not answer within response_timeout"));
}

// The slow-body defence (as Apache's mod_reqtimeout): a body gets
// header_timeout, plus one second per min_body_rate bytes that arrived. A
// client trickling a byte per idle_timeout would otherwise hold its
// connection, and a max_connections slot, for as long as it likes.
uint64_t Connection::body_deadline_ms_from_now() const {
  if (ctx_->config.min_body_rate == 0) return UINT64_MAX;
  uint64_t allowed_ms = ctx_->config.header_timeout_ms;
  uint64_t elapsed_ms = (uv_hrtime() - rate_window_start_ns_) / 1'000'000;
  return allowed_ms > elapsed_ms ? allowed_ms - elapsed_ms : 0;
}

void Connection::on_timeout() {
  switch (phase_) {
    case Phase::awaiting_request:
      ++ctx_->stats.idle_timeouts;
      close();
      break;
    case Phase::in_headers:
    case Phase::in_body:
      // The slowloris defence: the header (or a stalled body) ran out of time.
      ++ctx_->stats.request_timeouts;
      // With earlier answers still pending, a 408 would have to wait for them
      // to go out in order; a client this slow gets the plain close instead.
      if (queue_.empty()) {
        bool too_slow = phase_ == Phase::in_body && body_deadline_ms_from_now() == 0;
        reject(408, too_slow ? "request body arriving slower than min_body_rate (" +
                                   std::to_string(ctx_->config.min_body_rate) + " bytes/s)"
                             : "request not received in time");
      } else {
        close();
      }
      break;
    case Phase::lingering:
      close();
      break;
    case Phase::stopped:
      break;
  }
}

}  // namespace vitals::core::http
