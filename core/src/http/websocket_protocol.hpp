// The parts of RFC 6455 that need no socket: the opening handshake check,
// server frame encoding and UTF-8 validation of text messages.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "request.hpp"

namespace vitals::core::http {

enum WsOpcode : uint8_t {
  ws_continuation = 0x0,
  ws_text = 0x1,
  ws_binary = 0x2,
  ws_close = 0x8,
  ws_ping = 0x9,
  ws_pong = 0xA,
};

// Close codes the server sends (RFC 6455 section 7.4.1).
inline constexpr uint16_t ws_close_normal = 1000;
inline constexpr uint16_t ws_close_going_away = 1001;
inline constexpr uint16_t ws_close_protocol_error = 1002;
inline constexpr uint16_t ws_close_abnormal = 1006;  // never sent: the TCP connection just ended
inline constexpr uint16_t ws_close_invalid_payload = 1007;
inline constexpr uint16_t ws_close_policy_violation = 1008;
inline constexpr uint16_t ws_close_too_big = 1009;

// base64(SHA-1(key + the RFC's GUID)): the Sec-WebSocket-Accept value.
std::string websocket_accept_key(std::string_view client_key);

// What the server answers to an upgrade request: status 101 with `accept`
// set, or an error status (400, 426) with a one-line reason.
struct WsHandshake {
  int status = 0;
  std::string accept;
  std::string error;
};

// Checks a client's opening handshake (RFC 6455 section 4.2.1): GET,
// HTTP/1.1, Upgrade: websocket, Connection: upgrade, Sec-WebSocket-Version 13
// (else 426 with the supported version) and a key that is 16 bytes of base64.
WsHandshake check_websocket_handshake(const HttpRequest &request);

// One unmasked, unfragmented server frame. Control frames (close, ping,
// pong) must carry at most 125 bytes: the caller checks.
std::string encode_ws_frame(WsOpcode opcode, std::string_view payload);

// A close frame with a code and a reason (truncated to fit 125 bytes at a
// UTF-8 character boundary).
std::string encode_ws_close(uint16_t code, std::string_view reason);

// Whether `text` is well-formed UTF-8 (no overlongs, surrogates or code
// points above U+10FFFF), as text messages must be.
bool valid_utf8(std::string_view text);

}  // namespace vitals::core::http
