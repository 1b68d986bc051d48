// A blocking HTTP/1.1 client for the server tests, on raw sockets so a test
// can send exactly the bytes it wants (pipelined, trickled, malformed) and
// read back responses parsed with http-parser.
#pragma once

#include <arpa/inet.h>
#include <http_parser.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <map>
#include <string>
#include <string_view>

namespace vitals::testing {

struct ParsedResponse {
  int status = 0;                              // 0: the connection ended or timed out before a full response
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;                            // de-chunked
  std::string raw;                             // the bytes as received
  bool chunked = false;

  bool has(const std::string &name) const { return headers.count(name) > 0; }
  std::string header(const std::string &name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

class TestClient {
 public:
  explicit TestClient(uint16_t port, int timeout_ms = 3000) : timeout_ms_(timeout_ms) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
    http_parser_init(&parser_, HTTP_RESPONSE);
    parser_.data = this;
    http_parser_settings_init(&settings_);
    settings_.on_header_field = [](http_parser *p, const char *at, size_t n) {
      auto *c = static_cast<TestClient *>(p->data);
      if (c->in_value_) c->commit();
      c->in_value_ = false;
      c->field_.append(at, n);
      return 0;
    };
    settings_.on_header_value = [](http_parser *p, const char *at, size_t n) {
      auto *c = static_cast<TestClient *>(p->data);
      c->in_value_ = true;
      c->value_.append(at, n);
      return 0;
    };
    settings_.on_headers_complete = [](http_parser *p) {
      auto *c = static_cast<TestClient *>(p->data);
      if (!c->field_.empty()) c->commit();
      c->current_->status = static_cast<int>(p->status_code);
      c->current_->chunked = (p->flags & F_CHUNKED) != 0;
      return c->head_ ? 1 : 0;  // 1: a HEAD answer has no body
    };
    settings_.on_body = [](http_parser *p, const char *at, size_t n) {
      static_cast<TestClient *>(p->data)->current_->body.append(at, n);
      return 0;
    };
    settings_.on_message_complete = [](http_parser *p) {
      http_parser_pause(p, 1);
      return 0;
    };
  }
  ~TestClient() { close(); }
  TestClient(const TestClient &) = delete;
  TestClient &operator=(const TestClient &) = delete;

  bool connected() const { return fd_ >= 0; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Reads until one response is complete.
  ParsedResponse read_response(bool head_request = false) {
    ParsedResponse r;
    current_ = &r;
    head_ = head_request;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms_);
    for (;;) {
      if (!buffered_.empty()) {
        size_t n = http_parser_execute(&parser_, &settings_, buffered_.data(), buffered_.size());
        r.raw.append(buffered_, 0, n);
        buffered_.erase(0, n);
        auto err = HTTP_PARSER_ERRNO(&parser_);
        if (err == HPE_PAUSED) {
          http_parser_pause(&parser_, 0);
          return r;
        }
        if (err != HPE_OK) return fail(r);
      }
      std::string chunk;
      if (!receive(chunk, deadline)) {
        // EOF ends a close-delimited body.
        http_parser_execute(&parser_, &settings_, nullptr, 0);
        if (HTTP_PARSER_ERRNO(&parser_) == HPE_PAUSED) {
          http_parser_pause(&parser_, 0);
          return r;
        }
        return fail(r);
      }
      buffered_ += chunk;
    }
  }

  // Bytes after an upgrade: what is left over plus what arrives, up to `n`.
  std::string read_raw(size_t n) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms_);
    while (buffered_.size() < n) {
      std::string chunk;
      if (!receive(chunk, deadline)) break;
      buffered_ += chunk;
    }
    std::string out = buffered_.substr(0, n);
    buffered_.erase(0, out.size());
    return out;
  }

  // Whether the server has sent something (or closed) within the time.
  bool readable(int timeout_ms) {
    if (!buffered_.empty()) return true;
    pollfd p{fd_, POLLIN, 0};
    return fd_ >= 0 && ::poll(&p, 1, timeout_ms) > 0;
  }

  // True if the server closes the connection (FIN or reset) within the time.
  bool wait_closed(int timeout_ms) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      std::string chunk;
      if (!receive(chunk, deadline)) return !timed_out_;
    }
  }

 private:
  // False on EOF, error or deadline (timed_out_ tells which).
  bool receive(std::string &out, std::chrono::steady_clock::time_point deadline) {
    timed_out_ = false;
    if (fd_ < 0) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{fd_, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      timed_out_ = true;
      return false;
    }
    char buf[16384];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return false;
    out.assign(buf, static_cast<size_t>(n));
    return true;
  }

  ParsedResponse fail(ParsedResponse &r) {
    r.status = 0;
    return r;
  }

  void commit() {
    std::string name;
    for (char c : field_) name.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    auto &slot = current_->headers[name];
    slot = slot.empty() ? value_ : slot + ", " + value_;
    field_.clear();
    value_.clear();
  }

  int fd_ = -1;
  int timeout_ms_;
  bool timed_out_ = false;
  http_parser parser_{};
  http_parser_settings settings_{};
  std::string buffered_;
  ParsedResponse *current_ = nullptr;
  bool head_ = false;
  std::string field_, value_;
  bool in_value_ = false;
};

// A GET with the given extra header lines ("Name: value\r\n" each).
inline std::string get_request(std::string_view target, std::string_view extra_headers = "") {
  return "GET " + std::string(target) + " HTTP/1.1\r\nHost: test\r\n" + std::string(extra_headers) + "\r\n";
}

}  // namespace vitals::testing
