// What the HTTP server tests share: a blocking client on raw sockets (so a
// test sends exactly the bytes it wants: pipelined, trickled, malformed, and
// reads responses parsed with http-parser) and a harness that runs the server
// on a private loop in the test thread while clients run on their own threads.
#pragma once

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <http_parser.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "http/server.hpp"

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

  // For a response that does not end (a stream): the bytes received up to
  // and including `marker`, or everything received if it never came.
  std::string read_until(std::string_view marker) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms_);
    size_t at;
    while ((at = buffered_.find(marker)) == std::string::npos) {
      std::string chunk;
      if (!receive(chunk, deadline)) return std::exchange(buffered_, {});
      buffered_ += chunk;
    }
    std::string out = buffered_.substr(0, at + marker.size());
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
// A bare connected socket for clients that misbehave on purpose; a send
// that the server no longer reads gives up after send_timeout_ms.
inline int connect_raw(uint16_t port, int send_timeout_ms) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  timeval timeout{send_timeout_ms / 1000, (send_timeout_ms % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  return fd;
}

inline std::string get_request(std::string_view target, std::string_view extra_headers = "") {
  return "GET " + std::string(target) + " HTTP/1.1\r\nHost: test\r\n" + std::string(extra_headers) + "\r\n";
}

using Clock = std::chrono::steady_clock;

inline core::HttpServerConfig test_config() {
  core::HttpServerConfig c;
  c.listen = "127.0.0.1:0";
  c.header_timeout_ms = 300;
  c.idle_timeout_ms = 2'000;
  c.linger_ms = 200;
  c.allowed_hosts = {"t", "test", "x"};  // the Host names the tests send
  return c;
}

inline int64_t ms_since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

// Polls `condition` (which may itself act, e.g. retry a request) until it
// holds or `timeout_ms` passed: generous, since the tests also run under ASan.
template <class F>
bool eventually(F condition, int timeout_ms = 10'000) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!condition()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// Runs `fn` once on the loop after `delay_ms`; the timer frees itself.
inline void after(uv_loop_t *loop, uint64_t delay_ms, std::function<void()> fn) {
  struct Timer {
    uv_timer_t handle;
    std::function<void()> fn;
  };
  auto t = std::make_unique<Timer>(Timer{{}, std::move(fn)});
  uv_timer_init(loop, &t->handle);
  t->handle.data = t.get();
  uv_timer_start(
      &t->handle,
      [](uv_timer_t *h) {
        static_cast<Timer *>(h->data)->fn();
        uv_close(reinterpret_cast<uv_handle_t *>(h),
                 [](uv_handle_t *c) { std::unique_ptr<Timer> done(static_cast<Timer *>(c->data)); });
      },
      delay_ms, 0);
  t.release();  // freed by its close callback
}

struct Harness {
  uv_loop_t loop{};
  std::unique_ptr<core::HttpServer> server;

  explicit Harness(core::HttpServerConfig config = test_config()) {
    uv_loop_init(&loop);
    server = std::make_unique<core::HttpServer>(&loop, std::move(config));
    std::string error;
    INFO(error);
    REQUIRE(server->listen(error));
    REQUIRE(server->port() != 0);
  }

  ~Harness() {
    bool done = false;
    server->close([&] { done = true; }, 500);
    while (!done) uv_run(&loop, UV_RUN_ONCE);
    server.reset();
    uv_run(&loop, UV_RUN_DEFAULT);  // the close callbacks free the last handles
    CHECK(uv_loop_close(&loop) == 0);
  }

  uint16_t port() const { return server->port(); }

  void route(std::string method, std::string path, core::HttpHandler handler,
             core::RouteAccess access = core::RouteAccess::normal) {
    std::string error;
    INFO(error);
    REQUIRE(server->add_route({std::move(method), std::move(path), std::move(handler), access}, error) != 0);
  }

  // Runs the loop until every client (each on its own thread) has returned.
  void run(std::vector<std::function<void()>> clients) {
    uv_async_t stop{};
    uv_async_init(&loop, &stop, [](uv_async_t *a) { uv_stop(a->loop); });
    std::atomic<size_t> running{clients.size()};
    std::vector<std::exception_ptr> errors(clients.size());
    std::vector<std::thread> threads;
    for (size_t i = 0; i < clients.size(); ++i) {
      threads.emplace_back([&, i] {
        try {
          clients[i]();
        } catch (...) {
          errors[i] = std::current_exception();
        }
        if (--running == 0) uv_async_send(&stop);
      });
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    for (auto &t : threads) t.join();
    uv_close(reinterpret_cast<uv_handle_t *>(&stop), nullptr);
    uv_run(&loop, UV_RUN_NOWAIT);
    for (auto &e : errors)
      if (e) std::rethrow_exception(e);
  }
  void run(std::function<void()> client) { run(std::vector<std::function<void()>>{std::move(client)}); }
};

inline core::HttpHandler text(std::string body) {
  return [body](const core::HttpRequest &, std::shared_ptr<core::HttpResponse> res) {
    res->send(200, "text/plain", body);
  };
}

}  // namespace vitals::testing
