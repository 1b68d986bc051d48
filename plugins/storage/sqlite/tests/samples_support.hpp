// Shared by the v3 layout's tests: whether two sample runs are the same,
// timestamps and every value's bits (NaN payloads, -0 included).
#pragma once

#include <bit>
#include <cstdint>

#include "../chunk_codec.hpp"

namespace test {

inline bool same_samples(const vitals::sqlite::chunk::Samples &a, const vitals::sqlite::chunk::Samples &b) {
  if (a.ts != b.ts || a.values.size() != b.values.size()) return false;
  for (size_t i = 0; i < a.values.size(); ++i)
    if (std::bit_cast<uint64_t>(a.values[i]) != std::bit_cast<uint64_t>(b.values[i])) return false;
  return true;
}

}  // namespace test
