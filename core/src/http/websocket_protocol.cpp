#include "websocket_protocol.hpp"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <array>

namespace vitals::core::http {

namespace {

constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

std::string base64(const unsigned char *data, size_t len) {
  std::string out(4 * ((len + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char *>(out.data()), data, static_cast<int>(len));
  out.resize(static_cast<size_t>(n));
  return out;
}

// A Sec-WebSocket-Key must decode to exactly 16 bytes: 24 base64 characters
// ending in "==".
bool valid_key(std::string_view key) {
  if (key.size() != 24 || !key.ends_with("==")) return false;
  std::array<unsigned char, 24> decoded{};
  int n = EVP_DecodeBlock(decoded.data(), reinterpret_cast<const unsigned char *>(key.data()), 24);
  // EVP_DecodeBlock counts the padding as zero bytes: 18 = 16 + 2.
  return n == 18 && decoded[16] == 0 && decoded[17] == 0;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string websocket_accept_key(std::string_view client_key) {
  std::string input(client_key);
  input += kGuid;
  std::array<unsigned char, SHA_DIGEST_LENGTH> digest{};
  unsigned int digest_len = 0;
  EVP_Digest(input.data(), input.size(), digest.data(), &digest_len, EVP_sha1(), nullptr);
  return base64(digest.data(), digest_len);
}

WsHandshake check_websocket_handshake(const HttpRequest &request) {
  WsHandshake h;
  auto fail = [&h](int status, std::string error) {
    h.status = status;
    h.error = std::move(error);
    return h;
  };
  if (request.method != "GET") return fail(400, "a WebSocket handshake must be a GET");
  if (request.http_major != 1 || request.http_minor < 1) return fail(400, "a WebSocket handshake needs HTTP/1.1");
  if (!request.headers.has_token("Upgrade", "websocket")) return fail(400, "expected \"Upgrade: websocket\"");
  if (!request.headers.has_token("Connection", "upgrade")) return fail(400, "expected \"Connection: Upgrade\"");
  auto version = request.header("Sec-WebSocket-Version");
  if (!version || trim(*version) != "13")
    return fail(426, "unsupported Sec-WebSocket-Version; this server speaks version 13");
  auto key = request.header("Sec-WebSocket-Key");
  if (!key || !valid_key(trim(*key))) return fail(400, "Sec-WebSocket-Key must be 16 bytes in base64");
  h.status = 101;
  h.accept = websocket_accept_key(trim(*key));
  return h;
}

std::string encode_ws_frame(WsOpcode opcode, std::string_view payload) {
  std::string frame;
  size_t n = payload.size();
  frame.reserve(n + 10);
  frame += static_cast<char>(0x80 | opcode);  // FIN: every server message is one frame
  if (n < 126) {
    frame += static_cast<char>(n);
  } else if (n <= 0xFFFF) {
    frame += static_cast<char>(126);
    frame += static_cast<char>(n >> 8);
    frame += static_cast<char>(n & 0xFF);
  } else {
    frame += static_cast<char>(127);
    for (int shift = 56; shift >= 0; shift -= 8) frame += static_cast<char>((static_cast<uint64_t>(n) >> shift) & 0xFF);
  }
  frame.append(payload);
  return frame;
}

std::string encode_ws_close(uint16_t code, std::string_view reason) {
  if (reason.size() > 123) {
    size_t cut = 123;
    while (cut > 0 && (static_cast<unsigned char>(reason[cut]) & 0xC0) == 0x80) --cut;  // not mid-character
    reason = reason.substr(0, cut);
  }
  std::string payload;
  payload += static_cast<char>(code >> 8);
  payload += static_cast<char>(code & 0xFF);
  payload.append(reason);
  return encode_ws_frame(ws_close, payload);
}

bool valid_utf8(std::string_view text) {
  const auto *s = reinterpret_cast<const unsigned char *>(text.data());
  size_t n = text.size(), i = 0;
  while (i < n) {
    unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    static constexpr uint32_t min_for_len[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_for_len[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

}  // namespace vitals::core::http
