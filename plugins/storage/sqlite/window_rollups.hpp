// Layout v3: the rollup buckets of a window's sealed samples (its chunk and
// partial chunks), for the windows a rollup query computes from raw samples:
// the windows the head touches and the pending ones. Sealed samples change
// only when a seal commits, while the head part changes at every commit;
// so a query keeps what it computed from the sealed part and adds the head
// to it (QueryEngine::window_rollup()). Why: a dashboard refreshing a day
// decoded, sorted and rolled up the open window's partial chunks, about
// half of its CPU, at every request (bench/RESULTS.md).
//
// Entries go when a seal commits and when retention deletes (cleared).
// A write does not touch the sealed samples: what it adds is in the head,
// which a query adds to an entry only when all of it is newer than the
// entry's samples (else it reads the window whole: the last write of a
// timestamp wins). Finalizing a window makes its partial chunks one chunk
// of the same samples.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "chunk_codec.hpp"
#include "compaction.hpp"
#include "generation_lru.hpp"

namespace vitals::sqlite {

struct SealedRollup {
  std::vector<compaction::Bucket> buckets;
  // The sealed samples of the last bucket: a head sample in that bucket is
  // rolled up with them in time order, as a read of all samples would, so
  // its sum is the same to the last bit.
  chunk::Samples tail;
  int64_t last_ts = std::numeric_limits<int64_t>::min();  // the newest sealed sample (min: none)

  size_t bytes() const {
    return sizeof(*this) + buckets.capacity() * sizeof(compaction::Bucket) + tail.ts.capacity() * 8 +
           tail.values.capacity() * 8;
  }
};

class WindowRollups {
 public:
  explicit WindowRollups(size_t max_bytes) : lru_(max_bytes) {}

  bool enabled() const { return lru_.enabled(); }
  uint64_t generation() const { return lru_.generation(); }

  // `tier`: the bucket width's tag (storage::Tier).
  std::shared_ptr<const SealedRollup> get(int64_t series, int tier, int64_t window) {
    auto rollup = lru_.get({series, window, tier});
    if (rollup) hits_.fetch_add(1, std::memory_order_relaxed);
    return rollup;
  }
  void put(int64_t series, int tier, int64_t window, std::shared_ptr<const SealedRollup> rollup,
           uint64_t generation_at_read) {
    lru_.put({series, window, tier}, std::move(rollup), generation_at_read);
  }

  void clear() { lru_.clear(); }
  size_t bytes() { return lru_.bytes(); }
  uint64_t hits() const { return hits_.load(std::memory_order_relaxed); }

 private:
  GenerationLru<SeriesTimeKey, SeriesTimeKeyHash, SealedRollup> lru_;
  std::atomic<uint64_t> hits_{0};
};

}  // namespace vitals::sqlite
