// One request/response pair on a connection: what the response needs to know
// about its request, its framing, and the output it produced while earlier
// responses were still pending.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "response.hpp"

namespace vitals::core::http {

class Connection;

struct ExchangeInfo {
  std::string method;      // for logs; "-" when the request could not be parsed
  std::string path;        // decoded, for logs (never the query: it may hold the token)
  std::string route;       // "GET /api/query" once matched
  bool head = false;       // suppress the body
  bool http10 = false;     // no chunked encoding; keep-alive only on request
  bool keep_alive = true;  // the client (and the server) allow another request
  bool accept_gzip = false;
  bool upgrade_requested = false;
  uint64_t received_ns = 0;  // uv_hrtime() when the request was complete
};

class Exchange {
 public:
  Exchange(Connection *connection, ExchangeInfo info) : info(std::move(info)), connection_(connection) {}

  // The handler-facing operations behind HttpResponse.
  void send(int status, HttpHeaders headers, std::string body);
  bool start(int status, HttpHeaders headers);
  bool write(std::string_view chunk);
  void end();
  bool upgrade(HttpHeaders headers, UpgradeHandler on_upgraded);
  void on_close(std::function<void()> fn);
  // The handler dropped its response without finishing it.
  void abandon();

  bool connected() const { return connection_ != nullptr; }
  bool started() const { return started_; }
  bool finished() const { return finished_; }
  size_t buffered_bytes() const;

  // The connection closed or no longer needs this exchange: from now on every
  // operation is a no-op. Fires on_close if the response was unfinished.
  void detach();

  ExchangeInfo info;
  // Bytes produced while an earlier response on the connection was pending.
  std::vector<std::string> held_output;
  bool closes_connection = false;  // decided with the head: "Connection: close"
  UpgradeHandler upgrade_handler;

 private:
  enum class Framing { length, chunked, until_close, none };
  std::string head(int status, const HttpHeaders &headers, Framing framing, size_t content_length, bool gzipped,
                   bool vary);
  void emit(std::string first, std::string second = {});
  void finish();
  // max_streams are open: 503 instead of the stream, and the connection closes.
  void refuse_stream();

  Connection *connection_;
  bool started_ = false;
  bool finished_ = false;
  bool client_gone_ = false;  // detached before finishing
  bool streaming_ = false;    // a started stream: its connection is in the stream pool
  Framing framing_ = Framing::none;
  std::function<void()> on_close_;
};

// The HttpResponse a handler holds: a thin handle whose destruction without
// an answer turns into a 500.
std::shared_ptr<HttpResponse> make_response(std::shared_ptr<Exchange> exchange);

}  // namespace vitals::core::http
