// The encoding of a chunk: one series' samples over a span of time, sorted by
// timestamp with no two alike, as one compressed BLOB (storage engine v3).
//
// Timestamps are stored as the first one, the first delta, then deltas of
// deltas: a series sampled at a steady interval costs a zero byte per sample
// before compression and next to nothing after. Values are a column of
// doubles (column_codec.hpp): decimal when every value is an integer times a
// power of ten (a sensor's one or two decimals, a counter, a byte gauge in
// whole KiB...), as the mantissas, their deltas or deltas of deltas,
// whichever is smallest; else each XORed with the one before. The result is
// then compressed with zstd when that makes it smaller. Every value decodes
// to the exact bits it was given.
//
// Layout: u8 version (1) | packed body (column_codec.hpp's pack)
//   body: varint n | timestamps (order 2) | doubles
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vitals::sqlite::chunk {

inline constexpr uint8_t kFormatVersion = 1;

struct Samples {
  std::vector<int64_t> ts;
  std::vector<double> values;

  // The samples with from <= ts <= to, ts sorted: indexes [first, last).
  std::pair<size_t, size_t> range(int64_t from, int64_t to) const {
    const auto first = std::lower_bound(ts.begin(), ts.end(), from);
    const auto last = std::upper_bound(first, ts.end(), to);
    return {static_cast<size_t>(first - ts.begin()), static_cast<size_t>(last - ts.begin())};
  }
  // Appends samples [first, last) of `from` (another Samples: inserting a
  // vector's own range may reallocate under it).
  void append(const Samples &from, size_t first, size_t last) {
    const auto a = static_cast<std::ptrdiff_t>(first), b = static_cast<std::ptrdiff_t>(last);
    ts.insert(ts.end(), from.ts.begin() + a, from.ts.begin() + b);
    values.insert(values.end(), from.values.begin() + a, from.values.begin() + b);
  }
};

struct EncodeOptions {
  // zstd's level; 0: no general compressor. The default was chosen by
  // bench/chunks (bench/RESULTS.md records the others).
  int zstd_level = 3;
};

// Encodes ts/values (the same length, ts strictly increasing; checked).
// Throws std::invalid_argument when they are not.
std::string encode(std::span<const int64_t> ts, std::span<const double> values, const EncodeOptions &options = {});

// Decodes a chunk into `out` (replacing its contents). False, with the
// reason in `error`, for a blob that is not a chunk this code wrote
// (truncated, corrupt, or of a newer format version).
bool decode(std::string_view blob, Samples &out, std::string &error);

}  // namespace vitals::sqlite::chunk
