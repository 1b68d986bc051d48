// Layout v3: rollup buckets kept per series and window, so that a rollup
// query decodes and reads from SQLite only the windows it has not seen.
//
// WindowRollups: the buckets of a window's sealed samples (its chunk and
// partial chunks), for the windows a rollup query computes from raw samples:
// the windows the head touches and the pending ones. Sealed samples change
// only when a seal commits, while the head part changes at every commit;
// so a query keeps what it computed from the sealed part and adds the head
// to it (QueryEngine::window_rollup()). Why: a dashboard refreshing a day
// decoded, sorted and rolled up the open window's partial chunks, about
// half of its CPU, at every request (bench/RESULTS.md). Entries go when a
// seal commits and when retention deletes (cleared). A write does not
// touch the sealed samples: what it adds is in the head, which a query adds
// to an entry only when all of it is newer than the entry's samples (else
// it reads the window whole: the last write of a timestamp wins).
// Finalizing a window makes its partial chunks one chunk of the same
// samples.
//
// StoredRollups: the stored rollup rows of windows (rollup_chunks, a
// window's own row or its part of a day row), or that it has none, with
// whether it holds raw samples and is pending. Only the compactor and
// retention change them: entries go when a seal or a finalizing commits,
// and when retention deletes (gathering a day keeps each window's hours). Why: a day's query at the
// minute tier read and decoded 13 rollup chunks a series at every request,
// most of them the same as the last request's, and walked its chunks and
// partial chunks for which windows hold raw samples.
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

// A window's stored rollup buckets, or none stored (`stored` false), and
// whether it holds raw samples (a chunk or partial chunks) and is pending
// (partial chunks not merged into its chunk yet).
struct StoredRollup {
  std::vector<compaction::Bucket> buckets;
  bool stored = false, raw = false, pending = false;

  size_t bytes() const { return sizeof(*this) + buckets.capacity() * sizeof(compaction::Bucket); }
};

// Entries of Value per series, tier tag and window start, bounded in bytes.
template <typename Value>
class WindowCache {
 public:
  explicit WindowCache(size_t max_bytes) : lru_(max_bytes) {}

  bool enabled() const { return lru_.enabled(); }
  // Taken before the read snapshot: put() refuses what was read if the
  // cache was cleared since.
  uint64_t generation() const { return lru_.generation(); }

  // `tier`: the bucket width's tag (storage::Tier, or v3::RollupTier).
  std::shared_ptr<const Value> get(int64_t series, int tier, int64_t window) {
    auto value = lru_.get({series, window, tier});
    if (value) hits_.fetch_add(1, std::memory_order_relaxed);
    return value;
  }
  void put(int64_t series, int tier, int64_t window, std::shared_ptr<const Value> value, uint64_t generation_at_read) {
    lru_.put({series, window, tier}, std::move(value), generation_at_read);
  }

  void clear() { lru_.clear(); }
  size_t bytes() { return lru_.bytes(); }
  uint64_t hits() const { return hits_.load(std::memory_order_relaxed); }

 private:
  GenerationLru<SeriesTimeKey, SeriesTimeKeyHash, Value> lru_;
  std::atomic<uint64_t> hits_{0};
};

using WindowRollups = WindowCache<SealedRollup>;
using StoredRollups = WindowCache<StoredRollup>;

}  // namespace vitals::sqlite
