// bench/fanout's floor: the cheapest WebSocket broadcast server that
// fanout_client accepts, to show what any server that sends each message to
// each client socket can reach on this machine.
//
//   POST /api/telemetry   any body (Content-Length, keep-alive); answered 204
//                         once sent to every client
//   GET  /api/stream      WebSocket: {"type":"hello",...} on connect, and
//                         {"type":"subscribed",...} in answer to any text message
//
// One thread, one epoll set, non-blocking sockets. A POST's body is not
// parsed: the message is {"type":"samples","samples":<the body as it came>,
// "coalesced":false} (the explicit form's samples, with "name" and "labels"
// where the agent and server.js write "series"; fanout_client counts every
// "ts":), framed once, then one send() of the whole frame to each open client.
// Only what a send leaves over (a short write or EAGAIN) is copied, into that
// client's queue, and finished on EPOLLOUT; a client more than max_queue behind
// is closed rather than let the queue grow. There is no per-client filtering
// (everyone gets everything, as server.js), no batching and no other policy
// for slow clients: what is left is the kernel's TCP send per client and
// message plus a loop around it, the lower bound of CPU per delivery for a
// server that sends each message to each client socket.
//
// usage: bare_broadcast    (prints "listening on 127.0.0.1:PORT", port $PORT
//                           or any; SIGTERM stops it)
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr size_t max_head = 16 * 1024;         // a request's line and headers
constexpr size_t max_body = 16 * 1024 * 1024;  // a POST's body
constexpr size_t max_frame = 64 * 1024;        // a client frame's payload (server.js: maxPayload)
constexpr size_t max_queue = 4 * 1024 * 1024;  // unsent bytes of one client before it is closed

constexpr std::string_view hello = R"({"type":"hello","protocol":1,"frame_interval_ms":0})";
constexpr std::string_view subscribed = R"({"type":"subscribed","subscriptions":["fanout"]})";
constexpr std::string_view samples_head = R"({"type":"samples","samples":)";
constexpr std::string_view samples_tail = R"(,"coalesced":false})";

enum Opcode : unsigned char { op_text = 0x1, op_binary = 0x2, op_close = 0x8, op_ping = 0x9, op_pong = 0xA };

struct Conn {
  int fd = -1;            // -1: closed (freed at the end of the epoll round)
  bool upgraded = false;  // WebSocket frames from here on
  bool listed = false;    // in `clients`: gets the broadcasts
  bool closing = false;   // close once `out` is sent; input is ignored
  bool want_out = false;  // EPOLLOUT is in the set
  size_t index = 0;       // in `clients`
  std::string in;         // received, not yet handled
  std::string out;        // what send() left over, from out_pos on
  size_t out_pos = 0;
};

int ep = -1;
std::vector<Conn *> clients;              // open WebSocket connections
std::vector<std::unique_ptr<Conn>> dead;  // closed in this epoll round
std::string message;                      // the frame being broadcast
char listen_tag, signal_tag;              // epoll data of the two other descriptors

void watch(Conn *c, bool out) {
  if (c->want_out == out) return;
  c->want_out = out;
  epoll_event ev{};
  ev.events = EPOLLIN | (out ? static_cast<uint32_t>(EPOLLOUT) : 0u);
  ev.data.ptr = c;
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

void unlist(Conn *c) {
  if (!c->listed) return;
  clients[c->index] = clients.back();
  clients[c->index]->index = c->index;
  clients.pop_back();
  c->listed = false;
}

void close_conn(Conn *c) {
  if (c->fd < 0) return;
  unlist(c);
  ::close(c->fd);
  c->fd = -1;
  dead.emplace_back(c);
}

// Closes a closing connection once everything queued is sent.
void finish(Conn *c) {
  if (c->fd >= 0 && c->closing && c->out_pos == c->out.size()) close_conn(c);
}

// Sends what the socket takes now and queues the rest.
void send_or_queue(Conn *c, std::string_view data) {
  if (c->fd < 0) return;
  if (c->out_pos < c->out.size()) {  // earlier bytes wait: keep the order
    if (c->out.size() - c->out_pos + data.size() > max_queue) return close_conn(c);
    c->out.append(data);
    return;
  }
  ssize_t w = ::send(c->fd, data.data(), data.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  if (w == static_cast<ssize_t>(data.size())) return;
  if (w < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return close_conn(c);
    w = 0;
  }
  c->out.assign(data.substr(static_cast<size_t>(w)));
  c->out_pos = 0;
  watch(c, true);
}

void flush(Conn *c) {
  while (c->out_pos < c->out.size()) {
    ssize_t w = ::send(c->fd, c->out.data() + c->out_pos, c->out.size() - c->out_pos, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (w < 0) return close_conn(c);
    c->out_pos += static_cast<size_t>(w);
  }
  std::string().swap(c->out);
  c->out_pos = 0;
  watch(c, false);
  finish(c);
}

void append_header(std::string &out, unsigned char opcode, size_t n) {
  out += static_cast<char>(0x80 | opcode);
  if (n < 126) {
    out += static_cast<char>(n);
  } else if (n < 65536) {
    out += static_cast<char>(126);
    out += static_cast<char>(n >> 8);
    out += static_cast<char>(n & 0xFF);
  } else {
    out += static_cast<char>(127);
    for (int shift = 56; shift >= 0; shift -= 8) out += static_cast<char>((uint64_t{n} >> shift) & 0xFF);
  }
}

std::string frame(unsigned char opcode, std::string_view payload) {
  std::string f;
  append_header(f, opcode, payload.size());
  f.append(payload);
  return f;
}

// Sends a close frame with `code` and closes once it is out.
void close_websocket(Conn *c, unsigned code) {
  unlist(c);
  const char payload[2] = {static_cast<char>(code >> 8), static_cast<char>(code & 0xFF)};
  send_or_queue(c, frame(op_close, std::string_view(payload, 2)));
  c->closing = true;
  finish(c);
}

void reply_and_close(Conn *c, std::string_view status) {
  send_or_queue(c, "HTTP/1.1 " + std::string(status) + "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  c->closing = true;
  finish(c);
}

// One message to every open client: the floor's whole job.
void broadcast(std::string_view body) {
  message.clear();
  append_header(message, op_text, samples_head.size() + body.size() + samples_tail.size());
  message.append(samples_head).append(body).append(samples_tail);
  // Backwards: a client closed on the way is replaced by the last one, which
  // has had its send.
  for (size_t i = clients.size(); i-- > 0;) send_or_queue(clients[i], message);
}

std::string accept_key(std::string_view key) {
  static constexpr std::string_view guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  std::string keyed(key);
  keyed.append(guid);
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char *>(keyed.data()), keyed.size(), digest);
  unsigned char base64[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
  int n = EVP_EncodeBlock(base64, digest, SHA_DIGEST_LENGTH);
  return std::string(reinterpret_cast<char *>(base64), static_cast<size_t>(n));
}

// The value of header `name` (lower case) in `head` (lines ending in CRLF,
// the request line first); `found` tells an absent header from an empty one.
std::string_view header(std::string_view head, std::string_view name, bool &found) {
  found = false;
  for (size_t at = head.find("\r\n"); at != std::string_view::npos && at + 2 < head.size();) {
    size_t start = at + 2;
    size_t end = head.find("\r\n", start);
    std::string_view line = head.substr(start, end - start);
    at = end;
    if (line.size() <= name.size() || line[name.size()] != ':') continue;
    bool same = true;
    for (size_t i = 0; i < name.size() && same; ++i)
      same = std::tolower(static_cast<unsigned char>(line[i])) == name[i];
    if (!same) continue;
    std::string_view value = line.substr(name.size() + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    found = true;
    return value;
  }
  return {};
}

// One HTTP request at the start of `in`: the bytes it took, 0 if it is not
// all there yet (or the connection is closing).
size_t request(Conn *c, std::string_view in) {
  size_t end = in.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    if (in.size() > max_head) reply_and_close(c, "431 Request Header Fields Too Large");
    return 0;
  }
  std::string_view head = in.substr(0, end + 2);
  size_t sp1 = head.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : head.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || sp2 > head.find("\r\n")) {
    reply_and_close(c, "400 Bad Request");
    return 0;
  }
  std::string_view method = head.substr(0, sp1);
  std::string_view path = head.substr(sp1 + 1, sp2 - sp1 - 1);
  path = path.substr(0, path.find('?'));
  bool found;
  header(head, "transfer-encoding", found);
  if (found) {
    reply_and_close(c, "501 Not Implemented");
    return 0;
  }
  size_t length = 0;
  std::string_view length_text = header(head, "content-length", found);
  if (found) {
    auto [p, ec] = std::from_chars(length_text.data(), length_text.data() + length_text.size(), length);
    if (ec != std::errc() || p != length_text.data() + length_text.size()) {
      reply_and_close(c, "400 Bad Request");
      return 0;
    }
  }
  if (length > max_body) {
    reply_and_close(c, "413 Content Too Large");
    return 0;
  }
  size_t total = end + 4 + length;
  if (in.size() < total) return 0;

  if (method == "GET" && path == "/api/stream") {
    std::string_view key = header(head, "sec-websocket-key", found);
    if (key.empty() || length != 0) {
      reply_and_close(c, "400 Bad Request");
      return 0;
    }
    std::string reply =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: " +
        accept_key(key) + "\r\n\r\n";
    append_header(reply, op_text, hello.size());
    reply.append(hello);
    c->upgraded = true;
    c->listed = true;
    c->index = clients.size();
    clients.push_back(c);
    send_or_queue(c, reply);
    return total;
  }
  if (method == "POST" && path == "/api/telemetry") {
    if (length == 0) {
      send_or_queue(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
      return total;
    }
    broadcast(in.substr(end + 4, length));
    send_or_queue(c, "HTTP/1.1 204 No Content\r\n\r\n");
    return total;
  }
  send_or_queue(c, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
  return total;
}

// One client frame at the start of `in`: the bytes it took, 0 if it is not
// all there yet (or the connection is closing). Small, unfragmented messages
// only, as the benchmark's clients send.
size_t client_frame(Conn *c, std::string_view in) {
  if (in.size() < 2) return 0;
  auto b = [&](size_t i) { return static_cast<unsigned char>(in[i]); };
  bool fin = b(0) & 0x80;
  unsigned char opcode = b(0) & 0x0F;
  size_t length = b(1) & 0x7F;
  size_t head = 2;
  if (length == 126) {
    if (in.size() < 4) return 0;
    length = (size_t{b(2)} << 8) | b(3);
    head = 4;
  } else if (length == 127) {
    close_websocket(c, 1009);  // too big
    return 0;
  }
  if (!(b(1) & 0x80) || (b(0) & 0x70) || ((opcode & 0x8) && (!fin || length > 125))) {
    close_websocket(c, 1002);  // unmasked, reserved bits, or a bad control frame
    return 0;
  }
  if (length > max_frame) {
    close_websocket(c, 1009);
    return 0;
  }
  if (in.size() < head + 4 + length) return 0;
  std::string_view payload = in.substr(head + 4, length);
  auto unmasked = [&] {
    std::string s(payload);
    for (size_t i = 0; i < s.size(); ++i) s[i] = static_cast<char>(s[i] ^ in[head + i % 4]);
    return s;
  };
  if (!fin) {
    close_websocket(c, 1003);  // fragmented messages are not taken
    return 0;
  }
  switch (opcode) {
    case op_text:
      send_or_queue(c, frame(op_text, subscribed));
      break;
    case op_binary:
    case op_pong:
      break;
    case op_ping:
      send_or_queue(c, frame(op_pong, unmasked()));
      break;
    case op_close:
      // Echo the status code, then close once the answer is out.
      unlist(c);
      send_or_queue(c, frame(op_close, unmasked().substr(0, 2)));
      c->closing = true;
      finish(c);
      return 0;
    default:
      close_websocket(c, 1002);  // a continuation (no message was started) or a reserved opcode
      return 0;
  }
  return head + 4 + length;
}

void handle_input(Conn *c) {
  size_t pos = 0;
  while (c->fd >= 0 && !c->closing) {
    std::string_view rest = std::string_view(c->in).substr(pos);
    size_t used = c->upgraded ? client_frame(c, rest) : request(c, rest);
    if (used == 0) break;
    pos += used;
  }
  if (c->fd >= 0) c->in.erase(0, pos);
}

void readable(Conn *c) {
  char buf[64 * 1024];
  for (;;) {
    ssize_t r = ::recv(c->fd, buf, sizeof buf, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (r <= 0) return close_conn(c);
    if (!c->closing) {
      c->in.append(buf, static_cast<size_t>(r));
      handle_input(c);
      if (c->fd < 0) return;
    }
    if (static_cast<size_t>(r) < sizeof buf) return;
  }
}

void accept_all(int listener, int &spare) {
  for (;;) {
    int fd = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if ((errno == EMFILE || errno == ENFILE) && spare >= 0) {
        // Out of descriptors: refuse the connection rather than spin on it.
        ::close(spare);
        fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd >= 0) ::close(fd);
        spare = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        continue;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK) std::perror("bare_broadcast: accept");
      return;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto *c = new Conn;
    c->fd = fd;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = c;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) close_conn(c);
  }
}

[[noreturn]] void die(const char *what) {
  std::fprintf(stderr, "bare_broadcast: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

}  // namespace

int main() {
  // A descriptor per client, plus a few.
  rlimit nofile{};
  getrlimit(RLIMIT_NOFILE, &nofile);
  nofile.rlim_cur = nofile.rlim_max;
  setrlimit(RLIMIT_NOFILE, &nofile);

  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  sigprocmask(SIG_BLOCK, &stop, nullptr);
  int signals = signalfd(-1, &stop, SFD_NONBLOCK | SFD_CLOEXEC);
  if (signals < 0) die("signalfd");

  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listener < 0) die("socket");
  int one = 1;
  ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const char *port = std::getenv("PORT");
  addr.sin_port = htons(static_cast<uint16_t>(port ? std::atoi(port) : 0));
  if (::bind(listener, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) die("bind");
  if (::listen(listener, 4096) != 0) die("listen");
  socklen_t len = sizeof addr;
  if (::getsockname(listener, reinterpret_cast<sockaddr *>(&addr), &len) != 0) die("getsockname");
  int spare = ::open("/dev/null", O_RDONLY | O_CLOEXEC);

  ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = &listen_tag;
  if (epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev) != 0) die("epoll_ctl");
  ev.data.ptr = &signal_tag;
  if (epoll_ctl(ep, EPOLL_CTL_ADD, signals, &ev) != 0) die("epoll_ctl");

  std::printf("listening on 127.0.0.1:%d\n", ntohs(addr.sin_port));
  std::fflush(stdout);

  std::vector<epoll_event> events(256);
  for (bool running = true; running;) {
    int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) die("epoll_wait");
    for (int i = 0; i < n; ++i) {
      void *tag = events[i].data.ptr;
      if (tag == &listen_tag) {
        accept_all(listener, spare);
      } else if (tag == &signal_tag) {
        running = false;
      } else {
        Conn *c = static_cast<Conn *>(tag);
        if (c->fd < 0) continue;  // closed earlier in this round
        if (events[i].events & EPOLLOUT) flush(c);
        if (c->fd >= 0 && (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) readable(c);
      }
    }
    dead.clear();
  }
  ::close(listener);
  return 0;
}
