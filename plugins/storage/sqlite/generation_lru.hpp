// A byte-bounded (and optionally entry-bounded) LRU of immutable values read
// from the file, shared by the reply cache (cache.hpp) and the caches below
// it (raw_blocks.hpp, window_rollups.hpp). Each
// change to the data drops the entries it touches and moves a generation
// on: a reader takes the generation before its read snapshot, and put()
// refuses what it read if a change happened since, so that nothing older
// than the file is kept. Thread-safe.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <list>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace vitals::sqlite {

// Value::bytes() says what an entry costs.
template <typename Key, typename Hash, typename Value>
class GenerationLru {
 public:
  explicit GenerationLru(size_t max_bytes, size_t max_entries = std::numeric_limits<size_t>::max())
      : max_bytes_(max_bytes), max_entries_(max_entries) {}

  bool enabled() const { return max_bytes_ > 0 && max_entries_ > 0; }
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

  std::shared_ptr<const Value> get(const Key &key) {
    std::lock_guard lock(mutex_);
    auto it = index_.find(key);
    if (it == index_.end()) return nullptr;
    lru_.splice(lru_.begin(), lru_, it->second);
    return it->second->value;
  }

  // What an entry costs besides its value's bytes(): the shared pointer's
  // block, the list node and the index node (about 200 bytes with glibc),
  // so that a bound holds for many small entries too.
  static constexpr size_t entry_overhead = 256;

  // Keeps value unless a change happened since generation_at_read, or it
  // would take more than an eighth of the byte bound; the least recently
  // used go while over either bound.
  void put(const Key &key, std::shared_ptr<const Value> value, uint64_t generation_at_read) {
    const size_t size = value->bytes() + entry_overhead;
    if (!enabled() || size > max_bytes_ / 8) return;
    std::lock_guard lock(mutex_);
    if (generation_at_read != generation_.load(std::memory_order_relaxed)) return;
    if (auto it = index_.find(key); it != index_.end()) erase(it->second);
    lru_.push_front(Entry{key, std::move(value), size});
    index_.emplace(key, lru_.begin());
    bytes_ += size;
    while (bytes_ > max_bytes_ || lru_.size() > max_entries_) erase(std::prev(lru_.end()));
    entries_.store(lru_.size(), std::memory_order_relaxed);
  }

  // A change: drops the entries for which touched(key, value) holds.
  template <typename Touched>
  void erase_if(Touched &&touched) {
    std::lock_guard lock(mutex_);
    generation_.fetch_add(1, std::memory_order_release);
    for (auto it = lru_.begin(); it != lru_.end();) {
      auto next = std::next(it);
      if (touched(it->key, *it->value)) erase(it);
      it = next;
    }
    entries_.store(lru_.size(), std::memory_order_relaxed);
  }

  void clear() {
    std::lock_guard lock(mutex_);
    generation_.fetch_add(1, std::memory_order_release);
    lru_.clear();
    index_.clear();
    bytes_ = 0;
    entries_.store(0, std::memory_order_relaxed);
  }

  size_t entries() const { return entries_.load(std::memory_order_relaxed); }

  size_t bytes() {
    std::lock_guard lock(mutex_);
    return bytes_;
  }

 private:
  struct Entry {
    Key key;
    std::shared_ptr<const Value> value;
    size_t size;
  };
  void erase(typename std::list<Entry>::iterator it) {
    bytes_ -= it->size;
    index_.erase(it->key);
    lru_.erase(it);
  }

  const size_t max_bytes_, max_entries_;
  std::mutex mutex_;
  std::list<Entry> lru_;
  std::unordered_map<Key, typename std::list<Entry>::iterator, Hash> index_;
  size_t bytes_ = 0;
  std::atomic<uint64_t> generation_{0};
  std::atomic<size_t> entries_{0};  // lru_.size(), read without the lock
};

// The key of a series' entry at a time: (series, start), with a tag (a
// rollup tier) where one cache holds several kinds.
struct SeriesTimeKey {
  int64_t series = 0, start = 0;
  int tag = 0;
  bool operator==(const SeriesTimeKey &) const = default;
};
struct SeriesTimeKeyHash {
  size_t operator()(const SeriesTimeKey &k) const {
    return std::hash<uint64_t>()(
        (static_cast<uint64_t>(k.series) * 0x9E3779B97F4A7C15ull ^ static_cast<uint64_t>(k.start)) +
        static_cast<uint64_t>(k.tag));
  }
};

}  // namespace vitals::sqlite
