// The socket pair's I/O thread (channel.hpp).
#include "channel.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "host/fatal_signal.hpp"

namespace vitals::core::isolate {

Channel::Channel(int fd, Handler on_frame, ClosedHandler on_closed)
    : fd_(fd),
      wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
      on_frame_(std::move(on_frame)),
      on_closed_(std::move(on_closed)) {
  ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
  thread_ = std::thread([this] { run(); });
}

Channel::~Channel() {
  close();
  if (thread_.joinable()) thread_.join();
  ::close(fd_);
  ::close(wake_fd_);
}

void Channel::wake() {
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
}

void Channel::send(Msg type, uint64_t id, std::string body) {
  WireWriter header;
  header.put(static_cast<uint32_t>(kFrameHeaderBytes + body.size())).put(type).put(id);
  std::string frame = header.take();
  frame += body;
  {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    outbound_.push_back(std::move(frame));
  }
  wake();
}

Channel::Result Channel::call(Msg type, std::string body,
                              std::optional<std::chrono::steady_clock::time_point> deadline) {
  uint64_t id;
  {
    std::lock_guard lock(mutex_);
    if (closed_) return {Outcome::closed, {}};
    id = next_call_id_++;
    waiting_[id];
  }
  send(type, id, std::move(body));
  std::unique_lock lock(mutex_);
  auto ready = [&] { return closed_ || waiting_[id].has_value(); };
  bool done = deadline ? cv_.wait_until(lock, *deadline, ready) : (cv_.wait(lock, ready), true);
  auto node = waiting_.extract(id);
  if (node.mapped()) return {Outcome::replied, std::move(*node.mapped())};
  return {done ? Outcome::closed : Outcome::timed_out, {}};
}

void Channel::drain(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  cv_.wait_for(lock, timeout, [&] { return closed_ || outbound_.empty(); });
}

void Channel::close() {
  ::shutdown(fd_, SHUT_RDWR);
  wake();
}

bool Channel::closed() const {
  std::lock_guard lock(mutex_);
  return closed_;
}

void Channel::dispatch(Frame &&frame) {
  if (frame.type == Msg::reply) {
    std::lock_guard lock(mutex_);
    // A reply nobody waits for any more (its deadline passed) is dropped.
    if (auto it = waiting_.find(frame.id); it != waiting_.end()) it->second = std::move(frame.body);
    cv_.notify_all();
    return;
  }
  on_frame_(std::move(frame));
}

bool Channel::read_some(std::string &why) {
  char buf[64 * 1024];
  for (;;) {
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n == 0) {
      why = "closed by the peer";
      return false;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      why = std::string("read failed: ") + std::strerror(errno);
      return false;
    }
    inbound_.append(buf, static_cast<size_t>(n));
    if (static_cast<size_t>(n) < sizeof buf) break;
  }
  // Every whole frame received so far.
  size_t used = 0;
  while (inbound_.size() - used >= sizeof(uint32_t)) {
    uint32_t length;
    std::memcpy(&length, inbound_.data() + used, sizeof length);
    if (length < kFrameHeaderBytes || length > kMaxFrameBytes) {
      why = "protocol error: frame of " + std::to_string(length) + " bytes";
      return false;
    }
    if (inbound_.size() - used - sizeof length < length) break;
    const char *p = inbound_.data() + used + sizeof length;
    Frame frame{static_cast<Msg>(p[0]), 0, {}};
    std::memcpy(&frame.id, p + 1, sizeof frame.id);
    frame.body.assign(p + kFrameHeaderBytes, length - kFrameHeaderBytes);
    used += sizeof length + length;
    try {
      dispatch(std::move(frame));
    } catch (const std::exception &e) {  // WireError, or a handler refusing the frame
      why = std::string("protocol error: ") + e.what();
      return false;
    }
  }
  inbound_.erase(0, used);
  return true;
}

bool Channel::write_some(std::string &why) {
  std::unique_lock lock(mutex_);
  while (!outbound_.empty()) {
    const std::string &front = outbound_.front();
    const char *data = front.data() + outbound_offset_;
    size_t left = front.size() - outbound_offset_;
    lock.unlock();  // senders may queue meanwhile; only this thread pops
    ssize_t n = ::send(fd_, data, left, MSG_NOSIGNAL);
    lock.lock();
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
      why = std::string("write failed: ") + std::strerror(errno);
      return false;
    }
    outbound_offset_ += static_cast<size_t>(n);
    if (outbound_offset_ == outbound_.front().size()) {
      outbound_.pop_front();
      outbound_offset_ = 0;
    }
  }
  cv_.notify_all();  // drain() waits for an empty queue
  return true;
}

void Channel::run() {
  ensure_signal_stack();  // the handlers call plugin code in the plugin's process
  std::string why;
  for (;;) {
    bool want_write;
    {
      std::lock_guard lock(mutex_);
      want_write = !outbound_.empty();
    }
    pollfd fds[2] = {{fd_, static_cast<short>(POLLIN | (want_write ? POLLOUT : 0)), 0}, {wake_fd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      why = std::string("poll failed: ") + std::strerror(errno);
      break;
    }
    if (fds[1].revents & POLLIN) {
      uint64_t count;
      [[maybe_unused]] ssize_t n = ::read(wake_fd_, &count, sizeof count);
    }
    if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) && !read_some(why)) break;
    if (!write_some(why)) break;
  }
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
    outbound_.clear();
  }
  cv_.notify_all();
  ::shutdown(fd_, SHUT_RDWR);
  on_closed_(why);
}

}  // namespace vitals::core::isolate
