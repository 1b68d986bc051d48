// Rollup chunks (rollup_codec.hpp), on the shared columns (column_codec.hpp).
#include "rollup_codec.hpp"

#include <stdexcept>

#include "column_codec.hpp"

namespace vitals::sqlite::rollup_chunk {

namespace {
constexpr uint64_t kMaxBuckets = 16u << 20;
}  // namespace

std::string encode(const std::vector<compaction::Bucket> &buckets, int zstd_level) {
  const size_t n = buckets.size();
  if (n > kMaxBuckets) throw std::invalid_argument("rollup chunk: too many buckets");
  std::vector<int64_t> starts(n), counts(n);
  std::vector<double> mins(n), maxes(n), sums(n);
  for (size_t i = 0; i < n; ++i) {
    if (i && buckets[i].start <= buckets[i - 1].start)
      throw std::invalid_argument("rollup chunk: bucket starts not strictly increasing");
    starts[i] = buckets[i].start;
    mins[i] = buckets[i].min;
    maxes[i] = buckets[i].max;
    sums[i] = buckets[i].sum;
    counts[i] = buckets[i].count;
  }
  std::string body;
  codec::put_varint(body, n);
  codec::put_integers(body, starts, 2);
  codec::put_doubles(body, mins);
  codec::put_doubles(body, maxes);
  codec::put_doubles(body, sums);
  codec::put_integers_smallest(body, counts);
  return codec::versioned(kFormatVersion, body, zstd_level);
}

bool decode(std::string_view blob, std::vector<compaction::Bucket> &out, std::string &error) {
  const bool ok = codec::read_versioned(blob, kFormatVersion, "rollup chunk", error, [&](codec::Reader &in) {
    const uint64_t n = in.varint();
    if (n > kMaxBuckets) throw std::runtime_error("bucket count beyond any chunk");
    std::vector<int64_t> starts, counts;
    std::vector<double> mins, maxes, sums;
    codec::read_integers(in, static_cast<size_t>(n), 2, starts);
    codec::read_doubles(in, static_cast<size_t>(n), mins);
    codec::read_doubles(in, static_cast<size_t>(n), maxes);
    codec::read_doubles(in, static_cast<size_t>(n), sums);
    codec::read_integers_smallest(in, static_cast<size_t>(n), counts);
    if (!in.done()) throw std::runtime_error("bytes after the last bucket");
    out.resize(static_cast<size_t>(n));
    for (size_t i = 0; i < out.size(); ++i) {
      if (i && starts[i] <= starts[i - 1]) throw std::runtime_error("bucket starts not increasing");
      out[i] = {starts[i], mins[i], maxes[i], sums[i], counts[i]};
    }
  });
  if (!ok) out.clear();
  return ok;
}

}  // namespace vitals::sqlite::rollup_chunk
