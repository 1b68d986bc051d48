// A minimal blocking HTTP/1.1 client for the benchmarks: one keep-alive
// connection over plain POSIX sockets, one request in flight, Content-Length
// and chunked replies. Enough for loopback load generation against the agent,
// and nothing the agent's code shares, so it measures the server only.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

namespace bench {

struct HttpReply {
  int status = 0;
  std::string body;
};

class HttpConnection {
 public:
  HttpConnection() = default;
  HttpConnection(const HttpConnection &) = delete;
  HttpConnection &operator=(const HttpConnection &) = delete;
  ~HttpConnection() { close(); }

  bool connect(const std::string &host, int port, std::string &error) {
    close();
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return fail(error, "socket");
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
      error = "bad IPv4 address " + host;
      return false;
    }
    if (::connect(fd_, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) return fail(error, "connect");
    host_ = host + ":" + std::to_string(port);
    buf_.clear();
    pos_ = 0;
    return true;
  }

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  // Sends one request and reads its whole reply. `target` is path?query.
  bool exchange(std::string_view method, std::string_view target, std::string_view content_type,
                std::string_view body, HttpReply &reply, std::string &error) {
    head_.clear();
    head_.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: ").append(host_).append("\r\n");
    if (!body.empty() || method == "POST") {
      if (!content_type.empty()) head_.append("Content-Type: ").append(content_type).append("\r\n");
      head_.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
    }
    head_.append("\r\n");
    iovec iov[2] = {{head_.data(), head_.size()}, {const_cast<char *>(body.data()), body.size()}};
    int n_iov = body.empty() ? 1 : 2;
    size_t total = head_.size() + body.size(), sent = 0;
    while (sent < total) {
      ssize_t w = ::writev(fd_, iov, n_iov);
      if (w < 0) {
        if (errno == EINTR) continue;
        return fail(error, "write");
      }
      sent += static_cast<size_t>(w);
      size_t skip = static_cast<size_t>(w);
      for (int i = 0; i < n_iov && skip; ++i) {
        size_t k = skip < iov[i].iov_len ? skip : iov[i].iov_len;
        iov[i].iov_base = static_cast<char *>(iov[i].iov_base) + k;
        iov[i].iov_len -= k;
        skip -= k;
      }
    }
    return read_reply(reply, error);
  }

 private:
  bool fail(std::string &error, const char *what) {
    error = std::string(what) + ": " + std::strerror(errno);
    return false;
  }

  // Makes at least `n` unread bytes available.
  bool need(size_t n, std::string &error) {
    while (buf_.size() - pos_ < n) {
      if (pos_ > 0 && pos_ == buf_.size()) {
        buf_.clear();
        pos_ = 0;
      }
      size_t old = buf_.size();
      buf_.resize(old + 256 * 1024);
      ssize_t r = ::recv(fd_, buf_.data() + old, 256 * 1024, 0);
      if (r <= 0) {
        buf_.resize(old);
        if (r < 0 && errno == EINTR) continue;
        if (r == 0) {
          error = "connection closed by the server";
          return false;
        }
        return fail(error, "recv");
      }
      buf_.resize(old + static_cast<size_t>(r));
    }
    return true;
  }

  // The next line (without CRLF), reading more as needed.
  bool line(std::string &out, std::string &error) {
    for (;;) {
      size_t eol = buf_.find("\r\n", pos_);
      if (eol != std::string::npos) {
        out.assign(buf_, pos_, eol - pos_);
        pos_ = eol + 2;
        return true;
      }
      if (!need(buf_.size() - pos_ + 1, error)) return false;
    }
  }

  static bool iequal_prefix(const std::string &s, const char *prefix) {
    size_t n = std::strlen(prefix);
    if (s.size() < n) return false;
    for (size_t i = 0; i < n; ++i)
      if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
    return true;
  }

  bool read_reply(HttpReply &reply, std::string &error) {
    std::string l;
    if (!line(l, error)) return false;
    if (l.size() < 12 || l.compare(0, 5, "HTTP/") != 0) {
      error = "bad status line: " + l;
      return false;
    }
    reply.status = std::atoi(l.c_str() + 9);
    reply.body.clear();
    long long length = -1;
    bool chunked = false;
    for (;;) {
      if (!line(l, error)) return false;
      if (l.empty()) break;
      if (iequal_prefix(l, "content-length:")) length = std::atoll(l.c_str() + 15);
      if (iequal_prefix(l, "transfer-encoding:") && l.find("chunked") != std::string::npos) chunked = true;
    }
    if (reply.status == 204 || reply.status == 304 || (reply.status >= 100 && reply.status < 200)) return true;
    if (chunked) {
      for (;;) {
        if (!line(l, error)) return false;
        size_t size = std::strtoull(l.c_str(), nullptr, 16);
        if (size == 0) {
          if (!line(l, error)) return false;  // the empty line after the last chunk (no trailers)
          return true;
        }
        if (!need(size + 2, error)) return false;
        reply.body.append(buf_, pos_, size);
        pos_ += size + 2;
      }
    }
    if (length < 0) {
      error = "reply without Content-Length or chunked framing";
      return false;
    }
    if (!need(static_cast<size_t>(length), error)) return false;
    reply.body.assign(buf_, pos_, static_cast<size_t>(length));
    pos_ += static_cast<size_t>(length);
    return true;
  }

  int fd_ = -1;
  std::string host_, head_, buf_;
  size_t pos_ = 0;
};

}  // namespace bench
