// The socket pair's I/O (channel.hpp).
#include "channel.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "host/fatal_signal.hpp"

namespace vitals::core::isolate {

using Clock = std::chrono::steady_clock;

Channel::Channel(int fd, Handler on_frame, ClosedHandler on_closed)
    : fd_(fd),
      wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
      timer_fd_(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK)),
      on_frame_(std::move(on_frame)),
      on_closed_(std::move(on_closed)) {
  ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
}

void Channel::start() {
  thread_ = std::thread([this] { run(); });
}

Channel::~Channel() {
  close();
  if (thread_.joinable()) thread_.join();
  ::close(fd_);
  ::close(wake_fd_);
  ::close(timer_fd_);
}

void Channel::arm_timer_locked() {
  auto earliest = Clock::time_point::max();
  for (const auto &[id, c] : async_calls_) earliest = std::min(earliest, c.deadline);
  if (earliest == armed_) return;
  armed_ = earliest;
  itimerspec when{};  // all zero: disarmed
  if (earliest != Clock::time_point::max()) {
    auto ns = std::max<int64_t>(1, std::chrono::nanoseconds(earliest - Clock::now()).count());
    when.it_value.tv_sec = ns / 1'000'000'000;
    when.it_value.tv_nsec = ns % 1'000'000'000;
  }
  ::timerfd_settime(timer_fd_, 0, &when, nullptr);
}

void Channel::wake() {
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
}

void Channel::send(Msg type, uint64_t id, std::string_view body) {
  char header[sizeof(uint32_t) + kFrameHeaderBytes];
  const auto length = static_cast<uint32_t>(kFrameHeaderBytes + body.size());
  std::memcpy(header, &length, sizeof length);
  header[sizeof length] = static_cast<char>(type);
  std::memcpy(header + sizeof length + 1, &id, sizeof id);
  const size_t total = sizeof header + body.size();
  std::unique_lock lock(mutex_);
  if (closed_) return;
  size_t written = 0;
  if (outbound_.empty()) {
    // Straight to the socket from this thread, header and body in one call
    // and without joining them: waking the channel's thread to write it would
    // cost two more context switches per message.
    while (written < total) {
      iovec iov[2];
      int n_iov = 0;
      if (written < sizeof header) {
        iov[n_iov++] = {header + written, sizeof header - written};
        iov[n_iov++] = {const_cast<char *>(body.data()), body.size()};
      } else {
        iov[n_iov++] = {const_cast<char *>(body.data()) + (written - sizeof header), total - written};
      }
      msghdr msg{};
      msg.msg_iov = iov;
      msg.msg_iovlen = static_cast<size_t>(n_iov);
      ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
      if (n > 0)
        written += static_cast<size_t>(n);
      else if (n < 0 && errno == EINTR)
        continue;
      else
        break;  // the socket is full, or failed: the channel's thread takes the rest (and reports a failure)
    }
    if (written == total) return;
  }
  // What is left, for the channel's thread to write when the socket has room.
  std::string rest;
  rest.reserve(total - written);
  if (written < sizeof header) rest.append(header + written, sizeof header - written);
  rest.append(body.substr(written > sizeof header ? written - sizeof header : 0));
  outbound_.push_back(std::move(rest));
  if (outbound_.size() == 1) outbound_offset_ = 0;
  lock.unlock();
  if (!on_channel_thread()) wake();  // the channel's thread writes after each poll anyway
}

Channel::Result Channel::call(Msg type, std::string_view body, Deadline deadline) {
  // Only the channel's thread reads replies: waiting on it would never end.
  if (on_channel_thread()) return {Outcome::closed, {}};
  uint64_t id;
  {
    std::lock_guard lock(mutex_);
    if (closed_) return {Outcome::closed, {}};
    id = next_call_id_++;
    waiting_[id];
  }
  send(type, id, body);
  std::unique_lock lock(mutex_);
  auto ready = [&] { return closed_ || waiting_[id].has_value(); };
  bool done = deadline ? cv_.wait_until(lock, *deadline, ready) : (cv_.wait(lock, ready), true);
  auto node = waiting_.extract(id);
  if (node.mapped()) return {Outcome::replied, std::move(*node.mapped())};
  return {done ? Outcome::closed : Outcome::timed_out, {}};
}

void Channel::call_async(Msg type, std::string_view body, Clock::time_point deadline, Done done) {
  uint64_t id;
  {
    std::unique_lock lock(mutex_);
    if (closed_) {
      lock.unlock();
      done({Outcome::closed, {}});
      return;
    }
    id = next_call_id_++;
    async_calls_[id] = {deadline, std::move(done)};
    // The channel's thread learns of the deadline from its timer, without
    // being woken now.
    if (deadline < armed_) arm_timer_locked();
  }
  send(type, id, body);
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
    std::unique_lock lock(mutex_);
    if (auto it = async_calls_.find(frame.id); it != async_calls_.end()) {
      Done done = std::move(it->second.done);
      // The timer stays armed for this call's deadline: firing with nothing
      // due costs one wake-up, where disarming and arming it again costs two
      // system calls for every call (a collect every 100 ms).
      async_calls_.erase(it);
      lock.unlock();
      done({Outcome::replied, std::move(frame.body)});
      return;
    }
    // A reply nobody waits for any more (its deadline passed) is dropped.
    if (auto it = waiting_.find(frame.id); it != waiting_.end()) it->second = std::move(frame.body);
    cv_.notify_all();
    return;
  }
  on_frame_(std::move(frame));
}

bool Channel::read_some() {
  char buf[64 * 1024];
  for (;;) {
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n == 0) {
      why_closed_ = "closed by the peer";
      return false;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      why_closed_ = std::string("read failed: ") + std::strerror(errno);
      return false;
    }
    inbound_.append(buf, static_cast<size_t>(n));
    if (static_cast<size_t>(n) < sizeof buf) break;
  }
  // Every whole frame received so far.
  for (;;) {
    uint32_t length;
    if (inbound_.size() < sizeof length) break;
    std::memcpy(&length, inbound_.data(), sizeof length);
    if (length < kFrameHeaderBytes || length > kMaxFrameBytes) {
      why_closed_ = "protocol error: frame of " + std::to_string(length) + " bytes";
      return false;
    }
    if (inbound_.size() - sizeof length < length) break;
    const char *p = inbound_.data() + sizeof length;
    Frame frame{static_cast<Msg>(p[0]), 0, {}};
    std::memcpy(&frame.id, p + 1, sizeof frame.id);
    frame.body.assign(p + kFrameHeaderBytes, length - kFrameHeaderBytes);
    inbound_.erase(0, sizeof length + length);
    try {
      dispatch(std::move(frame));
    } catch (const std::exception &e) {  // WireError, or a handler refusing the frame
      why_closed_ = std::string("protocol error: ") + e.what();
      return false;
    }
  }
  return true;
}

bool Channel::write_some() {
  std::unique_lock lock(mutex_);
  while (!outbound_.empty()) {
    const std::string &front = outbound_.front();
    // Under the lock: a sender writes straight to the socket when nothing
    // waits, and its bytes must not land inside this frame.
    ssize_t n = ::send(fd_, front.data() + outbound_offset_, front.size() - outbound_offset_, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
      why_closed_ = std::string("write failed: ") + std::strerror(errno);
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

void Channel::expire_async_calls() {
  std::vector<Done> late;
  {
    std::lock_guard lock(mutex_);
    auto now = Clock::now();
    for (auto it = async_calls_.begin(); it != async_calls_.end();) {
      if (it->second.deadline <= now) {
        late.push_back(std::move(it->second.done));
        it = async_calls_.erase(it);
      } else {
        ++it;
      }
    }
    armed_ = Clock::time_point::min();  // whatever the timer held has fired or is stale
    arm_timer_locked();
  }
  for (auto &done : late) done({Outcome::timed_out, {}});
}

bool Channel::pump() {
  bool want_write;
  {
    std::lock_guard lock(mutex_);
    want_write = !outbound_.empty();
  }
  pollfd fds[3] = {
      {fd_, static_cast<short>(POLLIN | (want_write ? POLLOUT : 0)), 0}, {wake_fd_, POLLIN, 0}, {timer_fd_, POLLIN, 0}};
  int ready = ::poll(fds, 3, -1);
  if (ready < 0 && errno != EINTR) {
    why_closed_ = std::string("poll failed: ") + std::strerror(errno);
    return false;
  }
  if (ready > 0 && (fds[1].revents & POLLIN)) {
    uint64_t count;
    [[maybe_unused]] ssize_t n = ::read(wake_fd_, &count, sizeof count);
  }
  if (ready > 0 && (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) && !read_some()) return false;
  if (!write_some()) return false;
  if (ready > 0 && (fds[2].revents & POLLIN)) {
    uint64_t expirations;
    [[maybe_unused]] ssize_t n = ::read(timer_fd_, &expirations, sizeof expirations);
    expire_async_calls();
  }
  return true;
}

void Channel::run() {
  io_thread_ = std::this_thread::get_id();
  ensure_signal_stack();
  while (pump()) {
  }
  std::vector<Done> orphans;
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
    outbound_.clear();
    for (auto &[id, c] : async_calls_) orphans.push_back(std::move(c.done));
    async_calls_.clear();
  }
  cv_.notify_all();
  ::shutdown(fd_, SHUT_RDWR);
  for (auto &done : orphans) done({Outcome::closed, {}});
  on_closed_(why_closed_);
}

}  // namespace vitals::core::isolate
