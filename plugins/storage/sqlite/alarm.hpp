// A thread that calls a function at a time its owner sets: the sqlite
// storage's deferred commit (commit_interval), for when no batch comes to
// trigger it on the consumer thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

namespace vitals::sqlite {

class Alarm {
 public:
  using Clock = std::chrono::steady_clock;
  explicit Alarm(std::function<void()> fire) : fire_(std::move(fire)), thread_([this] { run(); }) {}
  ~Alarm() { stop(); }
  // Ends the thread, waiting for a call in progress (which may still call
  // set(): it does nothing from now on). The owner stops an alarm before
  // taking away what fire uses.
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable()) thread_.join();
  }
  Alarm(const Alarm &) = delete;
  Alarm &operator=(const Alarm &) = delete;

  // Calls fire at `at`, or earlier if it was set earlier and has not fired.
  void set(Clock::time_point at) {
    {
      std::lock_guard lock(mutex_);
      if (stop_ || (at_ && *at_ <= at)) return;
      at_ = at;
    }
    cv_.notify_one();
  }

 private:
  void run() {
    std::unique_lock lock(mutex_);
    while (!stop_) {
      if (!at_) {
        cv_.wait(lock);
        continue;
      }
      // wait_until reads *at_ through its reference each time it wakes, so
      // a set() to an earlier time takes effect.
      if (cv_.wait_until(lock, *at_, [&] { return stop_ || !at_ || Clock::now() >= *at_; }) && !stop_ && at_) {
        at_.reset();
        lock.unlock();
        fire_();
        lock.lock();
      }
    }
  }

  std::function<void()> fire_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::optional<Clock::time_point> at_;
  bool stop_ = false;
  std::thread thread_;  // last: started once the members above exist
};

}  // namespace vitals::sqlite
