// One WebSocket connection after the handshake: incoming frames are parsed by
// wslay (masking, fragmentation, ping/pong, close, size limits); outgoing data
// frames are encoded once by the caller and the same bytes queued on every
// connection that should get them.
#pragma once

#include <uv.h>
#include <wslay/wslay.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "engine/uv_timer.hpp"
#include "response.hpp"
#include "websocket_protocol.hpp"

namespace vitals::core::http {

// An encoded frame, shared by every connection it is queued on.
using WsFrame = std::shared_ptr<const std::string>;

struct WsLimits {
  size_t max_message = 64 * 1024;     // a larger incoming message closes with 1009
  uint64_t close_timeout_ms = 2'000;  // how long to wait for the client's close frame
  unsigned keepalive_s = 30;          // TCP keepalive probes after this much quiet; 0: off
  // Unsent output (queued writes and what the protocol has yet to write)
  // past which the client's frames are no longer read, so that pings and
  // garbage cannot earn more replies; reading resumes below half of it.
  size_t pause_reading_output = 1024 * 1024;
  // Unsent output past which the client is dropped (reported as 1008): only
  // what the owner sends can get there, reading being paused long before.
  size_t max_output = 64 * 1024 * 1024;
  // Bytes read after the server's close frame, looking for the client's
  // reply; past it nothing more is read until close_timeout ends it.
  size_t max_read_after_close = 64 * 1024;
};

// Counters over every WebSocket of the process since start (loop thread);
// exported as self-metrics.
struct WsStats {
  uint64_t reads_paused = 0;        // times a client's unsent output passed pause_reading_output
  uint64_t dropped_for_output = 0;  // clients dropped past max_output
};
const WsStats &ws_stats();

class WebSocket {
 public:
  struct Handlers {
    // A complete text (valid UTF-8) or binary message.
    std::function<void(WsOpcode opcode, std::string_view data)> on_message;
    // The connection ended without close() being called: the client's close
    // code, the code of the error the server closed with, or 1006.
    std::function<void(uint16_t code, std::string_view reason)> on_close;
  };

  // Takes over an upgraded socket and the bytes already read from it. The
  // object frees itself once the socket is closed.
  static WebSocket *start(UvTcpPtr socket, std::string already_read, Handlers handlers, WsLimits limits);

  // Queues a frame. False once the connection is closing, or if the frame
  // would take the unsent output past limits.max_output: the client is then
  // dropped, and on_close reports 1008 on a later loop turn.
  bool send(WsFrame frame);
  // Bytes queued and not yet taken by the kernel.
  size_t buffered() const;
  // Sends a close frame and closes the connection; no handler runs again.
  void close(uint16_t code, std::string_view reason);

  WebSocket(const WebSocket &) = delete;
  WebSocket &operator=(const WebSocket &) = delete;

 private:
  WebSocket(uv_tcp_t *tcp, Handlers handlers, WsLimits limits);
  ~WebSocket();

  static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf);
  static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);
  static ssize_t wslay_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user);
  static ssize_t wslay_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags, void *user);
  static void wslay_message(wslay_event_context_ptr ctx, const wslay_event_on_msg_recv_arg *arg, void *user);

  void process_input();
  void discard_after_close(const char *data, size_t n);
  void after_protocol_step();
  void send_protocol();
  size_t backlog() const;
  bool output_over_bound();
  void resume_if_drained();
  void drop();
  void write(WsFrame frame);
  void write_done(int status);
  void report_close(uint16_t code, std::string_view reason);
  void close_socket(bool reset = false);

  uv_tcp_t *tcp_;
  wslay_event_context_ptr wslay_ = nullptr;
  Handlers handlers_;
  WsLimits limits_;
  std::array<char, 16 * 1024> read_buffer_;
  std::string input_;  // received bytes wslay has not consumed yet
  size_t input_offset_ = 0;
  bool closing_ = false;  // a close frame was queued or the peer went away
  bool socket_closed_ = false;
  bool close_after_writes_ = false;  // the stream is beyond repair: close once the close frame left
  bool paused_ = false;              // not read: the client has too much output waiting (pause_reading_output)
  bool done_reading_ = false;        // not read: max_read_after_close bytes came after the close frame
  size_t read_after_close_ = 0;
  int writes_in_flight_ = 0;
  std::string protocol_out_;  // what wslay writes in one send_protocol(), sent as one write
  UvTimer close_timer_;       // gives up waiting for the client's close frame
  UvTimer kick_;              // parses input held back (handshake leftovers, a pause), outside callers
  UvTimer drop_;              // drops a client past max_output, outside the owner's send()

  // This socket's place in max_streams (response.hpp): given back in the
  // destructor, once the socket is closed.
  StreamSlot stream_slot_;
};

}  // namespace vitals::core::http
