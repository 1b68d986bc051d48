// Chunk encoding (chunk_codec.hpp), on the shared columns (column_codec.hpp).
#include "chunk_codec.hpp"

#include <stdexcept>

#include "column_codec.hpp"

namespace vitals::sqlite::chunk {

namespace {
// A chunk of more samples than this is not one this code wrote.
constexpr uint64_t kMaxSamples = 16u << 20;
}  // namespace

std::string encode(std::span<const int64_t> ts, std::span<const double> values, const EncodeOptions &options) {
  if (ts.size() != values.size()) throw std::invalid_argument("chunk: timestamps and values differ in number");
  for (size_t i = 1; i < ts.size(); ++i)
    if (ts[i] <= ts[i - 1]) throw std::invalid_argument("chunk: timestamps not strictly increasing");
  if (ts.size() > kMaxSamples) throw std::invalid_argument("chunk: too many samples");
  std::string body;
  body.reserve(16 + ts.size() * 3);
  codec::put_varint(body, ts.size());
  // Steady timestamps: deltas of deltas are zeros.
  codec::put_integers(body, ts, 2);
  codec::put_doubles(body, values);
  return codec::versioned(kFormatVersion, body, options.zstd_level);
}

bool decode(std::string_view blob, Samples &out, std::string &error) {
  const bool ok = codec::read_versioned(blob, kFormatVersion, "chunk", error, [&](codec::Reader &in) {
    const uint64_t n = in.varint();
    if (n > kMaxSamples) throw std::runtime_error("sample count beyond any chunk");
    codec::read_integers(in, static_cast<size_t>(n), 2, out.ts);
    for (size_t i = 1; i < out.ts.size(); ++i)
      if (out.ts[i] <= out.ts[i - 1]) throw std::runtime_error("timestamps not increasing");
    codec::read_doubles(in, static_cast<size_t>(n), out.values);
    if (!in.done()) throw std::runtime_error("bytes after the last sample");
  });
  if (!ok) {
    out.ts.clear();
    out.values.clear();
  }
  return ok;
}

}  // namespace vitals::sqlite::chunk
