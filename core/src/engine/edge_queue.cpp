// Bounded queue with overflow policies.
#include "edge_queue.hpp"

namespace vitals::core {

bool EdgeQueue::full_for(size_t weight) const {
  std::lock_guard lock(mutex_);
  return !items_.empty() && weight_ + weight > config_.capacity_samples;
}

EdgeQueue::PushResult EdgeQueue::push(QueueItem item, std::vector<QueueItem> &evicted) {
  size_t w = item.batch->weight();
  {
    std::lock_guard lock(mutex_);
    if (closed_) return PushResult::closed;
    bool full = !items_.empty() && weight_ + w > config_.capacity_samples;
    if (full) {
      switch (config_.overflow) {
        case Overflow::block:
          return PushResult::refused_full;
        case Overflow::drop_newest:
          return PushResult::dropped_newest;
        case Overflow::drop_oldest:
          while (!items_.empty() && weight_ + w > config_.capacity_samples) {
            weight_ -= items_.front().batch->weight();
            evicted.push_back(std::move(items_.front()));
            items_.pop_front();
          }
          break;
      }
    }
    weight_ += w;
    items_.push_back(std::move(item));
  }
  cv_.notify_one();
  return PushResult::accepted;
}

std::optional<QueueItem> EdgeQueue::try_pop() {
  std::lock_guard lock(mutex_);
  if (items_.empty()) return std::nullopt;
  QueueItem item = std::move(items_.front());
  items_.pop_front();
  weight_ -= item.batch->weight();
  return item;
}

std::optional<QueueItem> EdgeQueue::pop_wait() {
  std::unique_lock lock(mutex_);
  cv_.wait(lock, [&] { return closed_ || (!items_.empty() && !paused_); });
  if (items_.empty()) return std::nullopt;
  QueueItem item = std::move(items_.front());
  items_.pop_front();
  weight_ -= item.batch->weight();
  return item;
}

void EdgeQueue::set_paused(bool paused) {
  {
    std::lock_guard lock(mutex_);
    paused_ = paused;
  }
  cv_.notify_all();
}

void EdgeQueue::close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  cv_.notify_all();
}

std::vector<QueueItem> EdgeQueue::take_all() {
  std::lock_guard lock(mutex_);
  std::vector<QueueItem> out(std::make_move_iterator(items_.begin()), std::make_move_iterator(items_.end()));
  items_.clear();
  weight_ = 0;
  return out;
}

size_t EdgeQueue::depth_samples() const {
  std::lock_guard lock(mutex_);
  return weight_;
}

size_t EdgeQueue::depth_batches() const {
  std::lock_guard lock(mutex_);
  return items_.size();
}

}  // namespace vitals::core
