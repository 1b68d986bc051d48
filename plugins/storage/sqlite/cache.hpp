// A bounded LRU of query replies for closed time ranges. An entry remembers
// the end of its range; a write at or before that time drops it. Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "generation_lru.hpp"
#include "raw_blocks.hpp"
#include "window_rollups.hpp"

namespace vitals::sqlite {

class QueryCache {
 public:
  QueryCache(size_t max_entries, size_t max_bytes) : lru_(max_bytes, max_entries) {}

  // A token taken before reading: put() refuses a result when a write that
  // could change it (invalidate_from(), clear()) happened since.
  uint64_t generation() const { return lru_.generation(); }

  std::shared_ptr<const std::string> get(const std::string &key) {
    auto reply = lru_.get(key);
    (reply ? hits_ : misses_).fetch_add(1, std::memory_order_relaxed);
    return reply ? reply->body : nullptr;
  }

  // Stores body for key, whose range ends at to_ns, unless too large or stale.
  void put(const std::string &key, std::string body, int64_t to_ns, uint64_t generation_at_read) {
    put(key, std::make_shared<const std::string>(std::move(body)), to_ns, generation_at_read);
  }
  // The same, sharing the body with the reply being sent (a raw reply may be a megabyte: no copy).
  void put(const std::string &key, std::shared_ptr<const std::string> body, int64_t to_ns,
           uint64_t generation_at_read) {
    if (!lru_.enabled()) return;
    lru_.put(key, std::make_shared<const Reply>(Reply{std::move(body), to_ns, key.size()}), generation_at_read);
  }

  // Data at or after from_ns changed (a write with ts >= from_ns, committed):
  // drops every entry whose range ends at or after it.
  void invalidate_from(int64_t from_ns) {
    lru_.erase_if([from_ns](const std::string &, const Reply &reply) { return reply.to_ns >= from_ns; });
  }

  // Drops everything: retention deleted old data, which any entry may cover.
  void clear() { lru_.clear(); }

  uint64_t hits() const { return hits_.load(std::memory_order_relaxed); }
  uint64_t misses() const { return misses_.load(std::memory_order_relaxed); }
  size_t entries() const { return lru_.entries(); }
  size_t bytes() { return lru_.bytes(); }

 private:
  struct Reply {
    std::shared_ptr<const std::string> body;
    int64_t to_ns;
    size_t key_bytes;
    size_t bytes() const { return body->size() + key_bytes; }
  };
  GenerationLru<std::string, std::hash<std::string>, Reply> lru_;
  std::atomic<uint64_t> hits_{0}, misses_{0};
};

// Everything kept about what was read: whole replies and raw blocks of
// closed time ranges, which the writer and retention drop together, and
// the rollups of windows (layout v3): of their sealed samples, which seals
// and retention drop, and as stored, which the compactor's commits and
// retention drop.
struct Caches {
  Caches(size_t reply_entries, size_t reply_bytes, size_t block_bytes, size_t window_bytes)
      : replies(reply_entries, reply_bytes), blocks(block_bytes), windows(window_bytes), stored(window_bytes) {}
  void invalidate_from(int64_t from_ns) {
    replies.invalidate_from(from_ns);
    blocks.invalidate_from(from_ns);
  }
  void clear() {
    replies.clear();
    blocks.clear();
    windows.clear();
    stored.clear();
  }
  // A seal committed: sealed samples changed, not what the head and the
  // sealed samples show together; the windows it wrote into hold raw
  // samples and are pending now (and one retention emptied of raw samples
  // has its stored rollups added to).
  void sealed() {
    replies.clear();
    windows.clear();
    stored.clear();
  }
  // Windows were finalized: stored rollups changed, not what a query shows.
  void rollups_stored() { stored.clear(); }
  QueryCache replies;
  RawBlocks blocks;
  WindowRollups windows;
  StoredRollups stored;
};

}  // namespace vitals::sqlite
