// One end of the socket pair between the agent and an isolated plugin's
// process. A thread of its own reads the socket and does nothing else, so a
// reply always gets read whatever the plugin's threads are doing; writes go
// straight to the socket from the sender's thread when nothing is queued
// (non-blocking), else the channel's thread writes them, so that no caller
// ever blocks on a peer that stopped reading. A call() waits for its reply,
// the channel closing, or its deadline, whichever comes first;
// call_async() is told on the channel's thread. Both ends use this class.
#pragma once

#include <atomic>
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
  // Starts the channel's thread: handlers may run from now on, so the owner
  // calls it once it can take their calls (its pointer to this is stored).
  void start();
  // Closes the socket and joins the thread. Not from the handlers.
  ~Channel();
  Channel(const Channel &) = delete;
  Channel &operator=(const Channel &) = delete;

  // Queues a one-way frame (or a reply); dropped once the channel is closed.
  void send(Msg type, uint64_t id, std::string_view body);
  void reply(uint64_t id, std::string_view body) { send(Msg::reply, id, body); }

  enum class Outcome { replied, closed, timed_out };
  struct Result {
    Outcome outcome;
    std::string body;  // the reply, when replied
  };
  using Deadline = std::optional<std::chrono::steady_clock::time_point>;
  // Sends a call and waits for its reply. Without a deadline it waits until
  // the reply or the channel closing. A reply after the deadline is dropped.
  // Not from the channel's own thread (a handler): it answers `closed`.
  Result call(Msg type, std::string_view body, Deadline deadline = std::nullopt);
  // Sends a call; `done` gets its outcome once, on the channel's thread.
  using Done = std::function<void(Result)>;
  void call_async(Msg type, std::string_view body, std::chrono::steady_clock::time_point deadline, Done done);

  // Waits until every queued frame is written (or the channel closed), at
  // most `timeout`: a process that exits after its last reply calls it first.
  void drain(std::chrono::milliseconds timeout);
  // Shuts the socket down; the thread then reports the close.
  void close();
  bool closed() const;

 private:
  void run();
  // One poll of the socket (and the wake-up and timer fds): reads and
  // dispatches what came, writes what is queued, expires async calls.
  // False once closed.
  bool pump();
  bool read_some();
  bool write_some();
  void dispatch(Frame &&frame);
  void expire_async_calls();
  // Sets the timer to the earliest async call's deadline (under mutex_);
  // a timer armed earlier than needed is left to fire (expire_async_calls
  // sets it again).
  void arm_timer_locked();
  void wake();
  bool on_channel_thread() const { return std::this_thread::get_id() == io_thread_.load(); }

  int fd_;
  int wake_fd_;   // an eventfd: senders wake the poll() of the channel's thread
  int timer_fd_;  // a timerfd at the earliest async call's deadline
  Handler on_frame_;
  ClosedHandler on_closed_;
  std::string why_closed_;  // the channel's thread only

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::string> outbound_;  // frames, or what is left of the first
  size_t outbound_offset_ = 0;        // bytes of outbound_.front() already written
  bool closed_ = false;
  uint64_t next_call_id_ = 1;
  std::map<uint64_t, std::optional<std::string>> waiting_;  // call id -> its reply once there
  struct AsyncCall {
    std::chrono::steady_clock::time_point deadline;
    Done done;
  };
  std::map<uint64_t, AsyncCall> async_calls_;
  std::chrono::steady_clock::time_point armed_ = std::chrono::steady_clock::time_point::max();  // the timer's

  std::string inbound_;  // the channel's thread only
  std::atomic<std::thread::id> io_thread_{};
  std::thread thread_;
};

}  // namespace vitals::core::isolate
