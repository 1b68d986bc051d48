// The v3 head in memory: every sample of the head rows not sealed yet, per
// series, one per timestamp (the last written wins). A series keeps its
// samples sorted, and those written out of order (before its newest one and
// new to it) apart until there are enough of them to merge in at once:
// inserted one by one, interleaved writers moved the samples after each
// (memmove was a fifth of the agent's CPU at 100 series, bench/ingest).
// Queries read recent data here instead of decoding head rows; the writer
// adds each commit's samples before acknowledging them, and the compactor
// drops them once sealed into chunks.
//
// One reader-writer lock orders the three: a query takes its SQLite
// snapshot and copies what it needs from here under the shared lock
// (view()), while the compactor commits a seal and drops what it sealed
// under the exclusive one (seal_guard()). So a query sees each sample in
// its snapshot's chunks, here, or in both (the same value: read() overlays
// the head on chunks), never in neither.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <unordered_map>
#include <vector>

#include "chunk_codec.hpp"
#include "head_codec.hpp"

namespace vitals::sqlite {

class HeadIndex {
 public:
  // Adds one commit's samples (its head row `seq`), in the order they
  // arrived. Returns how many (series, timestamp) pairs are new to the head.
  int64_t add(const head::Rows &rows, int64_t seq);
  // The same, the caller holding seal_guard().
  int64_t add_locked(const head::Rows &rows, int64_t seq);
  // Drops the samples whose latest write came from head rows up to `seq`
  // (sealed). Returns how many. The caller holds seal_guard().
  int64_t drop_through_locked(int64_t seq);

  // The samples of `series` in [from, to], sorted. The caller holds view().
  void read_locked(int64_t series, int64_t from, int64_t to, chunk::Samples &out) const;
  // Whether the head holds a sample of `series`.
  bool holds(int64_t series) const;
  // The newest sample of `series`, if the head holds any. The caller holds view().
  std::optional<std::pair<int64_t, double>> newest_locked(int64_t series) const;

  std::shared_lock<std::shared_mutex> view() const { return std::shared_lock(mutex_); }
  std::unique_lock<std::shared_mutex> seal_guard() { return std::unique_lock(mutex_); }

  // Samples held (distinct (series, timestamp) pairs).
  int64_t size() const;
  int64_t size_locked() const { return size_; }

 private:
  struct Sample {
    int64_t ts;
    double value;
    int64_t seq;  // the head row of its latest write
  };
  struct Series {
    std::vector<Sample> sorted;  // by timestamp, one per timestamp
    // Written out of order, unsorted, one per timestamp: each before
    // sorted's newest (also after a drop: drops merge them first) and not
    // in `sorted`. At most about the square root of sorted's size, so that
    // finding a timestamp among them costs what merging them in does.
    std::vector<Sample> late;
    void merge_late();
  };
  mutable std::shared_mutex mutex_;
  std::unordered_map<int64_t, Series> series_;
  int64_t size_ = 0;
};

}  // namespace vitals::sqlite
