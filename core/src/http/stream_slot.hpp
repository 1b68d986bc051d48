// The stream pool's count (max_streams) and the slot a long-lived stream
// holds in it. A slot is held by whatever keeps the stream open: the
// connection serving an event stream, or after an upgrade the socket's new
// owner (a WebSocket), which may outlive the server; hence the shared count.
#pragma once

#include <cstdint>
#include <memory>
#include <utility>

namespace vitals::core::http {

struct StreamPool {
  uint64_t open = 0;  // slots held; loop thread only
};

class StreamSlot {
 public:
  StreamSlot() = default;
  // An empty slot when `limit` are held already.
  static StreamSlot take(const std::shared_ptr<StreamPool> &pool, uint64_t limit) {
    StreamSlot slot;
    if (!pool || pool->open >= limit) return slot;
    ++pool->open;
    slot.pool_ = pool;
    return slot;
  }
  StreamSlot(StreamSlot &&other) noexcept : pool_(std::move(other.pool_)) {}
  StreamSlot &operator=(StreamSlot &&other) noexcept {
    if (this != &other) {
      reset();
      pool_ = std::move(other.pool_);
    }
    return *this;
  }
  StreamSlot(const StreamSlot &) = delete;
  StreamSlot &operator=(const StreamSlot &) = delete;
  ~StreamSlot() { reset(); }

  explicit operator bool() const { return pool_ != nullptr; }
  // Gives the slot back.
  void reset() {
    if (!pool_) return;
    --pool_->open;
    pool_.reset();
  }

 private:
  std::shared_ptr<StreamPool> pool_;
};

}  // namespace vitals::core::http
