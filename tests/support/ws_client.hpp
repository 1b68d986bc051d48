// A small blocking WebSocket client (RFC 6455) on POSIX sockets for tests and
// benchmarks: it performs the opening handshake, sends masked frames (or any
// malformed bytes a test wants) and reads whole frames with a timeout.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>

namespace vitals::test {

struct WsMessage {
  int opcode = 0;  // 1 text, 2 binary, 8 close, 9 ping, 10 pong
  std::string data;
  bool fin = true;
  // For a close frame: its code (0 when it carried none).
  int close_code() const {
    return data.size() >= 2 ? (static_cast<unsigned char>(data[0]) << 8) | static_cast<unsigned char>(data[1]) : 0;
  }
};

class WsClient {
 public:
  // Connects to 127.0.0.1:port and sends the handshake for `target`;
  // `extra_headers` are "Name: value\r\n" lines; `first_frames` go out in
  // the same write as the handshake; a small `receive_buffer` makes a client
  // that the server finds slow. handshake_status() tells how the server
  // answered (101 on success).
  WsClient(uint16_t port, const std::string &target = "/", const std::string &extra_headers = "",
           const std::string &first_frames = "", int receive_buffer = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    // Before connect(): a receive window shrunk on a live connection stalls it.
    if (receive_buffer > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) {
      close();
      return;
    }
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    send_raw("GET " + target +
             " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
             extra_headers + "\r\n" + first_frames);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos)
      if (!receive(deadline)) return;
    response_head_ = buffer_.substr(0, end + 4);
    buffer_.erase(0, end + 4);
    if (response_head_.rfind("HTTP/1.1 ", 0) == 0) status_ = std::stoi(response_head_.substr(9, 3));
  }
  ~WsClient() { close(); }
  WsClient(const WsClient &) = delete;
  WsClient &operator=(const WsClient &) = delete;

  int handshake_status() const { return status_; }
  bool open() const { return fd_ >= 0 && status_ == 101; }
  // The response head (status line and headers) as received.
  const std::string &response_head() const { return response_head_; }
  // After a failed handshake: the rest of the response (its body, if the
  // server closed after it).
  std::string rest(int timeout_ms = 2000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (receive(deadline)) {
    }
    return buffer_;
  }
  int fd() const { return fd_; }

  bool send_text(std::string_view text) { return send_frame(1, text); }
  // One frame, masked as a client must unless `mask` is false.
  bool send_frame(int opcode, std::string_view payload, bool fin = true, bool mask = true) {
    return send_raw(encode(opcode, payload, fin, mask));
  }
  // The bytes of one client frame.
  static std::string encode(int opcode, std::string_view payload, bool fin = true, bool mask = true) {
    std::string f;
    f += static_cast<char>((fin ? 0x80 : 0) | opcode);
    uint8_t mask_bit = mask ? 0x80 : 0;
    size_t n = payload.size();
    if (n < 126) {
      f += static_cast<char>(mask_bit | n);
    } else if (n <= 0xFFFF) {
      f += static_cast<char>(mask_bit | 126);
      f += static_cast<char>(n >> 8);
      f += static_cast<char>(n & 0xFF);
    } else {
      f += static_cast<char>(mask_bit | 127);
      for (int s = 56; s >= 0; s -= 8) f += static_cast<char>((static_cast<uint64_t>(n) >> s) & 0xFF);
    }
    std::string body(payload);
    if (mask) {
      static thread_local std::mt19937 rng{std::random_device{}()};
      uint32_t key = rng();
      char k[4] = {static_cast<char>(key >> 24), static_cast<char>(key >> 16), static_cast<char>(key >> 8),
                   static_cast<char>(key)};
      f.append(k, 4);
      for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(body[i] ^ k[i % 4]);
    }
    return f + body;
  }
  bool send_close(int code, std::string_view reason = "") {
    std::string p;
    p += static_cast<char>(code >> 8);
    p += static_cast<char>(code & 0xFF);
    p.append(reason);
    return send_frame(8, p);
  }
  bool send_raw(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // The next frame, or nullopt on timeout or when the server closed TCP.
  std::optional<WsMessage> read(int timeout_ms = 3000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      if (auto m = parse()) return m;
      if (!receive(deadline)) return std::nullopt;
    }
  }
  // The next text or binary message, skipping pings and pongs.
  std::optional<WsMessage> read_data(int timeout_ms = 3000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      auto m = read(static_cast<int>(std::max<int64_t>(left.count(), 0)));
      if (!m || (m->opcode != 9 && m->opcode != 10)) return m;
    }
  }
  // True once the server has closed the TCP connection (within the time).
  bool wait_closed(int timeout_ms) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (receive(deadline)) {
    }
    return eof_;
  }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  std::optional<WsMessage> parse() {
    if (buffer_.size() < 2) return std::nullopt;
    auto b = [this](size_t i) { return static_cast<unsigned char>(buffer_[i]); };
    WsMessage m;
    m.fin = b(0) & 0x80;
    m.opcode = b(0) & 0x0F;
    bool masked = b(1) & 0x80;
    uint64_t len = b(1) & 0x7F;
    size_t pos = 2;
    if (len == 126) {
      if (buffer_.size() < 4) return std::nullopt;
      len = (uint64_t{b(2)} << 8) | b(3);
      pos = 4;
    } else if (len == 127) {
      if (buffer_.size() < 10) return std::nullopt;
      len = 0;
      for (size_t i = 2; i < 10; ++i) len = (len << 8) | b(i);
      pos = 10;
    }
    if (masked) pos += 4;  // a server must not mask; kept readable for tests that check it
    if (buffer_.size() < pos + len) return std::nullopt;
    m.data = buffer_.substr(pos, len);
    buffer_.erase(0, pos + len);
    return m;
  }
  bool receive(std::chrono::steady_clock::time_point deadline) {
    if (fd_ < 0) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{fd_, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char buf[65536];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    buffer_.append(buf, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  int status_ = 0;
  bool eof_ = false;
  std::string response_head_;
  std::string buffer_;
};

}  // namespace vitals::test
