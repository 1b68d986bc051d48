// The encoding of a rollup chunk: one series' buckets of one width (1 min,
// 1 h) over a span, as a BLOB (storage engine v3), so that a long-range query
// decodes a few rows of aggregates and never the raw samples.
//
// Columns (column_codec.hpp): bucket starts as integers (deltas of deltas:
// consecutive buckets cost nothing), min, max and sum as doubles, counts as
// integers at their smallest order.
// Layout: u8 version (1) | packed body; body: varint n | starts | min | max |
// sum | count.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "compaction.hpp"

namespace vitals::sqlite::rollup_chunk {

inline constexpr uint8_t kFormatVersion = 1;

// Buckets sorted by start, none twice (as compaction::rollup gives them);
// throws std::invalid_argument otherwise.
std::string encode(const std::vector<compaction::Bucket> &buckets, int zstd_level = 3);

// False, with the reason in `error`, for a blob that is not a rollup chunk
// this code wrote.
bool decode(std::string_view blob, std::vector<compaction::Bucket> &out, std::string &error);

}  // namespace vitals::sqlite::rollup_chunk
