// Which table answers a query: raw samples, 1-minute or 1-hour rollups.
#pragma once

#include <cstdint>
#include <limits>

#include "vitals/storage.hpp"

namespace vitals::sqlite {

inline constexpr int64_t minute_ns = 60'000'000'000;
inline constexpr int64_t hour_ns = 3'600'000'000'000;

// Start of the bucket of width `width` holding ts (floor, also for ts < 0).
// The earliest bucket, whose start is below int64, starts at the earliest time.
inline int64_t bucket_start(int64_t ts, int64_t width) {
  int64_t r = ts % width;
  if (r >= 0) return ts - r;
  int64_t up = ts - r;  // the next multiple of width above ts
  return up < std::numeric_limits<int64_t>::min() + width ? std::numeric_limits<int64_t>::min() : up - width;
}

using storage::bucket_count;
using storage::Method;
using storage::method_name;
using storage::Tier;
using storage::tier_name;

// The resolution of `tier`'s rows (rollup bucket width; 0 for raw).
inline int64_t tier_resolution_ns(Tier t) { return t == Tier::raw ? 0 : t == Tier::minute ? minute_ns : hour_ns; }

// The coarsest tier whose resolution is at most twice the width of an output
// bucket, (to - from) / buckets: a query may get as few as half the points it
// asked for, and in exchange 30 days to 1000 points reads 720 hourly rows
// instead of 43,200 minute rows (a 50x difference in latency). Then no finer
// than what still holds data
// at `from`: a rollup tier when from is older than raw retention, the hourly
// one when it is older than the minute rollups' retention. `raw` always reads
// raw samples. Needs from <= to and buckets >= 1.
inline Tier choose_tier(Method m, int64_t from, int64_t to, int64_t points, int64_t now_ns, int64_t raw_retention_ns,
                        int64_t minute_retention_ns) {
  if (m == Method::raw) return Tier::raw;
  uint64_t span = static_cast<uint64_t>(to) - static_cast<uint64_t>(from);
  uint64_t bucket = span / static_cast<uint64_t>(bucket_count(m, points));
  uint64_t width =
      bucket > std::numeric_limits<uint64_t>::max() / 2 ? std::numeric_limits<uint64_t>::max() : 2 * bucket;
  Tier t = width >= static_cast<uint64_t>(hour_ns)     ? Tier::hour
           : width >= static_cast<uint64_t>(minute_ns) ? Tier::minute
                                                       : Tier::raw;
  if (t == Tier::raw && from < now_ns - raw_retention_ns) t = Tier::minute;
  if (t == Tier::minute && from < now_ns - minute_retention_ns) t = Tier::hour;
  return t;
}

}  // namespace vitals::sqlite
