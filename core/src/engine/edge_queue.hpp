// A consumer's bounded inbound queue, measured in samples (events count as
// one), with the overflow policies block, drop_oldest and drop_newest. The
// loop pushes; the loop or the consumer's own thread pops.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <vector>

#include "batch.hpp"
#include "config/config.hpp"

namespace vitals::core {

struct QueueItem {
  BatchPtr batch;
  uint64_t delivery_id = 0;
  int64_t enqueued_ns = 0;
};

class EdgeQueue {
 public:
  // closed: the consumer has stopped; nothing will ever take the batch.
  enum class PushResult { accepted, refused_full, dropped_newest, closed };

  explicit EdgeQueue(QueueConfig config) : config_(config) {}

  // True if pushing `weight` more would exceed capacity. An empty queue takes
  // any batch, so one oversized batch cannot wedge the pipeline.
  bool full_for(size_t weight) const;
  // Pushes per the policy; with drop_oldest, the items evicted to make room
  // are appended to `evicted`. "block" never pushes past capacity: the caller
  // checks full_for() first and applies backpressure instead.
  PushResult push(QueueItem item, std::vector<QueueItem> &evicted);
  std::optional<QueueItem> try_pop();
  // Blocks until an item arrives and the queue is not paused; nothing once
  // closed and empty (a closed queue drains even while paused).
  std::optional<QueueItem> pop_wait();
  // Holds pop_wait() while the consumer's own output waits for room
  // downstream, so backpressure reaches its producers (try_pop ignores it:
  // the loop checks the consumer's parked output itself).
  void set_paused(bool paused);
  // Wakes pop_wait() callers; they drain what is left and then get nothing.
  // Later pushes are refused with PushResult::closed.
  void close();
  // Removes and returns everything queued (for shutdown accounting).
  std::vector<QueueItem> take_all();

  size_t depth_samples() const;
  size_t depth_batches() const;
  const QueueConfig &config() const { return config_; }

 private:
  QueueConfig config_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<QueueItem> items_;
  size_t weight_ = 0;
  bool closed_ = false;
  bool paused_ = false;
};

}  // namespace vitals::core
