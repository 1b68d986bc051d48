// Producing responses: the head (status, Date, X-Process-Time, framing,
// Connection), gzip, chunked streaming, upgrades, and the handle handlers hold.
#include <cstdio>

#include "connection.hpp"
#include "exchange.hpp"
#include "gzip.hpp"
#include "log.hpp"
#include "server_context.hpp"

namespace vitals::core::http {

namespace {

// The server frames every message itself; a handler's copy would contradict it.
bool is_framing_header(std::string_view name) {
  return iequals(name, "Content-Length") || iequals(name, "Transfer-Encoding") || iequals(name, "Connection") ||
         iequals(name, "Keep-Alive") || iequals(name, "Date") || iequals(name, "X-Process-Time");
}

// CR or LF in a field would let a value inject headers or split the response.
bool is_safe_field(std::string_view name, std::string_view value) {
  if (name.empty()) return false;
  for (char c : name)
    if (c <= ' ' || c == ':' || c == 127) return false;
  for (char c : value)
    if (c == '\r' || c == '\n' || c == '\0') return false;
  return true;
}

const char *reason_phrase(int status) {
  if (status == 408) return "Request Timeout";
  if (status == 413) return "Content Too Large";
  if (status == 431) return "Request Header Fields Too Large";
  const char *text = http_status_str(static_cast<http_status>(status));
  return text && *text && std::string_view(text) != "<unknown>" ? text : "Unknown";
}

bool is_bodyless(int status) { return status < 200 || status == 204 || status == 304; }

class ResponseHandle final : public HttpResponse {
 public:
  explicit ResponseHandle(std::shared_ptr<Exchange> exchange) : exchange_(std::move(exchange)) {}
  ~ResponseHandle() override { exchange_->abandon(); }

  void send(int status, std::string_view content_type, std::string body) override {
    exchange_->send(status, HttpHeaders{{"Content-Type", std::string(content_type)}}, std::move(body));
  }
  void send(int status, HttpHeaders headers, std::string body) override {
    exchange_->send(status, std::move(headers), std::move(body));
  }
  bool start(int status, HttpHeaders headers) override { return exchange_->start(status, std::move(headers)); }
  bool write(std::string_view chunk) override { return exchange_->write(chunk); }
  void end() override { exchange_->end(); }
  bool upgrade(HttpHeaders headers, UpgradeHandler on_upgraded) override {
    return exchange_->upgrade(std::move(headers), std::move(on_upgraded));
  }
  void on_close(std::function<void()> fn) override { exchange_->on_close(std::move(fn)); }
  bool connected() const override { return exchange_->connected(); }
  bool started() const override { return exchange_->started(); }
  bool finished() const override { return exchange_->finished(); }
  size_t buffered_bytes() const override { return exchange_->buffered_bytes(); }

 private:
  std::shared_ptr<Exchange> exchange_;
};

}  // namespace

std::shared_ptr<HttpResponse> make_response(std::shared_ptr<Exchange> exchange) {
  return std::make_shared<ResponseHandle>(std::move(exchange));
}

void Exchange::send(int status, HttpHeaders headers, std::string body) {
  if (started_ || !connection_) return;
  started_ = true;
  const HttpServerConfig &config = connection_->context()->config;
  bool bodyless = is_bodyless(status);
  bool compressible = !bodyless && is_compressible(headers.get("Content-Type").value_or(""));
  bool gzipped = false;
  // HEAD answers carry the identity length: compressing a body nobody reads
  // would be wasted work.
  if (compressible && info.accept_gzip && !info.head && body.size() >= config.gzip_min_bytes &&
      !headers.has("Content-Encoding")) {
    std::string compressed;
    if (gzip_compress(body, config.gzip_level, compressed) && compressed.size() < body.size()) {
      body = std::move(compressed);
      gzipped = true;
    }
  }
  if (bodyless) body.clear();
  std::string h = head(status, headers, bodyless ? Framing::none : Framing::length, body.size(), gzipped, compressible);
  if (info.head) body.clear();
  emit(std::move(h), std::move(body));
  finish();
}

bool Exchange::start(int status, HttpHeaders headers) {
  if (started_ || !connection_) return false;
  Framing advertised = is_bodyless(status) ? Framing::none : info.http10 ? Framing::until_close : Framing::chunked;
  // A HEAD answer announces the framing a GET would get, then ends.
  Framing framing = info.head ? Framing::none : advertised;
  // Only a response that stays open is a stream.
  if (framing != Framing::none) {
    if (!connection_->begin_stream()) {
      refuse_stream();
      return false;
    }
    streaming_ = true;
  }
  started_ = true;
  framing_ = framing;
  emit(head(status, headers, advertised, 0, false, false));
  if (framing_ == Framing::none) finish();
  return true;
}

bool Exchange::write(std::string_view chunk) {
  if (!connection_ || !started_ || finished_) return false;
  if (chunk.empty()) return true;  // an empty chunk would end the stream
  if (framing_ == Framing::chunked) {
    char size_line[24];
    int n = std::snprintf(size_line, sizeof size_line, "%zx\r\n", chunk.size());
    connection_->output_parts(this, {std::string_view(size_line, static_cast<size_t>(n)), chunk, "\r\n"});
  } else {
    connection_->output_parts(this, {chunk});
  }
  return connection_ != nullptr;
}

void Exchange::end() {
  if (!connection_ || !started_ || finished_) return;
  if (framing_ == Framing::chunked) emit("0\r\n\r\n");
  finish();
}

bool Exchange::upgrade(HttpHeaders headers, UpgradeHandler on_upgraded) {
  if (started_ || !connection_) return false;
  if (!info.upgrade_requested || !on_upgraded) {
    log_warn("http", info.route + ": upgrade() on a request that did not ask for one; answering 500");
    send(500, HttpHeaders{{"Content-Type", "application/json"}}, error_body("upgrade not possible"));
    return false;
  }
  // Refused before the 101: the client learns it can retry, and never holds
  // a socket the server would have to close at once. The slot stays with the
  // connection and leaves with the socket (Connection::handover).
  if (!connection_->begin_stream()) {
    refuse_stream();
    return false;
  }
  started_ = true;
  upgrade_handler = std::move(on_upgraded);
  emit(head(101, headers, Framing::none, 0, false, false));
  finish();
  return true;
}

void Exchange::refuse_stream() {
  // A refused client must not keep a general slot for a retry it makes later.
  info.keep_alive = false;
  send(503, HttpHeaders{{"Content-Type", "application/json"}, {"Retry-After", "1"}},
       error_body("too many streams open (max_streams " + std::to_string(connection_->context()->config.max_streams) +
                  "); retry later"));
}

void Exchange::on_close(std::function<void()> fn) {
  if (!fn) return;
  if (client_gone_) {
    fn();
    return;
  }
  if (connection_ && !finished_) on_close_ = std::move(fn);
}

void Exchange::abandon() {
  if (!connection_ || finished_) return;
  if (started_) {
    end();
    return;
  }
  log_warn("http", (info.route.empty() ? info.method + " " + info.path : info.route) +
                       ": the handler dropped its response without answering; replying 500");
  send(500, HttpHeaders{{"Content-Type", "application/json"}}, error_body("the handler did not answer"));
}

size_t Exchange::buffered_bytes() const { return connection_ ? connection_->buffered_bytes(this) : 0; }

void Exchange::detach() {
  if (!connection_) return;
  if (streaming_) {
    streaming_ = false;
    connection_->end_stream();
  }
  connection_ = nullptr;
  held_output.clear();
  if (finished_) return;
  client_gone_ = true;
  if (on_close_) {
    auto fn = std::move(on_close_);
    on_close_ = nullptr;
    fn();
  }
}

void Exchange::emit(std::string first, std::string second) {
  if (connection_) connection_->output(this, std::move(first), std::move(second));
}

void Exchange::finish() {
  finished_ = true;
  on_close_ = nullptr;  // the response is complete: a later close is no news
  if (streaming_ && connection_) {
    streaming_ = false;
    connection_->end_stream();  // before advance(), which may close an over-full pool's connection
  }
  if (connection_) connection_->exchange_finished(this);
}

std::string Exchange::head(int status, const HttpHeaders &headers, Framing framing, size_t content_length, bool gzipped,
                           bool vary) {
  ServerContext *ctx = connection_->context();
  double elapsed_ms = static_cast<double>(uv_hrtime() - info.received_ns) / 1e6;
  closes_connection = status != 101 && (!info.keep_alive || framing == Framing::until_close ||
                                        (ctx->draining && connection_->is_last(this)));

  std::string out;
  out.reserve(256);
  out.append("HTTP/1.1 ").append(std::to_string(status)).append(" ").append(reason_phrase(status)).append("\r\n");
  out.append("Date: ").append(ctx->http_date()).append("\r\n");
  char process_time[48];
  std::snprintf(process_time, sizeof process_time, "X-Process-Time: %.2fms\r\n", elapsed_ms);
  out.append(process_time);
  for (const auto &[name, value] : headers) {
    // A 101 needs the handler's "Connection: Upgrade".
    if (is_framing_header(name) && !(status == 101 && iequals(name, "Connection"))) continue;
    if (!is_safe_field(name, value)) {
      log_warn("http", info.route + ": dropped response header \"" + name + "\" with control characters");
      continue;
    }
    out.append(name).append(": ").append(value).append("\r\n");
  }
  if (gzipped) out.append("Content-Encoding: gzip\r\n");
  if (vary && !headers.has("Vary")) out.append("Vary: Accept-Encoding\r\n");
  if (framing == Framing::length) out.append("Content-Length: ").append(std::to_string(content_length)).append("\r\n");
  if (framing == Framing::chunked) out.append("Transfer-Encoding: chunked\r\n");
  if (status != 101) {
    if (closes_connection) {
      out.append("Connection: close\r\n");
    } else if (info.http10) {
      out.append("Connection: keep-alive\r\n");
    }
  }
  out.append("\r\n");

  if (status >= 100 && status < 600) ++ctx->stats.responses_by_class[static_cast<size_t>(status / 100 - 1)];
  if (elapsed_ms > static_cast<double>(ctx->config.slow_request_ms)) {
    ++ctx->stats.slow_requests;
    char took[32];
    std::snprintf(took, sizeof took, "%.1f ms", elapsed_ms);
    log_warn("http", "slow request: " + info.method + " " + info.path + " (route " +
                         (info.route.empty() ? "-" : info.route) + ") answered " + std::to_string(status) + " after " +
                         took);
  }
  return out;
}

}  // namespace vitals::core::http
