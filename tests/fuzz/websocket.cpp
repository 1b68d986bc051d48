// Incoming WebSocket frames (core/src/http/websocket.cpp on wslay, the checks
// in websocket_protocol.cpp) on a real connection: a fixed, valid opening
// handshake followed by the input as the client's frames (masked, as
// clients must; fragmented, control frames, close codes, invalid UTF-8).
// The server echoes messages; a binary message "C<code:2><reason>" makes it
// close with that code and reason. Routes: http_fuzz_server.hpp.
#include <cstdint>
#include <string>
#include <string_view>

#include "http_fuzz_server.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string bytes =
      "GET /ws HTTP/1.1\r\n"
      "Host: 127.0.0.1\r\n"
      "Authorization: Bearer fuzz-token\r\n"
      "Upgrade: websocket\r\n"
      "Connection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Version: 13\r\n"
      "\r\n";
  bytes.append(reinterpret_cast<const char *>(data), size);
  vitals::fuzz::show_answer(vitals::fuzz::FuzzServer::get().exchange(bytes));
  return 0;
}
