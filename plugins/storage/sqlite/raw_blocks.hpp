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
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "generation_lru.hpp"

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

  explicit RawBlocks(size_t max_bytes) : lru_(max_bytes) {}

  bool enabled() const { return lru_.enabled(); }
  // Taken before reading: put() refuses a block when a write that could
  // change it (invalidate_from(), clear()) happened since.
  uint64_t generation() const { return lru_.generation(); }

  std::shared_ptr<const BlockText> get(int64_t series, int64_t start) { return lru_.get({series, start}); }

  void put(int64_t series, int64_t start, std::shared_ptr<const BlockText> block, uint64_t generation_at_read) {
    lru_.put({series, start}, std::move(block), generation_at_read);
  }

  // Data at or after from_ns changed: drops every block ending after it.
  void invalidate_from(int64_t from_ns) {
    lru_.erase_if([from_ns](const SeriesTimeKey &key, const BlockText &) {
      // The block holds [start, start + width): does it reach from_ns? (Unsigned: no overflow.)
      return from_ns <= key.start || static_cast<uint64_t>(from_ns) - static_cast<uint64_t>(key.start) < width_ns;
    });
  }

  void clear() { lru_.clear(); }
  size_t bytes() { return lru_.bytes(); }

 private:
  GenerationLru<SeriesTimeKey, SeriesTimeKeyHash, BlockText> lru_;
};

}  // namespace vitals::sqlite
