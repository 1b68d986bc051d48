// One end of the socket pair between the agent and an isolated plugin's
// process. A thread of its own reads and writes the socket (non-blocking), so
// that no caller ever blocks on a peer that stopped reading: senders queue a
// frame and return; a call() waits for its reply, the channel closing, or its
// deadline, whichever comes first. Both ends use this class.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "wire.hpp"

namespace vitals::core::isolate {

struct Frame {
  Msg type;
  uint64_t id;  // the call's id (0: one-way)
  std::string body;
};

class Channel {
 public:
  // Every frame that is not a reply, on the channel's thread, in order.
  using Handler = std::function<void(Frame &&)>;
  // Once, on the channel's thread, when the peer closed the socket, broke the
  // protocol or close() was called; `why` says which. Waiting calls are
  // released first.
  using ClosedHandler = std::function<void(const std::string &why)>;

  // Takes ownership of fd (a connected SOCK_STREAM socket).
  Channel(int fd, Handler on_frame, ClosedHandler on_closed);
  // Closes the socket and joins the thread. Not from the handlers.
  ~Channel();
  Channel(const Channel &) = delete;
  Channel &operator=(const Channel &) = delete;

  // Queues a one-way frame (or a reply); dropped once the channel is closed.
  void send(Msg type, uint64_t id, std::string body);
  void reply(uint64_t id, std::string body) { send(Msg::reply, id, std::move(body)); }

  enum class Outcome { replied, closed, timed_out };
  struct Result {
    Outcome outcome;
    std::string body;  // the reply, when replied
  };
  // Sends a call and waits for its reply. Without a deadline it waits until
  // the reply or the channel closing. A reply after the deadline is dropped.
  Result call(Msg type, std::string body, std::optional<std::chrono::steady_clock::time_point> deadline = std::nullopt);

  // Waits until every queued frame is written (or the channel closed), at
  // most `timeout`: a process that exits after its last reply calls it first.
  void drain(std::chrono::milliseconds timeout);
  // Shuts the socket down; the thread then reports the close.
  void close();
  bool closed() const;

 private:
  void run();
  bool read_some(std::string &why);
  bool write_some(std::string &why);
  void dispatch(Frame &&frame);
  void wake();

  int fd_;
  int wake_fd_;  // an eventfd: senders wake the poll() of the channel's thread
  Handler on_frame_;
  ClosedHandler on_closed_;

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::string> outbound_;  // whole frames
  size_t outbound_offset_ = 0;        // bytes of outbound_.front() already written
  bool closed_ = false;
  uint64_t next_call_id_ = 1;
  std::map<uint64_t, std::optional<std::string>> waiting_;  // call id -> its reply once there

  std::string inbound_;  // the channel's thread only
  std::thread thread_;
};

}  // namespace vitals::core::isolate
