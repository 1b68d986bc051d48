// Raw samples of closed time blocks, kept as the JSON text a raw query
// replies with, so that a raw query reads from SQLite only the blocks it has
// not seen yet and the still-open tail.
//
// Why: reading 36,000 rows costs SQLite 3.7 ms and writing them as JSON
// another 2.6 ms, while consecutive dashboard refreshes ask for nearly the
// same hour again. A block is a series' samples in [start, start + width);
// it is closed, and may be kept, once it ended more than flush_interval ago,
// the same horizon the reply cache uses. As with that cache, a committed
// write at or before a block's end drops the block, and a block read while
// such a write committed is not stored (generation()). Thread-safe.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace vitals::sqlite {

// The samples of one block as reply text: each point "[ts,value]," in time
// order, with where each starts, so that any time range of it is one slice.
struct BlockText {
  std::string text;
  std::vector<int64_t> ts;
  std::vector<uint32_t> offsets;  // offsets[i]: start of point i in text

  size_t bytes() const { return text.capacity() + ts.capacity() * 8 + offsets.capacity() * 4 + sizeof(*this); }
  // Points with from <= ts <= to: [first, last).
  std::pair<size_t, size_t> range(int64_t from, int64_t to) const {
    size_t first = static_cast<size_t>(std::lower_bound(ts.begin(), ts.end(), from) - ts.begin());
    size_t last = static_cast<size_t>(std::upper_bound(ts.begin(), ts.end(), to) - ts.begin());
    return {first, std::max(first, last)};
  }
  void append_slice(std::string &out, size_t first, size_t last) const {
    if (first >= last) return;
    size_t begin = offsets[first], end = last < offsets.size() ? offsets[last] : text.size();
    out.append(text, begin, end - begin);
  }
};

class RawBlocks {
 public:
  // Blocks are this wide: 5 minutes is 300 points of a 1 Hz series (about
  // 8 KiB of text), and an hour's query looks up 13 blocks a series.
  static constexpr int64_t width_ns = 300'000'000'000;

  explicit RawBlocks(size_t max_bytes) : max_bytes_(max_bytes) {}

  bool enabled() const { return max_bytes_ > 0; }
  // Taken before reading: put() refuses a block when a write that could
  // change it (invalidate_from(), clear()) happened since.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

  std::shared_ptr<const BlockText> get(int64_t series, int64_t start) {
    std::lock_guard lock(mutex_);
    auto it = index_.find(Key{series, start});
    if (it == index_.end()) return nullptr;
    lru_.splice(lru_.begin(), lru_, it->second);
    return it->second->block;
  }

  void put(int64_t series, int64_t start, std::shared_ptr<const BlockText> block, uint64_t generation_at_read) {
    size_t size = block->bytes();
    if (!enabled() || size > max_bytes_ / 8) return;
    std::lock_guard lock(mutex_);
    if (generation_at_read != generation_.load(std::memory_order_relaxed)) return;
    Key key{series, start};
    if (auto it = index_.find(key); it != index_.end()) erase(it->second);
    lru_.push_front(Entry{key, std::move(block), size});
    index_.emplace(key, lru_.begin());
    bytes_ += size;
    while (bytes_ > max_bytes_) erase(std::prev(lru_.end()));
  }

  // Data at or after from_ns changed: drops every block ending after it.
  void invalidate_from(int64_t from_ns) {
    std::lock_guard lock(mutex_);
    generation_.fetch_add(1, std::memory_order_release);
    for (auto it = lru_.begin(); it != lru_.end();) {
      auto next = std::next(it);
      // The block holds [start, start + width): does it reach from_ns? (Unsigned: no overflow.)
      int64_t start = it->key.start;
      if (from_ns <= start || static_cast<uint64_t>(from_ns) - static_cast<uint64_t>(start) < width_ns) erase(it);
      it = next;
    }
  }

  void clear() {
    std::lock_guard lock(mutex_);
    generation_.fetch_add(1, std::memory_order_release);
    lru_.clear();
    index_.clear();
    bytes_ = 0;
  }

  size_t bytes() {
    std::lock_guard lock(mutex_);
    return bytes_;
  }

 private:
  struct Key {
    int64_t series, start;
    bool operator==(const Key &) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key &k) const {
      return std::hash<uint64_t>()(static_cast<uint64_t>(k.series) * 0x9E3779B97F4A7C15ull ^
                                   static_cast<uint64_t>(k.start));
    }
  };
  struct Entry {
    Key key;
    std::shared_ptr<const BlockText> block;
    size_t size;
  };
  void erase(std::list<Entry>::iterator it) {
    bytes_ -= it->size;
    index_.erase(it->key);
    lru_.erase(it);
  }

  const size_t max_bytes_;
  std::mutex mutex_;
  std::list<Entry> lru_;
  std::unordered_map<Key, std::list<Entry>::iterator, KeyHash> index_;
  size_t bytes_ = 0;
  std::atomic<uint64_t> generation_{0};
};

}  // namespace vitals::sqlite
