// A bounded LRU of query replies for closed time ranges. An entry remembers
// the end of its range; a write at or before that time drops it. Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "raw_blocks.hpp"
#include "window_rollups.hpp"

namespace vitals::sqlite {

class QueryCache {
 public:
  QueryCache(size_t max_entries, size_t max_bytes) : max_entries_(max_entries), max_bytes_(max_bytes) {}

  // A token taken before reading: put() refuses a result when a write that
  // could change it (invalidate()) happened since.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

  std::shared_ptr<const std::string> get(const std::string &key) {
    std::lock_guard lock(mutex_);
    auto it = index_.find(key);
    if (it == index_.end()) {
      misses_.fetch_add(1, std::memory_order_relaxed);
      return nullptr;
    }
    lru_.splice(lru_.begin(), lru_, it->second);
    hits_.fetch_add(1, std::memory_order_relaxed);
    return it->second->body;
  }

  // Stores body for key, whose range ends at to_ns, unless too large or stale.
  void put(const std::string &key, std::string body, int64_t to_ns, uint64_t generation_at_read) {
    put(key, std::make_shared<const std::string>(std::move(body)), to_ns, generation_at_read);
  }
  // The same, sharing the body with the reply being sent (a raw reply may be a megabyte: no copy).
  void put(const std::string &key, std::shared_ptr<const std::string> body, int64_t to_ns,
           uint64_t generation_at_read) {
    if (max_entries_ == 0 || body->size() + key.size() > max_bytes_ / 8) return;
    std::lock_guard lock(mutex_);
    if (generation_at_read != generation_.load(std::memory_order_relaxed)) return;
    if (auto it = index_.find(key); it != index_.end()) erase(it->second);
    size_t size = body->size() + key.size();
    lru_.push_front(Entry{key, std::move(body), to_ns, size});
    index_.emplace(key, lru_.begin());
    bytes_ += size;
    while (lru_.size() > max_entries_ || bytes_ > max_bytes_) erase(std::prev(lru_.end()));
    entries_.store(lru_.size(), std::memory_order_relaxed);
  }

  // Data at or after from_ns changed (a write with ts >= from_ns, committed):
  // drops every entry whose range ends at or after it.
  void invalidate_from(int64_t from_ns) {
    std::lock_guard lock(mutex_);
    generation_.fetch_add(1, std::memory_order_release);
    for (auto it = lru_.begin(); it != lru_.end();) {
      auto next = std::next(it);
      if (it->to_ns >= from_ns) erase(it);
      it = next;
    }
    entries_.store(lru_.size(), std::memory_order_relaxed);
  }

  // Drops everything: retention deleted old data, which any entry may cover.
  void clear() {
    std::lock_guard lock(mutex_);
    generation_.fetch_add(1, std::memory_order_release);
    lru_.clear();
    index_.clear();
    bytes_ = 0;
    entries_.store(0, std::memory_order_relaxed);
  }

  uint64_t hits() const { return hits_.load(std::memory_order_relaxed); }
  uint64_t misses() const { return misses_.load(std::memory_order_relaxed); }
  size_t entries() const { return entries_.load(std::memory_order_relaxed); }
  size_t bytes() {
    std::lock_guard lock(mutex_);
    return bytes_;
  }

 private:
  struct Entry {
    std::string key;
    std::shared_ptr<const std::string> body;
    int64_t to_ns;
    size_t size;
  };
  void erase(std::list<Entry>::iterator it) {
    bytes_ -= it->size;
    index_.erase(it->key);
    lru_.erase(it);
  }

  const size_t max_entries_, max_bytes_;
  std::mutex mutex_;
  std::list<Entry> lru_;
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
  size_t bytes_ = 0;
  std::atomic<uint64_t> generation_{0}, hits_{0}, misses_{0};
  std::atomic<size_t> entries_{0};
};

// Everything kept about what was read: whole replies and raw blocks of
// closed time ranges, which the writer and retention drop together, and the
// sealed rollups of windows (layout v3), which seals and retention drop.
struct Caches {
  Caches(size_t reply_entries, size_t reply_bytes, size_t block_bytes, size_t window_bytes)
      : replies(reply_entries, reply_bytes), blocks(block_bytes), windows(window_bytes) {}
  void invalidate_from(int64_t from_ns) {
    replies.invalidate_from(from_ns);
    blocks.invalidate_from(from_ns);
  }
  void clear() {
    replies.clear();
    blocks.clear();
    windows.clear();
  }
  // A seal committed: sealed samples changed, not what the head and the
  // sealed samples show together.
  void sealed() {
    replies.clear();
    windows.clear();
  }
  QueryCache replies;
  RawBlocks blocks;
  WindowRollups windows;
};

}  // namespace vitals::sqlite
