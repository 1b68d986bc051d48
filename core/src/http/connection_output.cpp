// A connection's output side: the in-order response queue, socket writes,
// graceful close (FIN, then linger) and the socket handover after an upgrade.
#include <algorithm>
#include <iterator>

#include "connection.hpp"
#include "send_now.hpp"
#include "server_context.hpp"

namespace vitals::core {

void UvTcpCloser::operator()(uv_tcp_t *tcp) const {
  auto *handle = reinterpret_cast<uv_handle_t *>(tcp);
  if (uv_is_closing(handle)) return;  // whoever closed it frees it
  uv_close(handle, [](uv_handle_t *h) { std::unique_ptr<uv_tcp_t> free_me(reinterpret_cast<uv_tcp_t *>(h)); });
}

}  // namespace vitals::core

namespace vitals::core::http {

namespace {

uv_stream_t *as_stream(uv_tcp_t *tcp) { return reinterpret_cast<uv_stream_t *>(tcp); }

struct WriteRequest {
  uv_write_t req{};
  std::string first, second;
  Connection *connection = nullptr;
};

}  // namespace

void Connection::output(Exchange *exchange, std::string first, std::string second) {
  if (closing_) return;
  if (queue_.empty() || queue_.front().get() != exchange) {
    if (!first.empty()) exchange->held_output.push_back(std::move(first));
    if (!second.empty()) exchange->held_output.push_back(std::move(second));
    return;
  }
  write(std::move(first), std::move(second));
}

void Connection::output_parts(Exchange *exchange, std::initializer_list<std::string_view> parts) {
  if (closing_) return;
  // A chunk written to many streams (SSE) need not be copied per client
  // when the socket takes it whole, which is the usual case.
  size_t sent = 0;
  if (!queue_.empty() && queue_.front().get() == exchange) {
    uv_buf_t bufs[4];
    unsigned count = 0;
    if (parts.size() <= std::size(bufs))
      for (std::string_view part : parts)
        if (!part.empty())
          bufs[count++] = uv_buf_init(const_cast<char *>(part.data()), static_cast<unsigned>(part.size()));
    sent = send_now(tcp_, bufs, count);
    if (sent > 0 && ctx_) ctx_->stats.bytes_out += sent;
  }
  std::string rest;
  for (std::string_view part : parts) {
    size_t skip = std::min(sent, part.size());
    sent -= skip;
    rest.append(part.substr(skip));
  }
  if (!rest.empty()) output(exchange, std::move(rest), {});
}

void Connection::write(std::string first, std::string second) {
  if (closing_ || (first.empty() && second.empty())) return;
  // Straight to the kernel when nothing is queued before it (send_now.hpp);
  // the rest, and any error, go through uv_write and write_done as before.
  {
    uv_buf_t now[2];
    unsigned count = 0;
    if (!first.empty()) now[count++] = uv_buf_init(first.data(), static_cast<unsigned>(first.size()));
    if (!second.empty()) now[count++] = uv_buf_init(second.data(), static_cast<unsigned>(second.size()));
    size_t n = send_now(tcp_, now, count);
    if (n > 0) {
      if (ctx_) ctx_->stats.bytes_out += n;
      size_t from_first = std::min(n, first.size());
      first.erase(0, from_first);
      second.erase(0, n - from_first);
      if (first.empty() && second.empty()) return;
    }
  }
  auto w = std::make_unique<WriteRequest>();
  w->first = std::move(first);
  w->second = std::move(second);
  w->connection = this;
  w->req.data = w.get();
  uv_buf_t bufs[2];
  unsigned n = 0;
  if (!w->first.empty()) bufs[n++] = uv_buf_init(w->first.data(), static_cast<unsigned>(w->first.size()));
  if (!w->second.empty()) bufs[n++] = uv_buf_init(w->second.data(), static_cast<unsigned>(w->second.size()));
  if (uv_write(&w->req, as_stream(tcp_), bufs, n, on_write) != 0) {
    close();
    return;
  }
  ++writes_in_flight_;
  w.release();  // on_write frees it
}

void Connection::on_write(uv_write_t *req, int status) {
  std::unique_ptr<WriteRequest> w(static_cast<WriteRequest *>(req->data));
  w->connection->write_done(status, w->first.size() + w->second.size());
}

void Connection::write_done(int status, size_t bytes) {
  --writes_in_flight_;
  if (status < 0) {
    close();
    return;
  }
  if (ctx_) ctx_->stats.bytes_out += bytes;
  // The client reads again: parse what it sent while its answers waited.
  if (!closing_ && phase_ == Phase::awaiting_request && (!reading_ || !unparsed_.empty())) {
    if (!must_pause_input())
      resume_timer_.start(0);
    else
      arm_timer();  // progress: the idle deadline starts over
  }
  // The 101 head is out: the socket can change hands. Must stay last: it
  // frees this connection.
  if (upgrade_handler_ && writes_in_flight_ == 0 && !closing_) handover();
}

void Connection::exchange_finished(Exchange *exchange) {
  if (!queue_.empty() && queue_.front().get() == exchange) advance();
}

bool Connection::is_last(const Exchange *exchange) const { return !queue_.empty() && queue_.back().get() == exchange; }

size_t Connection::buffered_bytes(const Exchange *exchange) const {
  size_t n = 0;
  for (const auto &s : exchange->held_output) n += s.size();
  if (!closing_ && !queue_.empty() && queue_.front().get() == exchange)
    n += uv_stream_get_write_queue_size(reinterpret_cast<const uv_stream_t *>(tcp_));
  return n;
}

void Connection::advance() {
  while (!closing_ && !queue_.empty() && queue_.front()->finished()) {
    std::shared_ptr<Exchange> done = std::move(queue_.front());
    queue_.pop_front();
    if (done->upgrade_handler) {
      // Handover waits for the 101 head to be written (write_done), or, if
      // it already left, for the next loop turn: not from inside the handler.
      upgrade_handler_ = std::move(done->upgrade_handler);
      done->detach();
      if (writes_in_flight_ == 0) handover_timer_.start(0);
      return;
    }
    bool closes = done->closes_connection;
    done->detach();
    if (closes) {
      shutdown_and_linger();
      return;
    }
    if (!queue_.empty()) {
      // The next response may already have produced output: release it now.
      auto held = std::move(queue_.front()->held_output);
      queue_.front()->held_output.clear();
      for (auto &chunk : held) write(std::move(chunk), {});
    }
  }
  if (closing_ || phase_ == Phase::lingering) return;
  if (queue_.empty() && (ctx_->draining || close_when_done_)) {
    shutdown_and_linger();
    return;
  }
  // Parsing resumes from a timer, not from inside the handler that answered.
  if (phase_ == Phase::awaiting_request && (!reading_ || !unparsed_.empty())) resume_timer_.start(0);
  arm_timer();
  arm_answer_timer();
}

// ---------------------------------------------------------------- closing

void Connection::shutdown_and_linger() {
  if (closing_ || phase_ == Phase::lingering) return;
  phase_ = Phase::lingering;
  answer_timer_.stop();
  unparsed_.clear();
  auto rest = std::move(queue_);
  queue_.clear();
  for (auto &exchange : rest) exchange->detach();
  // Closing with unread input makes the kernel send RST, which can destroy
  // the response before the client reads it. So: send FIN after the pending
  // writes, read and discard for a while, then close.
  shutdown_req_.data = this;
  int rc = uv_shutdown(&shutdown_req_, as_stream(tcp_), [](uv_shutdown_t *req, int status) {
    if (status < 0) static_cast<Connection *>(req->data)->close();
  });
  if (rc != 0) {
    close();
    return;
  }
  start_reading();
  timer_.start(ctx_ ? ctx_->config.linger_ms : 0);
}

void Connection::close() {
  if (closing_) return;
  closing_ = true;
  release_body_bytes();
  stream_slot_.reset();
  move_to(Pool::none);
  timer_.stop();
  resume_timer_.stop();
  answer_timer_.stop();
  handover_timer_.stop();
  reading_ = false;
  uv_close(reinterpret_cast<uv_handle_t *>(tcp_), on_closed);
  // Detaching runs the handlers' on_close callbacks: do it last, with the
  // connection already in its final state.
  auto pending = std::move(queue_);
  queue_.clear();
  for (auto &exchange : pending) exchange->detach();
}

void Connection::on_closed(uv_handle_t *handle) {
  std::unique_ptr<uv_tcp_t> tcp(reinterpret_cast<uv_tcp_t *>(handle));
  std::unique_ptr<Connection> c(static_cast<Connection *>(handle->data));
  ServerContext *ctx = c->ctx_;
  if (ctx) ctx->connection_gone(c.get());
  c.reset();
  // Last: it may complete the server's close() and run its `done`.
  if (ctx) ctx->finish_close_if_done();
}

void Connection::drain() {
  if (closing_ || phase_ == Phase::lingering) return;
  if (queue_.empty()) {
    close();
    return;
  }
  // Answer what was asked, read nothing more; advance() closes at the end.
  phase_ = Phase::stopped;
  unparsed_.clear();
  arm_timer();
}

void Connection::handover() {
  UpgradeHandler on_upgraded = std::move(upgrade_handler_);
  upgrade_handler_ = nullptr;
  if (!ctx_ || ctx_->draining) {
    close();
    return;
  }
  stop_reading();
  timer_.stop();
  resume_timer_.stop();
  answer_timer_.stop();
  handover_timer_.stop();
  closing_ = true;
  uv_tcp_t *tcp = tcp_;
  tcp->data = nullptr;
  std::string already_read = std::move(upgrade_bytes_);
  // The stream slot leaves with the socket: held as long as it stays open.
  UvTcpPtr socket(tcp);
  socket.get_deleter().stream_slot = std::move(stream_slot_);
  move_to(Pool::none);
  ServerContext *ctx = ctx_;
  ++ctx->stats.connections_upgraded;
  ctx->connection_gone(this);
  std::unique_ptr<Connection>(this).reset();  // nothing below may touch members
  on_upgraded(std::move(socket), std::move(already_read));
}

}  // namespace vitals::core::http
