// fanout_client: the load and the measuring end of bench/fanout, in one
// process. It
//   - opens --clients WebSocket connections to --stream-path (or, with
//     --mode sse, that many Server-Sent Events streams), in waves of --wave,
//     each subscribed to the --series series (non-blocking sockets, one epoll
//     set per reader thread, --threads of them);
//   - POSTs the --series samples every --interval-ms from its publisher
//     thread, as one JSON request to --publish-path whose `ts` is the wall
//     clock at send (explicit JSON form: [{"name","labels","ts","value"}]);
//   - after --warmup seconds, measures for --duration seconds: for every
//     sample received, receipt time (CLOCK_REALTIME after the recv that
//     completed its message) minus its ts; the messages and samples of the
//     POSTs sent within the window that every client received; and, for
//     --server-pid, the server's CPU time over the window.
// It prints one JSON object. Deliveries are counted per client: one message
// to one client is one delivered message, carrying --series samples.
//
// Nothing here shares code with the agent: it measures the servers only.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "http_client.hpp"

namespace {

struct Options {
  int port = 0;
  std::string mode = "ws";  // ws or sse
  int clients = 1000;
  int wave = 100;
  int threads = 1;
  int series = 50;
  double interval_ms = 100;
  double warmup_s = 5;
  double duration_s = 20;
  double drain_s = 3;
  int server_pid = 0;
  std::string publish_path = "/api/telemetry";
  std::string stream_path;  // default: /api/stream (ws) or /api/events (sse)
  std::string selector = "fanout";
  std::string name = "fanout";
};

int64_t realtime_ns() {
  timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec;
}

int64_t monotonic_ns() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec;
}

double clock_seconds(clockid_t id) {
  timespec t;
  if (clock_gettime(id, &t) != 0) return std::nan("");
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

// A process's CPU time: its CPU clock (ns resolution, every thread), and
// utime + stime from /proc/PID/stat (clock ticks) as a cross-check.
struct CpuReading {
  double clock_s = std::nan("");
  double stat_s = std::nan("");
};

CpuReading process_cpu(int pid) {
  CpuReading r;
  if (pid <= 0) return r;
  clockid_t id;
  if (clock_getcpuclockid(pid, &id) == 0) r.clock_s = clock_seconds(id);
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t paren = text.rfind(')');
  if (paren != std::string::npos) {
    std::istringstream fields(text.substr(paren + 2));
    std::string f;
    unsigned long long utime = 0, stime = 0;
    // Fields after the command: state is field 3; utime 14, stime 15.
    for (int i = 3; i <= 15 && (fields >> f); ++i) {
      if (i == 14) utime = std::strtoull(f.c_str(), nullptr, 10);
      if (i == 15) stime = std::strtoull(f.c_str(), nullptr, 10);
    }
    r.stat_s = static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  }
  return r;
}

// Latencies in microseconds: exact buckets up to 2 s, the rest kept aside.
class Histogram {
 public:
  static constexpr size_t buckets = 2'000'000;
  Histogram() : counts_(buckets, 0) {}
  void add(int64_t us) {
    if (us < 0) us = 0;  // ts was rounded to a double by the server (±128 ns)
    if (static_cast<size_t>(us) < buckets) {
      ++counts_[static_cast<size_t>(us)];
    } else {
      over_.push_back(us);
    }
    ++n_;
  }
  void merge(const Histogram &o) {
    for (size_t i = 0; i < buckets; ++i) counts_[i] += o.counts_[i];
    over_.insert(over_.end(), o.over_.begin(), o.over_.end());
    n_ += o.n_;
  }
  uint64_t count() const { return n_; }
  double percentile(double p) {
    if (n_ == 0) return std::nan("");
    uint64_t rank = static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(n_)));
    if (rank == 0) rank = 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < buckets; ++i) {
      seen += counts_[i];
      if (seen >= rank) return static_cast<double>(i);
    }
    std::sort(over_.begin(), over_.end());
    return static_cast<double>(over_[std::min<size_t>(rank - seen - 1, over_.size() - 1)]);
  }
  double max() {
    if (!over_.empty()) return static_cast<double>(*std::max_element(over_.begin(), over_.end()));
    for (size_t i = buckets; i-- > 0;)
      if (counts_[i]) return static_cast<double>(i);
    return std::nan("");
  }

 private:
  std::vector<uint32_t> counts_;
  std::vector<int64_t> over_;
  uint64_t n_ = 0;
};

// The measurement window, as wall-clock ns: samples whose ts falls in it count.
std::atomic<int64_t> window_begin{INT64_MAX};
std::atomic<int64_t> window_end{INT64_MAX};
std::atomic<int> ready_count{0}, failed_count{0}, closed_count{0};
std::atomic<uint64_t> window_delivered{0};  // messages of the window, for the drain wait
std::atomic<bool> stop_readers{false};
std::atomic<bool> stop_publisher{false};
std::mutex log_mutex;
int log_budget = 20;  // first problems are printed to stderr, then only counted

void note(const std::string &text) {
  std::lock_guard<std::mutex> lock(log_mutex);
  if (log_budget-- > 0) std::fprintf(stderr, "fanout_client: %s\n", text.c_str());
}

enum class State { connecting, awaiting_head, open, dead };

struct Conn {
  int fd = -1;
  State state = State::connecting;
  bool ready = false;
  std::string in;           // received, not yet parsed (frames, or chunked SSE)
  std::string events;       // SSE: de-chunked text, not yet split into events
  size_t chunk_left = 0;    // SSE: bytes of the current chunk still to come
  bool chunk_crlf = false;  // SSE: the CRLF after a chunk is due
  uint64_t window_messages = 0;
};

struct ReaderStats {
  Histogram latency;
  uint64_t window_messages = 0, window_samples = 0;
  uint64_t messages = 0, samples = 0, snapshots = 0, errors = 0, pings = 0;
  uint64_t bytes = 0;
};

class Reader {
 public:
  Reader(const Options &options, std::string handshake, std::string subscribe)
      : options_(options), handshake_(std::move(handshake)), subscribe_(std::move(subscribe)) {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
  }
  ~Reader() { ::close(ep_); }

  // Called from the main thread: the connection is in progress.
  void add(Conn *c) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.ptr = c;
    epoll_ctl(ep_, EPOLL_CTL_ADD, c->fd, &ev);
  }

  void run() {
    std::vector<epoll_event> events(512);
    std::vector<char> buf(256 * 1024);
    while (!stop_readers.load(std::memory_order_relaxed)) {
      int n = epoll_wait(ep_, events.data(), static_cast<int>(events.size()), 50);
      for (int i = 0; i < n; ++i) {
        Conn *c = static_cast<Conn *>(events[i].data.ptr);
        if (c->state == State::dead) continue;
        if (c->state == State::connecting) {
          if (!(events[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) continue;
          int err = 0;
          socklen_t len = sizeof err;
          getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
          if (err != 0) {
            fail(c, std::string("connect: ") + std::strerror(err));
            continue;
          }
          if (!send_all(c, handshake_)) continue;
          c->state = State::awaiting_head;
          epoll_event ev{};
          ev.events = EPOLLIN;
          ev.data.ptr = c;
          epoll_ctl(ep_, EPOLL_CTL_MOD, c->fd, &ev);
          continue;
        }
        if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) receive(c, buf);
      }
    }
  }

  ReaderStats &stats() { return stats_; }

 private:
  bool send_all(Conn *c, std::string_view bytes) {
    // Only small writes (handshakes, subscriptions, pongs): the socket buffer
    // takes them whole; a short write would be a broken connection here.
    while (!bytes.empty()) {
      ssize_t w = ::send(c->fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        fail(c, std::string("send: ") + std::strerror(errno));
        return false;
      }
      bytes.remove_prefix(static_cast<size_t>(w));
    }
    return true;
  }

  void fail(Conn *c, const std::string &why) {
    if (c->state == State::dead) return;
    if (!c->ready) {
      failed_count.fetch_add(1);
    } else {
      closed_count.fetch_add(1);
    }
    note(why);
    c->state = State::dead;
    epoll_ctl(ep_, EPOLL_CTL_DEL, c->fd, nullptr);
  }

  void receive(Conn *c, std::vector<char> &buf) {
    for (;;) {
      ssize_t r = ::recv(c->fd, buf.data(), buf.size(), 0);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      if (r <= 0) {
        fail(c, r == 0 ? "the server closed a connection" : std::string("recv: ") + std::strerror(errno));
        return;
      }
      int64_t now = realtime_ns();
      stats_.bytes += static_cast<uint64_t>(r);
      if (c->state == State::open && options_.mode == "ws" && c->in.empty()) {
        // The usual case: whole frames, parsed where recv put them.
        std::string_view data(buf.data(), static_cast<size_t>(r));
        size_t used = parse_frames(c, data, now);
        if (c->state != State::dead) c->in.assign(data.substr(used));
      } else {
        c->in.append(buf.data(), static_cast<size_t>(r));
        if (c->state == State::awaiting_head && !parse_head(c)) return;
        if (c->state == State::open) {
          if (options_.mode == "ws") {
            c->in.erase(0, parse_frames(c, c->in, now));
          } else {
            parse_chunks(c, now);
          }
        }
      }
      if (c->state == State::dead || static_cast<size_t>(r) < buf.size()) return;
    }
  }

  bool parse_head(Conn *c) {
    size_t end = c->in.find("\r\n\r\n");
    if (end == std::string::npos) return false;
    std::string head = c->in.substr(0, end + 4);
    c->in.erase(0, end + 4);
    int want = options_.mode == "ws" ? 101 : 200;
    if (head.compare(0, 9, "HTTP/1.1 ") != 0 || std::atoi(head.c_str() + 9) != want) {
      fail(c, "handshake answered: " + head.substr(0, head.find("\r\n")));
      return false;
    }
    c->state = State::open;
    if (options_.mode == "ws") {
      if (!send_all(c, subscribe_)) return false;
    } else {
      // The event stream is ready once its head is in.
      c->ready = true;
      ready_count.fetch_add(1);
    }
    return true;
  }

  // Unmasked server frames; text messages are handled whole. Returns how
  // many bytes of `in` it consumed (whole frames).
  size_t parse_frames(Conn *c, std::string_view in, int64_t now) {
    size_t pos = 0;
    for (;;) {
      if (in.size() - pos < 2) break;
      auto b = [&](size_t i) { return static_cast<unsigned char>(in[pos + i]); };
      int opcode = b(0) & 0x0F;
      bool fin = b(0) & 0x80;
      uint64_t len = b(1) & 0x7F;
      size_t head = 2;
      if (len == 126) {
        if (in.size() - pos < 4) break;
        len = (uint64_t{b(2)} << 8) | b(3);
        head = 4;
      } else if (len == 127) {
        if (in.size() - pos < 10) break;
        len = 0;
        for (size_t i = 2; i < 10; ++i) len = (len << 8) | b(i);
        head = 10;
      }
      if (b(1) & 0x80) {
        fail(c, "a masked frame from the server");
        return pos;
      }
      if (in.size() - pos < head + len) break;
      std::string_view payload(in.data() + pos + head, len);
      pos += head + len;
      if (!fin || opcode == 0) {
        fail(c, "a fragmented message (not expected from either server)");
        return pos;
      }
      if (opcode == 1) {
        text_message(c, payload, now);
      } else if (opcode == 9) {
        ++stats_.pings;
        if (!send_all(c, client_frame(10, payload))) return pos;
      } else if (opcode == 8) {
        fail(c, "the server sent a close frame");
        return pos;
      }
      if (c->state == State::dead) return pos;
    }
    return pos;
  }

  void text_message(Conn *c, std::string_view text, int64_t now) {
    if (text.starts_with("{\"type\":\"samples\"")) {
      samples(c, text, now);
    } else if (text.starts_with("{\"type\":\"subscribed\"")) {
      if (!c->ready) {
        c->ready = true;
        ready_count.fetch_add(1);
      }
    } else if (text.starts_with("{\"type\":\"snapshot\"")) {
      ++stats_.snapshots;  // current values at subscribe time: not live deliveries
    } else if (text.starts_with("{\"type\":\"error\"")) {
      ++stats_.errors;
      note("error message: " + std::string(text.substr(0, 200)));
    }
  }

  // Chunked transfer coding around the event stream, then events split at
  // blank lines.
  void parse_chunks(Conn *c, int64_t now) {
    size_t pos = 0;
    const std::string &in = c->in;
    for (;;) {
      if (c->chunk_crlf) {
        if (in.size() - pos < 2) break;
        pos += 2;
        c->chunk_crlf = false;
      }
      if (c->chunk_left > 0) {
        size_t n = std::min(c->chunk_left, in.size() - pos);
        if (n == 0) break;
        c->events.append(in, pos, n);
        pos += n;
        c->chunk_left -= n;
        if (c->chunk_left == 0) c->chunk_crlf = true;
        continue;
      }
      size_t eol = in.find("\r\n", pos);
      if (eol == std::string::npos) break;
      size_t size = std::strtoull(in.c_str() + pos, nullptr, 16);
      pos = eol + 2;
      if (size == 0) {
        fail(c, "the event stream ended");
        return;
      }
      c->chunk_left = size;
    }
    c->in.erase(0, pos);
    size_t start = 0, end;
    while ((end = c->events.find("\n\n", start)) != std::string::npos) {
      std::string_view event(c->events.data() + start, end - start);
      start = end + 2;
      if (event.find("event: samples\n") == std::string_view::npos) continue;  // pings, resets, events
      size_t data = event.find("data: ");
      if (data != std::string_view::npos) samples(c, event.substr(data + 6), now);
    }
    c->events.erase(0, start);
  }

  // Every "ts": of a samples message is one delivered sample.
  void samples(Conn *c, std::string_view text, int64_t now) {
    static constexpr std::string_view key = "\"ts\":";
    int64_t begin = window_begin.load(std::memory_order_relaxed);
    int64_t end = window_end.load(std::memory_order_relaxed);
    uint64_t n = 0, in_window = 0;
    const char *begin_text = text.data();
    const char *last = text.data() + text.size();
    const char *at = begin_text;
    const char *prev_first = nullptr;
    size_t prev_len = 0;
    int64_t prev_ts = 0;
    // Found from the ':' after the key: memchr for it stops about three
    // times a sample, where a search for the key's first character, '"',
    // would stop at every quote.
    while ((at = static_cast<const char *>(std::memchr(at, ':', static_cast<size_t>(last - at))))) {
      ++at;
      if (at - begin_text < static_cast<ptrdiff_t>(key.size()) ||
          std::memcmp(at - key.size(), key.data(), key.size()) != 0)
        continue;
      const char *first = at;
      int64_t ts = 0;
      // Samples of one POST share their ts: the same digits parse once.
      if (prev_len > 0 && last - first > static_cast<ptrdiff_t>(prev_len) &&
          std::memcmp(first, prev_first, prev_len) == 0 && (first[prev_len] == ',' || first[prev_len] == '}')) {
        ts = prev_ts;
      } else {
        auto [p, ec] = std::from_chars(first, last, ts);
        if (ec != std::errc()) continue;
        if (p < last && (*p == '.' || *p == 'e' || *p == 'E')) {
          ts = static_cast<int64_t>(std::strtod(first, nullptr));
          prev_len = 0;
        } else {
          prev_first = first;
          prev_len = static_cast<size_t>(p - first);
          prev_ts = ts;
        }
      }
      ++n;
      if (ts >= begin && ts < end) {
        ++in_window;
        stats_.latency.add((now - ts) / 1000);
      }
    }
    ++stats_.messages;
    stats_.samples += n;
    if (in_window > 0) {
      ++stats_.window_messages;
      ++c->window_messages;
      window_delivered.fetch_add(1, std::memory_order_relaxed);
      stats_.window_samples += in_window;
    }
  }

  static std::string client_frame(int opcode, std::string_view payload) {
    std::string f;
    f += static_cast<char>(0x80 | opcode);
    size_t n = payload.size();
    if (n < 126) {
      f += static_cast<char>(0x80 | n);
    } else {
      f += static_cast<char>(0x80 | 126);
      f += static_cast<char>(n >> 8);
      f += static_cast<char>(n & 0xFF);
    }
    static thread_local std::mt19937 rng{std::random_device{}()};
    uint32_t key = rng();
    char k[4] = {static_cast<char>(key >> 24), static_cast<char>(key >> 16), static_cast<char>(key >> 8),
                 static_cast<char>(key)};
    f.append(k, 4);
    for (size_t i = 0; i < n; ++i) f += static_cast<char>(payload[i] ^ k[i % 4]);
    return f;
  }

 public:
  static std::string subscribe_frame(const std::string &selector) {
    std::string json = "{\"subscribe\":[\"";
    for (char ch : selector) {
      if (ch == '"' || ch == '\\') json += '\\';
      json += ch;
    }
    json += "\"]}";
    return client_frame(1, json);
  }

 private:
  const Options &options_;
  std::string handshake_, subscribe_;
  int ep_;
  ReaderStats stats_;
};

struct PublisherStats {
  std::vector<int64_t> sent_ts;  // the ts of every POST answered 204
  std::vector<double> post_ms;   // request latency
  uint64_t failures = 0;
};

void publish(const Options &o, PublisherStats &stats) {
  bench::HttpConnection http;
  std::string error;
  if (!http.connect("127.0.0.1", o.port, error)) {
    note("publisher: " + error);
    ++stats.failures;
    return;
  }
  std::string body;
  bench::HttpReply reply;
  int64_t period = static_cast<int64_t>(o.interval_ms * 1e6);
  int64_t next = monotonic_ns();
  for (uint64_t k = 0; !stop_publisher.load(); ++k) {
    timespec at{static_cast<time_t>(next / 1'000'000'000), static_cast<long>(next % 1'000'000'000)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, nullptr) == EINTR) {
    }
    next += period;
    if (stop_publisher.load()) break;
    int64_t ts = realtime_ns();
    body.clear();
    body += '[';
    char num[64];
    for (int i = 0; i < o.series; ++i) {
      if (i) body += ',';
      // Values with a few decimals that change every round, as sensors give.
      double value = static_cast<double>((k * 7 + static_cast<uint64_t>(i) * 13) % 4000) / 4.0;
      int len = std::snprintf(num, sizeof num, "%.2f", value);
      body += "{\"name\":\"" + o.name + "\",\"labels\":{\"id\":\"" + std::to_string(i) +
              "\"},\"ts\":" + std::to_string(ts) + ",\"value\":";
      body.append(num, static_cast<size_t>(len));
      body += '}';
    }
    body += ']';
    int64_t t0 = monotonic_ns();
    if (!http.exchange("POST", o.publish_path, "application/json", body, reply, error) || reply.status != 204) {
      note("publisher: " + (error.empty() ? "status " + std::to_string(reply.status) + ": " + reply.body : error));
      ++stats.failures;
      if (!error.empty() && !http.connect("127.0.0.1", o.port, error)) break;
      continue;
    }
    stats.post_ms.push_back(static_cast<double>(monotonic_ns() - t0) / 1e6);
    stats.sent_ts.push_back(ts);
    // Never fall behind by more than one period (a stalled machine): skip
    // rounds instead of bursting.
    int64_t now = monotonic_ns();
    if (next < now - period) next = now;
  }
}

double percentile_of(std::vector<double> v, double p) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
}

void sleep_s(double s) { std::this_thread::sleep_for(std::chrono::nanoseconds(static_cast<int64_t>(s * 1e9))); }

[[noreturn]] void usage(const char *why) {
  std::fprintf(stderr,
               "fanout_client: %s\nusage: fanout_client --port P [--mode ws|sse] [--clients 1000] [--wave 100] "
               "[--threads 1] [--series 50] [--interval-ms 100] [--warmup 5] [--duration 20] [--drain 3] "
               "[--server-pid PID] [--publish-path /api/telemetry] [--stream-path PATH] [--selector fanout]\n",
               why);
  std::exit(2);
}

std::string fmt(double v) {
  if (std::isnan(v)) return "null";
  char b[64];
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}

}  // namespace

int main(int argc, char **argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) usage(("missing value for " + a).c_str());
    std::string v = argv[++i];
    if (a == "--port")
      o.port = std::atoi(v.c_str());
    else if (a == "--mode")
      o.mode = v;
    else if (a == "--clients")
      o.clients = std::atoi(v.c_str());
    else if (a == "--wave")
      o.wave = std::atoi(v.c_str());
    else if (a == "--threads")
      o.threads = std::atoi(v.c_str());
    else if (a == "--series")
      o.series = std::atoi(v.c_str());
    else if (a == "--interval-ms")
      o.interval_ms = std::atof(v.c_str());
    else if (a == "--warmup")
      o.warmup_s = std::atof(v.c_str());
    else if (a == "--duration")
      o.duration_s = std::atof(v.c_str());
    else if (a == "--drain")
      o.drain_s = std::atof(v.c_str());
    else if (a == "--server-pid")
      o.server_pid = std::atoi(v.c_str());
    else if (a == "--publish-path")
      o.publish_path = v;
    else if (a == "--stream-path")
      o.stream_path = v;
    else if (a == "--selector")
      o.selector = v;
    else
      usage(("unknown option " + a).c_str());
  }
  if (o.port <= 0) usage("--port is required");
  if (o.mode != "ws" && o.mode != "sse") usage("--mode is ws or sse");
  if (o.clients < 1 || o.wave < 1 || o.threads < 1 || o.series < 1 || o.interval_ms <= 0) usage("bad numbers");
  if (o.stream_path.empty()) o.stream_path = o.mode == "ws" ? "/api/stream" : "/api/events";

  // A file descriptor per connection, plus a few.
  rlimit nofile{};
  getrlimit(RLIMIT_NOFILE, &nofile);
  nofile.rlim_cur = nofile.rlim_max;
  setrlimit(RLIMIT_NOFILE, &nofile);
  if (nofile.rlim_cur < static_cast<rlim_t>(o.clients) + 64) {
    std::fprintf(stderr, "fanout_client: RLIMIT_NOFILE hard limit %llu is too low for %d clients\n",
                 static_cast<unsigned long long>(nofile.rlim_max), o.clients);
    return 1;
  }

  std::string host = "127.0.0.1:" + std::to_string(o.port);
  std::string handshake;
  std::string subscribe;
  if (o.mode == "ws") {
    handshake = "GET " + o.stream_path + " HTTP/1.1\r\nHost: " + host +
                "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    subscribe = Reader::subscribe_frame(o.selector);
  } else {
    std::string match;
    for (unsigned char ch : o.selector) {
      if (std::isalnum(ch) || ch == '_' || ch == '-' || ch == '.') {
        match += static_cast<char>(ch);
      } else {
        char hex[4];
        std::snprintf(hex, sizeof hex, "%%%02X", ch);
        match += hex;
      }
    }
    handshake = "GET " + o.stream_path + "?match=" + match + " HTTP/1.1\r\nHost: " + host +
                "\r\nAccept: text/event-stream\r\n\r\n";
  }

  std::vector<std::unique_ptr<Reader>> readers;
  std::vector<std::thread> threads;
  for (int i = 0; i < o.threads; ++i) readers.push_back(std::make_unique<Reader>(o, handshake, subscribe));
  for (auto &r : readers) threads.emplace_back([&r] { r->run(); });

  // Connections, in waves: each wave is open and subscribed before the next
  // starts, so the server never sees more than --wave handshakes at once.
  std::vector<std::unique_ptr<Conn>> conns;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(o.port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int64_t connect_start = monotonic_ns();
  bool connect_failed = false;
  for (int started = 0; started < o.clients && !connect_failed;) {
    int n = std::min(o.wave, o.clients - started);
    for (int i = 0; i < n; ++i) {
      auto c = std::make_unique<Conn>();
      c->fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (c->fd < 0) {
        std::fprintf(stderr, "fanout_client: socket: %s\n", std::strerror(errno));
        return 1;
      }
      int one = 1;
      ::setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      if (::connect(c->fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0 && errno != EINPROGRESS) {
        std::fprintf(stderr, "fanout_client: connect: %s\n", std::strerror(errno));
        return 1;
      }
      readers[static_cast<size_t>(started + i) % readers.size()]->add(c.get());
      conns.push_back(std::move(c));
    }
    started += n;
    int64_t deadline = monotonic_ns() + 20'000'000'000;
    while (ready_count.load() + failed_count.load() < started && monotonic_ns() < deadline) sleep_s(0.002);
    if (ready_count.load() + failed_count.load() < started || failed_count.load() > 0) connect_failed = true;
  }
  double connect_s = static_cast<double>(monotonic_ns() - connect_start) / 1e9;
  int connected = ready_count.load();

  PublisherStats pub;
  std::thread publisher;
  CpuReading server0, server1;
  double client0 = 0, client1 = 0;
  int64_t t0 = 0, t1 = 0;
  uint64_t posts_in_window = 0;
  if (!connect_failed) {
    publisher = std::thread([&] { publish(o, pub); });
    sleep_s(o.warmup_s);
    t0 = realtime_ns();
    window_begin.store(t0);
    server0 = process_cpu(o.server_pid);
    client0 = clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
    sleep_s(o.duration_s);
    t1 = realtime_ns();
    window_end.store(t1);
    server1 = process_cpu(o.server_pid);
    client1 = clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
    stop_publisher.store(true);
    publisher.join();
    for (int64_t ts : pub.sent_ts)
      if (ts >= t0 && ts < t1) ++posts_in_window;
    // Let the last messages of the window arrive.
    uint64_t expected = posts_in_window * static_cast<uint64_t>(connected);
    int64_t deadline = monotonic_ns() + static_cast<int64_t>(o.drain_s * 1e9);
    while (window_delivered.load() < expected && monotonic_ns() < deadline) sleep_s(0.05);
  }
  stop_readers.store(true);
  for (auto &t : threads) t.join();
  for (auto &c : conns) ::close(c->fd);

  ReaderStats all;
  for (auto &r : readers) {
    ReaderStats &s = r->stats();
    all.latency.merge(s.latency);
    all.window_messages += s.window_messages;
    all.window_samples += s.window_samples;
    all.messages += s.messages;
    all.samples += s.samples;
    all.snapshots += s.snapshots;
    all.errors += s.errors;
    all.pings += s.pings;
    all.bytes += s.bytes;
  }
  uint64_t min_per_client = UINT64_MAX, max_per_client = 0;
  for (auto &c : conns) {
    if (!c->ready) continue;
    min_per_client = std::min(min_per_client, c->window_messages);
    max_per_client = std::max(max_per_client, c->window_messages);
  }
  if (min_per_client == UINT64_MAX) min_per_client = 0;
  double window_s = static_cast<double>(t1 - t0) / 1e9;
  uint64_t expected_messages = posts_in_window * static_cast<uint64_t>(connected);

  std::printf(
      "{\"mode\":\"%s\",\"clients\":%d,\"connected\":%d,\"failed\":%d,\"closed\":%d,\"connect_s\":%s,"
      "\"threads\":%d,\"series\":%d,\"interval_ms\":%s,\"window_s\":%s,\"posts\":%zu,\"posts_in_window\":%" PRIu64
      ",\"post_failures\":%" PRIu64
      ",\"post_p50_ms\":%s,\"post_p99_ms\":%s,"
      "\"expected_messages\":%" PRIu64 ",\"messages\":%" PRIu64 ",\"samples\":%" PRIu64 ",\"min_per_client\":%" PRIu64
      ",\"max_per_client\":%" PRIu64
      ",\"messages_per_s\":%s,\"samples_per_s\":%s,"
      "\"latency_samples\":%" PRIu64
      ",\"p50_us\":%s,\"p90_us\":%s,\"p99_us\":%s,\"p999_us\":%s,\"max_us\":%s,"
      "\"server_cpu_s\":%s,\"server_cpu_stat_s\":%s,\"client_cpu_s\":%s,"
      "\"all_messages\":%" PRIu64 ",\"all_samples\":%" PRIu64 ",\"snapshots\":%" PRIu64 ",\"errors\":%" PRIu64
      ",\"pings\":%" PRIu64 ",\"bytes\":%" PRIu64 "}\n",
      o.mode.c_str(), o.clients, connected, failed_count.load(), closed_count.load(), fmt(connect_s).c_str(), o.threads,
      o.series, fmt(o.interval_ms).c_str(), fmt(window_s).c_str(), pub.sent_ts.size(), posts_in_window, pub.failures,
      fmt(percentile_of(pub.post_ms, 50)).c_str(), fmt(percentile_of(pub.post_ms, 99)).c_str(), expected_messages,
      all.window_messages, all.window_samples, min_per_client, max_per_client,
      fmt(window_s > 0 ? static_cast<double>(all.window_messages) / window_s : std::nan("")).c_str(),
      fmt(window_s > 0 ? static_cast<double>(all.window_samples) / window_s : std::nan("")).c_str(),
      all.latency.count(), fmt(all.latency.percentile(50)).c_str(), fmt(all.latency.percentile(90)).c_str(),
      fmt(all.latency.percentile(99)).c_str(), fmt(all.latency.percentile(99.9)).c_str(),
      fmt(all.latency.max()).c_str(), fmt(server1.clock_s - server0.clock_s).c_str(),
      fmt(server1.stat_s - server0.stat_s).c_str(), fmt(client1 - client0).c_str(), all.messages, all.samples,
      all.snapshots, all.errors, all.pings, all.bytes);
  if (connect_failed) {
    std::fprintf(stderr, "fanout_client: only %d of %d clients connected (%d failed)\n", connected, o.clients,
                 failed_count.load());
    return 1;
  }
  return 0;
}
