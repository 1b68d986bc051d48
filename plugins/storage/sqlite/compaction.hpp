// What the v3 compactor does to one series' samples, as pure functions: lay
// newer samples (from head rows) over a sealed chunk's, cut the result into
// chunk windows, and aggregate it into rollup buckets. The compactor thread
// (to come) reads and writes SQLite around them; these hold the rules:
// last write wins per timestamp, windows aligned to the epoch, NaN kept as a
// sample but left out of every aggregate (as the v2 rollups do).
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "chunk_codec.hpp"

namespace vitals::sqlite::compaction {

// `older` (sorted, one sample per timestamp: a chunk) with `newer` laid over
// it: sorted, one sample per timestamp, where a newer sample replaces an
// older one at the same timestamp and the last of several newer ones wins.
// `newer` is sorted by timestamp with equal ones in arrival order (as head
// rows decode).
chunk::Samples overlay(const chunk::Samples &older, const chunk::Samples &newer);

// The samples cut at multiples of span_ns since the epoch: each window's
// start and its samples, in order. `sorted` is sorted by timestamp.
std::vector<std::pair<int64_t, chunk::Samples>> split(const chunk::Samples &sorted, int64_t span_ns);

// A rollup bucket: the aggregates of the samples in [start, start + width)
// that are not NaN. Buckets holding only NaN samples are left out.
struct Bucket {
  int64_t start = 0;
  double min = 0, max = 0, sum = 0;
  int64_t count = 0;
  bool operator==(const Bucket &) const = default;
};
std::vector<Bucket> rollup(const chunk::Samples &sorted, int64_t width_ns);

// Two sets of buckets (each sorted by start) as one: buckets of equal start
// combined. Exact when no sample is in both, as for samples written into a
// window whose raw samples retention already dropped.
std::vector<Bucket> merge(const std::vector<Bucket> &a, const std::vector<Bucket> &b);

}  // namespace vitals::sqlite::compaction
