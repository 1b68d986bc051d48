// One client connection: parses requests with http-parser, enforces size
// limits and timeouts, queues responses so that they leave in request order,
// and closes gracefully or hands the socket over after an upgrade.
#pragma once

#include <http_parser.h>
#include <uv.h>

#include <deque>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/uv_timer.hpp"
#include "exchange.hpp"
#include "request.hpp"
#include "stream_slot.hpp"

namespace vitals::core::http {

struct ServerContext;

// Which of the server's limits a connection counts against (see slots.cpp).
enum class Pool {
  general,  // serving requests: max_connections
  probe,    // admitted beyond max_connections for one probe request: probe_slots
  stream,   // serving a long-lived stream: max_streams
  none,     // closing or handed over: no longer counted
};

class Connection {
 public:
  // Takes an accepted socket; the connection frees itself once the socket is
  // closed (or handed over).
  static void start(ServerContext *ctx, uv_tcp_t *accepted, Pool pool);

  // Output of `exchange`: written now if it is at the head of the queue, else
  // held until the responses before it are done.
  void output(Exchange *exchange, std::string first, std::string second);
  // The same for bytes the caller keeps (a stream chunk and its framing):
  // copied only if the socket does not take them at once.
  void output_parts(Exchange *exchange, std::initializer_list<std::string_view> parts);
  void exchange_finished(Exchange *exchange);
  bool is_last(const Exchange *exchange) const;
  size_t buffered_bytes(const Exchange *exchange) const;
  ServerContext *context() const { return ctx_; }

  // Closes now: unfinished responses see on_close.
  void close();
  // The server is closing: no new requests; close once the queue is empty.
  void drain();
  // The server object is being destroyed: never touch it again.
  void forget_server() { ctx_ = nullptr; }

  // A response on this connection becomes a long-lived stream (a started
  // stream, an accepted upgrade): the connection moves to the stream pool,
  // once however many of its responses stream. False when max_streams are
  // open (counted and logged).
  bool begin_stream();
  // A stream response ended: back to the general pool, and closed after its
  // answers if that pool filled up meanwhile.
  void end_stream();
  Pool pool() const { return pool_; }
  // Between requests with nothing pending: closing it costs its client
  // nothing but a reconnect (the pool evicts the one idle longest).
  bool idle() const;
  uint64_t last_read_ns() const { return last_read_ns_; }

 private:
  enum class Phase {
    awaiting_request,  // between requests (or before the first)
    in_headers,        // a request began: the header deadline runs
    in_body,           // headers done, body arriving
    stopped,           // no more requests are parsed (close or upgrade pending)
    lingering,         // response sent, write side shut, draining reads
  };

  Connection(ServerContext *ctx, uv_tcp_t *tcp, Pool pool);
  void move_to(Pool pool);  // keeps the server's per-pool counts

  // libuv and http-parser callbacks.
  static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf);
  static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);
  static void on_write(uv_write_t *req, int status);
  static void on_closed(uv_handle_t *handle);
  static const http_parser_settings parser_settings;
  int on_message_begin();
  int on_url(const char *at, size_t length);
  int on_header_field(const char *at, size_t length);
  int on_header_value(const char *at, size_t length);
  int on_headers_complete();
  int on_chunk_header();
  int on_body(const char *at, size_t length);
  int on_message_complete();

  void feed(const char *data, size_t length);
  bool add_header_bytes(size_t n);
  bool commit_header();  // false: the field is malformed (reject_status_ is set)
  std::string version_and_host_problem(int &status) const;
  void dispatch_request();
  void reject(int status, std::string_view message);
  void write(std::string first, std::string second);
  void write_done(int status, size_t bytes);
  void advance();
  // Answers not yet taken by the socket (queued writes and held output).
  size_t output_backlog() const;
  // Too many requests pending, or too many answer bytes unsent: the client
  // is not reading, so it gets no more parsing until it does.
  bool must_pause_input() const;
  void start_reading();
  void stop_reading();
  void resume_if_possible();
  void shutdown_and_linger();
  void handover();
  void arm_timer();
  uint64_t body_deadline_ms_from_now() const;
  void on_timeout();
  void arm_answer_timer();
  void on_answer_timeout();

  ServerContext *ctx_;
  uv_tcp_t *tcp_;
  std::string remote_address_;
  http_parser parser_{};
  Phase phase_ = Phase::awaiting_request;
  bool first_request_ = true;
  bool reading_ = false;
  bool closing_ = false;
  int writes_in_flight_ = 0;
  Pool pool_;
  StreamSlot stream_slot_;        // held while pool_ is stream
  int streams_ = 0;               // responses streaming over this connection
  bool close_when_done_ = false;  // back from the stream pool into a full general one
  uint64_t last_read_ns_ = 0;     // uv_hrtime() of the last bytes read (or of the accept)
  UvTimer timer_;
  UvTimer resume_timer_;    // resumes parsing outside the handler that freed a slot
  UvTimer answer_timer_;    // response_timeout of the oldest unanswered request
  UvTimer handover_timer_;  // hands an upgraded socket over outside the handler that answered 101
  uv_shutdown_t shutdown_req_{};

  // The request being parsed.
  HttpRequest request_;
  size_t header_bytes_ = 0;
  size_t header_count_ = 0;
  std::string field_, value_;  // the header field being read (it may arrive in pieces)
  bool in_value_ = false;
  bool headers_done_ = false;
  // The body's rate is judged per window of header_timeout: each window must
  // bring min_body_rate bytes per second of it, so an early burst buys one
  // window, not the right to trickle for the rest of the body.
  uint64_t rate_window_start_ns_ = 0;
  uint64_t rate_window_bytes_ = 0;
  // This request's share of ServerContext::body_bytes_in_flight.
  uint64_t body_reserved_ = 0;
  bool reserve_body_bytes(uint64_t n);  // false: reject_status_ is set (503)
  void release_body_bytes();
  bool keep_alive_ = true;
  int reject_status_ = 0;  // set by a callback that refuses the request
  std::string reject_message_;

  std::deque<std::shared_ptr<Exchange>> queue_;
  std::string unparsed_;       // input held back while too many requests are pending
  std::string upgrade_bytes_;  // what followed an upgrade request's headers
  UpgradeHandler upgrade_handler_;
};

}  // namespace vitals::core::http
