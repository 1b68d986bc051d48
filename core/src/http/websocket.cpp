#include "websocket.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

#include "send_now.hpp"

namespace vitals::core::http {

namespace {

uv_stream_t *as_stream(uv_tcp_t *tcp) { return reinterpret_cast<uv_stream_t *>(tcp); }

struct WriteRequest {
  uv_write_t req;
  WsFrame frame;  // keeps the shared bytes alive until the kernel took them
};

// What a queued write or wslay message costs besides its bytes (the request,
// the shared frame's control block and string, wslay's message struct): tiny
// replies to a flood of tiny frames must not hide behind their byte count.
constexpr size_t write_overhead = sizeof(WriteRequest) + 64;

WsStats stats;

}  // namespace

const WsStats &ws_stats() { return stats; }

WebSocket *WebSocket::start(UvTcpPtr socket, std::string already_read, Handlers handlers, WsLimits limits) {
  StreamSlot slot = std::move(socket.get_deleter().stream_slot);
  auto *ws = new WebSocket(socket.release(), std::move(handlers), limits);
  ws->stream_slot_ = std::move(slot);
  ws->input_ = std::move(already_read);
  // A stream may carry nothing for a long time, and a client that vanished
  // without a FIN (a phone losing its network) would hold its slot forever:
  // the kernel's keepalive probes find it after limits.keepalive_s of quiet.
  if (limits.keepalive_s > 0) uv_tcp_keepalive(ws->tcp_, 1, limits.keepalive_s);
  uv_read_start(as_stream(ws->tcp_), on_alloc, on_read);
  // Frames that arrived with the handshake are parsed on the next loop turn,
  // so no handler runs before the caller has the pointer this returns.
  if (!ws->input_.empty()) ws->kick_.start(0);
  return ws;
}

WebSocket::WebSocket(uv_tcp_t *tcp, Handlers handlers, WsLimits limits)
    : tcp_(tcp),
      handlers_(std::move(handlers)),
      limits_(limits),
      close_timer_(tcp->loop, [this] { close_socket(); }),
      kick_(tcp->loop, [this] { process_input(); }),
      drop_(tcp->loop, [this] {
        report_close(ws_close_policy_violation, "the client does not read: unsent output over max_output");
        close_socket(true);
      }) {
  tcp_->data = this;
  wslay_event_callbacks callbacks{wslay_recv, wslay_send, nullptr, nullptr, nullptr, nullptr, wslay_message};
  wslay_event_context_server_init(&wslay_, &callbacks, this);
  wslay_event_config_set_max_recv_msg_length(wslay_, limits_.max_message);
}

WebSocket::~WebSocket() {
  wslay_event_context_free(wslay_);
  delete tcp_;
}

bool WebSocket::send(WsFrame frame) {
  if (closing_ || socket_closed_) return false;
  if (backlog() + frame->size() > limits_.max_output) {
    drop();
    return false;
  }
  write(std::move(frame));
  return true;
}

// A client this far behind would not take a close frame either: the
// connection is reset, which also frees what the kernel holds for it. The
// owner hears of it on the next loop turn, not from inside its send().
void WebSocket::drop() {
  ++stats.dropped_for_output;
  closing_ = true;
  uv_read_stop(as_stream(tcp_));
  drop_.start(0);
}

size_t WebSocket::buffered() const { return socket_closed_ ? 0 : tcp_->write_queue_size; }

void WebSocket::close(uint16_t code, std::string_view reason) {
  handlers_ = {};
  if (closing_ || socket_closed_) return;
  closing_ = true;
  std::string text(reason.substr(0, 123));
  wslay_event_queue_close(wslay_, code, reinterpret_cast<const uint8_t *>(text.data()), text.size());
  send_protocol();
  close_timer_.start(limits_.close_timeout_ms);
}

void WebSocket::on_alloc(uv_handle_t *handle, size_t, uv_buf_t *buf) {
  auto *ws = static_cast<WebSocket *>(handle->data);
  *buf = uv_buf_init(ws->read_buffer_.data(), static_cast<unsigned>(ws->read_buffer_.size()));
}

void WebSocket::on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
  auto *ws = static_cast<WebSocket *>(stream->data);
  if (nread > 0 && ws->closing_) {
    ws->discard_after_close(buf->base, static_cast<size_t>(nread));
  } else if (nread > 0) {
    ws->input_.append(buf->base, static_cast<size_t>(nread));
    ws->process_input();
  } else if (nread < 0) {
    // The client went away, with or without the close handshake.
    bool clean = wslay_event_get_close_received(ws->wslay_);
    ws->report_close(clean ? wslay_event_get_status_code_received(ws->wslay_) : ws_close_abnormal, "");
    ws->close_socket();
  }
}

void WebSocket::process_input() {
  if (socket_closed_) return;
  int rv = wslay_event_recv(wslay_);
  input_.erase(0, input_offset_);
  input_offset_ = 0;
  // wslay reads nothing more once a close frame came or it closed for an
  // error: what is left can never be parsed.
  if (!wslay_event_get_read_enabled(wslay_)) input_.clear();
  if (rv != 0) {
    // wslay gave up on the stream (a malformed frame header, a reserved
    // opcode): it must not be read again. Say why, then close once the
    // close frame has left.
    closing_ = true;
    close_after_writes_ = true;
    if (!wslay_event_get_close_sent(wslay_))
      write(std::make_shared<const std::string>(encode_ws_close(ws_close_protocol_error, "")));
    report_close(ws_close_protocol_error, "");
    if (writes_in_flight_ == 0) close_socket();
    return;
  }
  after_protocol_step();
}

// After the server's close frame only the client's close reply still
// matters. While wslay looks for it (the server closed), the bytes go to
// wslay, which keeps nothing of them but that reply; after an error close
// wslay reads nothing and they are dropped. Past max_read_after_close the
// socket is not read at all: close_timeout (or the client's FIN, seen once
// its own socket closes) ends the connection.
void WebSocket::discard_after_close(const char *data, size_t n) {
  read_after_close_ += n;
  if (wslay_event_get_read_enabled(wslay_)) {
    input_.append(data, n);
    process_input();
  }
  if (!socket_closed_ && read_after_close_ > limits_.max_read_after_close) {
    done_reading_ = true;
    uv_read_stop(as_stream(tcp_));
  }
}

// wslay queued what the protocol needs (pongs, the close reply, a close with
// the error code of a bad frame): write it, then see whether the connection
// is ending.
void WebSocket::after_protocol_step() {
  if (socket_closed_) return;
  send_protocol();
  bool received = wslay_event_get_close_received(wslay_);
  bool sent = wslay_event_get_close_sent(wslay_);
  if (received) {
    // The reply may wait behind output the client does not read: it gets
    // close_timeout to leave, as after a close the server started.
    if (!closing_) close_timer_.start(limits_.close_timeout_ms);
    closing_ = true;
    report_close(wslay_event_get_status_code_received(wslay_), "");
  } else if (sent && !closing_) {  // wslay refused a frame and closed with its code
    closing_ = true;
    report_close(wslay_event_get_status_code_sent(wslay_), "");
    close_timer_.start(limits_.close_timeout_ms);
  }
  // Both close frames are through: the server closes TCP first (RFC 6455 7.1.1)
  // once its reply has left.
  if (received && sent && writes_in_flight_ == 0) {
    close_socket();
    return;
  }
  resume_if_drained();
}

// What wslay has queued (pongs, close frames) goes out as one write: a flood
// of pings earns one buffer per read of the socket, not an allocation per pong.
void WebSocket::send_protocol() {
  if (wslay_event_want_write(wslay_)) wslay_event_send(wslay_);
  if (protocol_out_.empty() || socket_closed_) return;
  write(std::make_shared<const std::string>(std::move(protocol_out_)));
  protocol_out_.clear();
}

// The client's unsent output: bytes libuv has yet to write, frames wslay has
// yet to hand over, and the bookkeeping of each.
size_t WebSocket::backlog() const {
  return tcp_->write_queue_size + static_cast<size_t>(writes_in_flight_) * write_overhead +
         wslay_event_get_queued_msg_length(wslay_) + wslay_event_get_queued_msg_count(wslay_) * write_overhead;
}

// Past pause_reading_output the client's frames are left unread: pings and
// garbage then earn no more replies, and TCP makes the client wait. Asked
// each time wslay takes input (at most 4 KiB, its frame buffer), so the
// bound is overshot by what one such piece earns, not by what a read does.
bool WebSocket::output_over_bound() {
  if (closing_ || backlog() < limits_.pause_reading_output) return false;
  if (!paused_) {
    paused_ = true;
    ++stats.reads_paused;
    uv_read_stop(as_stream(tcp_));
  }
  return true;
}

void WebSocket::resume_if_drained() {
  if (!paused_ || socket_closed_ || backlog() > limits_.pause_reading_output / 2) return;
  paused_ = false;
  if (done_reading_) return;
  uv_read_start(as_stream(tcp_), on_alloc, on_read);
  // Input held back at the pause is parsed outside this caller (a write
  // callback, or a message handler further up the stack).
  if (input_.size() > input_offset_) kick_.start(0);
}

ssize_t WebSocket::wslay_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int, void *user) {
  auto *ws = static_cast<WebSocket *>(user);
  size_t available = ws->input_.size() - ws->input_offset_;
  if (available == 0 || ws->output_over_bound()) {
    wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
    return -1;
  }
  size_t n = std::min(len, available);
  std::memcpy(buf, ws->input_.data() + ws->input_offset_, n);
  ws->input_offset_ += n;
  return static_cast<ssize_t>(n);
}

ssize_t WebSocket::wslay_send(wslay_event_context_ptr, const uint8_t *data, size_t len, int, void *user) {
  auto *ws = static_cast<WebSocket *>(user);
  if (ws->socket_closed_) return static_cast<ssize_t>(len);             // nobody to tell; drop it
  ws->protocol_out_.append(reinterpret_cast<const char *>(data), len);  // written by send_protocol()
  return static_cast<ssize_t>(len);
}

void WebSocket::wslay_message(wslay_event_context_ptr ctx, const wslay_event_on_msg_recv_arg *arg, void *user) {
  auto *ws = static_cast<WebSocket *>(user);
  if (arg->opcode != ws_text && arg->opcode != ws_binary) return;  // control frames are wslay's
  std::string_view data(reinterpret_cast<const char *>(arg->msg), arg->msg_length);
  if (arg->opcode == ws_text && !valid_utf8(data)) {
    static constexpr std::string_view reason = "text message is not valid UTF-8";
    wslay_event_queue_close(ctx, ws_close_invalid_payload, reinterpret_cast<const uint8_t *>(reason.data()),
                            reason.size());
    wslay_event_shutdown_read(ctx);
    return;
  }
  if (ws->closing_ || !ws->handlers_.on_message) return;
  ws->handlers_.on_message(static_cast<WsOpcode>(arg->opcode), data);
}

void WebSocket::write(WsFrame frame) {
  // Straight to the kernel when nothing is queued (send_now.hpp); the rest
  // of a partial write, and any error, go through uv_write, which reports
  // failures from write_done, never from inside send().
  uv_buf_t whole = uv_buf_init(const_cast<char *>(frame->data()), static_cast<unsigned>(frame->size()));
  size_t offset = send_now(tcp_, &whole, 1);
  if (offset == frame->size()) return;
  auto *req = new WriteRequest{{}, std::move(frame)};
  req->req.data = this;
  uv_buf_t buf =
      uv_buf_init(const_cast<char *>(req->frame->data()) + offset, static_cast<unsigned>(req->frame->size() - offset));
  ++writes_in_flight_;
  int rc = uv_write(&req->req, as_stream(tcp_), &buf, 1, [](uv_write_t *w, int status) {
    auto *ws = static_cast<WebSocket *>(w->data);
    delete reinterpret_cast<WriteRequest *>(w);
    ws->write_done(status);
  });
  if (rc != 0) {
    delete req;
    --writes_in_flight_;
    report_close(ws_close_abnormal, "");
    close_socket();
  }
}

void WebSocket::write_done(int status) {
  --writes_in_flight_;
  if (socket_closed_) return;
  if (status < 0) {
    report_close(ws_close_abnormal, "");
    close_socket();
    return;
  }
  if (writes_in_flight_ == 0 &&
      (close_after_writes_ || (wslay_event_get_close_sent(wslay_) && wslay_event_get_close_received(wslay_)))) {
    close_socket();
    return;
  }
  resume_if_drained();
}

void WebSocket::report_close(uint16_t code, std::string_view reason) {
  auto on_close = std::move(handlers_.on_close);
  handlers_ = {};
  if (on_close) on_close(code, reason);
}

void WebSocket::close_socket(bool reset) {
  if (socket_closed_) return;
  socket_closed_ = true;
  closing_ = true;
  close_timer_.stop();
  kick_.stop();
  drop_.stop();
  uv_read_stop(as_stream(tcp_));
  auto freed = [](uv_handle_t *h) { delete static_cast<WebSocket *>(h->data); };
  if (!reset || uv_tcp_close_reset(tcp_, freed) != 0) uv_close(reinterpret_cast<uv_handle_t *>(tcp_), freed);
}

}  // namespace vitals::core::http
