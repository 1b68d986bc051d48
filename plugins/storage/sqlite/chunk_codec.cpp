// Chunk encoding (chunk_codec.hpp). Integers are LEB128 varints; signed ones
// are zigzagged first, so that small negatives stay small. Differences are
// taken modulo 2^64: any int64 timestamps (the limits included) round-trip,
// and the usual small ones stay small.
#include "chunk_codec.hpp"

#include <zstd.h>

#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace vitals::sqlite::chunk {

namespace {

enum class Compression : uint8_t { none = 0, zstd = 1 };
enum class ValueForm : uint8_t { decimal_delta = 1, decimal_delta_of_delta = 2, xor_float = 3 };

// A chunk larger than this when decoded is not one this code wrote.
constexpr size_t kMaxDecodedBytes = 64u << 20;
constexpr uint64_t kMaxSamples = kMaxDecodedBytes / 2;
// The decimal form's exponents: value = mantissa / 10^e (e >= 0) or
// mantissa * 10^-e (e < 0). Powers of ten up to 10^22 are exact doubles, and
// a mantissa within 2^53 is an exact double, so decoding is one correctly
// rounded operation: it gives back the double nearest the decimal, which is
// what the value was (checked bit for bit when encoding).
constexpr int kMinExponent = -18;
constexpr int kMaxExponent = 18;
constexpr double kMaxMantissa = 9007199254740992.0;  // 2^53

constexpr double pow10(int e) {
  double p = 1;
  for (int i = 0; i < e; ++i) p *= 10;
  return p;
}
constexpr auto kPow10 = [] {
  std::array<double, kMaxExponent + 1> t{};
  for (int e = 0; e <= kMaxExponent; ++e) t[static_cast<size_t>(e)] = pow10(e);
  return t;
}();

uint64_t zigzag(int64_t v) { return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63); }
int64_t unzigzag(uint64_t u) { return static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1)); }

void put_varint(std::string &out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
size_t varint_size(uint64_t v) { return v ? static_cast<size_t>((std::bit_width(v) + 6) / 7) : 1; }

double decimal_value(int64_t mantissa, int exponent) {
  const auto m = static_cast<double>(mantissa);
  return exponent >= 0 ? m / kPow10[static_cast<size_t>(exponent)] : m * kPow10[static_cast<size_t>(-exponent)];
}

bool same_bits(double a, double b) { return std::bit_cast<uint64_t>(a) == std::bit_cast<uint64_t>(b); }

// The integer `v` is at exponent `e`, if it is one there exactly.
bool mantissa_at(double v, int e, int64_t &mantissa) {
  const double scaled = e >= 0 ? v * kPow10[static_cast<size_t>(e)] : v / kPow10[static_cast<size_t>(-e)];
  if (!(std::fabs(scaled) < kMaxMantissa)) return false;
  const double rounded = std::nearbyint(scaled);
  mantissa = static_cast<int64_t>(rounded);
  return same_bits(decimal_value(mantissa, e), v);
}

// Whether every mantissa is a multiple of ten that still gives its value at
// exponent e: `fewer` gets them divided by ten.
bool tenths_exact(std::span<const double> values, const std::vector<int64_t> &mantissas, int e,
                  std::vector<int64_t> &fewer) {
  for (size_t i = 0; i < mantissas.size(); ++i) {
    if (mantissas[i] % 10 != 0) return false;
    fewer[i] = mantissas[i] / 10;
    if (!same_bits(decimal_value(fewer[i], e), values[i])) return false;
  }
  return true;
}

// The decimal form of `values`: one exponent for all and their mantissas,
// or false when some value is no decimal (NaN, infinities, -0, 1/3...).
bool to_decimal(std::span<const double> values, int &exponent, std::vector<int64_t> &mantissas) {
  int e = 0;
  int64_t m;
  for (double v : values) {
    if (!std::isfinite(v) || (v == 0 && std::signbit(v))) return false;
    while (!mantissa_at(v, e, m))
      if (++e > kMaxExponent) return false;
  }
  mantissas.resize(values.size());
  for (size_t i = 0; i < values.size(); ++i)
    if (!mantissa_at(values[i], e, mantissas[i])) return false;
  // Whole tens, hundreds...: the mantissas shrink to the digits that vary
  // (a byte gauge in whole KiB, a counter stepping by 1000).
  bool any = false;
  for (int64_t x : mantissas) any |= x != 0;
  std::vector<int64_t> fewer(mantissas.size());
  while (any && e > kMinExponent && tenths_exact(values, mantissas, e - 1, fewer)) {
    mantissas.swap(fewer);
    --e;
  }
  exponent = e;
  return true;
}

// Deltas (order 1) or deltas of deltas (order 2) of `xs`, modulo 2^64,
// zigzagged; the first `order` entries are the values and deltas they start from.
std::vector<uint64_t> differences(std::span<const int64_t> xs, int order) {
  std::vector<uint64_t> out;
  out.reserve(xs.size());
  uint64_t prev = 0, prev_delta = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const auto x = static_cast<uint64_t>(xs[i]);
    const uint64_t delta = x - prev;
    if (i == 0 || order == 1)
      out.push_back(zigzag(static_cast<int64_t>(i == 0 ? x : delta)));
    else
      out.push_back(zigzag(static_cast<int64_t>(i == 1 ? delta : delta - prev_delta)));
    prev = x;
    prev_delta = delta;
  }
  return out;
}

size_t encoded_size(const std::vector<uint64_t> &xs) {
  size_t n = 0;
  for (uint64_t x : xs) n += varint_size(x);
  return n;
}

void put_xor_floats(std::string &out, std::span<const double> values) {
  uint64_t prev = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    const auto bits = std::bit_cast<uint64_t>(values[i]);
    const uint64_t x = i == 0 ? bits : bits ^ prev;
    prev = bits;
    if (i > 0 && x == 0) {
      out.push_back(static_cast<char>(0xff));  // the same value again
      continue;
    }
    // Zero bytes at the top and bottom are dropped; the rest, high first.
    const int lead = i == 0 ? 0 : std::countl_zero(x) / 8;
    const int trail = i == 0 ? 0 : std::countr_zero(x) / 8;
    out.push_back(static_cast<char>((lead << 4) | trail));
    for (int b = 7 - lead; b >= trail; --b) out.push_back(static_cast<char>((x >> (8 * b)) & 0xff));
  }
}

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      const uint8_t b = byte();
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) {
        if (shift == 63 && b > 1) throw std::runtime_error("varint past 64 bits");
        return v;
      }
    }
    throw std::runtime_error("varint past 64 bits");
  }
  uint8_t byte() {
    if (in_.empty()) throw std::runtime_error("truncated");
    const auto b = static_cast<uint8_t>(in_.front());
    in_.remove_prefix(1);
    return b;
  }
  bool done() const { return in_.empty(); }

 private:
  std::string_view in_;
};

// Undoes differences(): the running sums, modulo 2^64.
void integrate(Reader &r, size_t n, int order, std::vector<int64_t> &out) {
  out.resize(n);
  uint64_t value = 0, delta = 0;
  for (size_t i = 0; i < n; ++i) {
    const auto d = static_cast<uint64_t>(unzigzag(r.varint()));
    if (i == 0) {
      value = d;
    } else {
      delta = (order == 1 || i == 1) ? d : delta + d;
      value += delta;
    }
    out[i] = static_cast<int64_t>(value);
  }
}

void read_xor_floats(Reader &r, size_t n, std::vector<double> &out) {
  out.resize(n);
  uint64_t prev = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t control = r.byte();
    uint64_t x = 0;
    if (i > 0 && control == 0xff) {
      x = 0;
    } else {
      const int lead = control >> 4, trail = control & 0x0f;
      if (lead + trail > 7 || (i == 0 && control != 0)) throw std::runtime_error("bad float control byte");
      for (int b = 7 - lead; b >= trail; --b) x |= static_cast<uint64_t>(r.byte()) << (8 * b);
    }
    prev = i == 0 ? x : prev ^ x;
    out[i] = std::bit_cast<double>(prev);
  }
}

std::string encode_body(std::span<const int64_t> ts, std::span<const double> values) {
  std::string body;
  body.reserve(16 + ts.size() * 3);
  put_varint(body, ts.size());
  for (uint64_t d : differences(ts, 2)) put_varint(body, d);

  int exponent = 0;
  std::vector<int64_t> mantissas;
  if (to_decimal(values, exponent, mantissas)) {
    auto deltas = differences(mantissas, 1);
    auto dods = differences(mantissas, 2);
    const bool by_dod = encoded_size(dods) < encoded_size(deltas);
    body.push_back(static_cast<char>(by_dod ? ValueForm::decimal_delta_of_delta : ValueForm::decimal_delta));
    body.push_back(static_cast<char>(static_cast<int8_t>(exponent)));
    for (uint64_t d : by_dod ? dods : deltas) put_varint(body, d);
  } else {
    body.push_back(static_cast<char>(ValueForm::xor_float));
    put_xor_floats(body, values);
  }
  return body;
}

}  // namespace

std::string encode(std::span<const int64_t> ts, std::span<const double> values, const EncodeOptions &options) {
  if (ts.size() != values.size()) throw std::invalid_argument("chunk: timestamps and values differ in number");
  for (size_t i = 1; i < ts.size(); ++i)
    if (ts[i] <= ts[i - 1]) throw std::invalid_argument("chunk: timestamps not strictly increasing");
  if (ts.size() > kMaxSamples) throw std::invalid_argument("chunk: too many samples");
  const std::string body = encode_body(ts, values);

  std::string out;
  out.push_back(static_cast<char>(kFormatVersion));
  std::string packed(options.zstd_level > 0 ? ZSTD_compressBound(body.size()) : 0, '\0');
  const size_t n = options.zstd_level > 0
                       ? ZSTD_compress(packed.data(), packed.size(), body.data(), body.size(), options.zstd_level)
                       : 0;
  if (options.zstd_level > 0 && !ZSTD_isError(n) && n < body.size()) {
    out.push_back(static_cast<char>(Compression::zstd));
    out.append(packed.data(), n);
  } else {
    out.push_back(static_cast<char>(Compression::none));
    out += body;
  }
  return out;
}

bool decode(std::string_view blob, Samples &out, std::string &error) {
  try {
    Reader header(blob);
    const uint8_t version = header.byte();
    if (version != kFormatVersion)
      throw std::runtime_error("chunk format " + std::to_string(version) + ", this build reads " +
                               std::to_string(kFormatVersion));
    const auto compression = static_cast<Compression>(header.byte());
    std::string_view body = blob.substr(2);
    std::string unpacked;
    if (compression == Compression::zstd) {
      const unsigned long long size = ZSTD_getFrameContentSize(body.data(), body.size());
      if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size > kMaxDecodedBytes)
        throw std::runtime_error("bad zstd frame");
      unpacked.resize(static_cast<size_t>(size));
      const size_t n = ZSTD_decompress(unpacked.data(), unpacked.size(), body.data(), body.size());
      if (ZSTD_isError(n) || n != size) throw std::runtime_error("bad zstd frame");
      body = unpacked;
    } else if (compression != Compression::none) {
      throw std::runtime_error("unknown compression");
    }
    Reader r(body);
    const uint64_t n = r.varint();
    if (n > kMaxSamples || n > body.size()) throw std::runtime_error("sample count beyond the chunk");
    integrate(r, static_cast<size_t>(n), 2, out.ts);
    for (size_t i = 1; i < out.ts.size(); ++i)
      if (out.ts[i] <= out.ts[i - 1]) throw std::runtime_error("timestamps not increasing");
    const auto form = static_cast<ValueForm>(r.byte());
    if (form == ValueForm::xor_float) {
      read_xor_floats(r, static_cast<size_t>(n), out.values);
    } else if (form == ValueForm::decimal_delta || form == ValueForm::decimal_delta_of_delta) {
      const auto exponent = static_cast<int8_t>(r.byte());
      if (exponent < kMinExponent || exponent > kMaxExponent) throw std::runtime_error("bad decimal exponent");
      std::vector<int64_t> mantissas;
      integrate(r, static_cast<size_t>(n), form == ValueForm::decimal_delta ? 1 : 2, mantissas);
      out.values.resize(mantissas.size());
      for (size_t i = 0; i < mantissas.size(); ++i) out.values[i] = decimal_value(mantissas[i], exponent);
    } else {
      throw std::runtime_error("unknown value form");
    }
    if (!r.done()) throw std::runtime_error("bytes after the last sample");
    return true;
  } catch (const std::exception &e) {
    error = std::string("corrupt chunk: ") + e.what();
    out.ts.clear();
    out.values.clear();
    return false;
  }
}

}  // namespace vitals::sqlite::chunk
