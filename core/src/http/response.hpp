// The answer to one request. Handlers get it as a shared pointer so they may
// answer later (on the loop thread); once the client is gone, it is a no-op.
#pragma once

#include <uv.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "request.hpp"
#include "stream_slot.hpp"

namespace vitals::core {

// Owns a TCP handle taken over after a protocol upgrade: destroying the
// pointer closes the socket and frees the handle in its close callback.
// The socket's stream slot (max_streams) travels with it: whoever keeps the
// socket open must keep the slot too, so an owner that takes the handle out
// with release() takes `get_deleter().stream_slot` along (WebSocket does).
struct UvTcpCloser {
  http::StreamSlot stream_slot;
  void operator()(uv_tcp_t *tcp) const;
};
using UvTcpPtr = std::unique_ptr<uv_tcp_t, UvTcpCloser>;

// Receives the socket once the 101 response has been written, with the bytes
// the client sent after its request headers (the first frames, for
// WebSocket). Reading is stopped and `socket->data` is free for the new owner.
using UpgradeHandler = std::function<void(UvTcpPtr socket, std::string already_read)>;

// Responses are written strictly in request order: output of a response whose
// predecessors on the connection are still pending is held back until they
// finish. A response dropped by its handler without an answer becomes a 500,
// so a forgetful handler cannot stall the connection.
class HttpResponse {
 public:
  virtual ~HttpResponse() = default;

  // The whole response at once, with Content-Length; gzipped when the client
  // accepts it and the body is large and textual.
  virtual void send(int status, std::string_view content_type, std::string body) = 0;
  // The same with arbitrary headers (Content-Type among them). Framing
  // headers (Content-Length, Transfer-Encoding, Connection, Date) are the
  // server's and are ignored here.
  virtual void send(int status, HttpHeaders headers, std::string body) = 0;

  // A response kept open: chunked for HTTP/1.1, delimited by closing the
  // connection for HTTP/1.0. Not compressed (streams must flush per write).
  // The connection leaves max_connections for the stream pool until the
  // response ends. False when max_streams streams are open: the response
  // was answered 503 (with Retry-After) instead, and the connection closes.
  virtual bool start(int status, HttpHeaders headers) = 0;
  // False once the response is finished or the client has gone; the caller
  // should then stop producing.
  virtual bool write(std::string_view chunk) = 0;
  virtual void end() = 0;

  // Answers 101 Switching Protocols with `headers`, then hands the socket to
  // `on_upgraded` after the headers are written. Only for requests with
  // `upgrade` set; otherwise answers 500. Nothing more is read as HTTP. The
  // socket holds a stream slot (see UvTcpCloser). False when max_streams
  // streams are open (answered 503 instead of 101; `on_upgraded` is dropped
  // without running) or the upgrade was impossible (500).
  virtual bool upgrade(HttpHeaders headers, UpgradeHandler on_upgraded) = 0;

  // Called once if the connection closes before the response is finished
  // (client gone, timeout, server shutdown); at once if that already happened.
  virtual void on_close(std::function<void()> fn) = 0;

  virtual bool connected() const = 0;  // the client is still there
  virtual bool started() const = 0;    // send(), start() or upgrade() was called
  virtual bool finished() const = 0;   // send(), end() or upgrade() was called
  // Bytes produced but not yet taken by the kernel: streams use it to notice
  // a consumer that does not keep up.
  virtual size_t buffered_bytes() const = 0;
};

namespace http {
// The JSON error body every error the core makes carries: {"error":"..."}.
std::string error_body(std::string_view message);
}  // namespace http

}  // namespace vitals::core
