// Integer and double columns (column_codec.hpp).
#include "column_codec.hpp"

#include <zstd.h>

#include <array>
#include <bit>
#include <cmath>
#include <stdexcept>

namespace vitals::sqlite::codec {

namespace {

enum class Compression : uint8_t { none = 0, zstd = 1 };
enum class DoubleForm : uint8_t { decimal = 1, xor_float = 2 };

// A blob larger than this when unpacked is not one this code wrote.
constexpr size_t kMaxUnpackedBytes = 64u << 20;

// The decimal form's exponents: value = mantissa / 10^e (e >= 0) or
// mantissa * 10^-e (e < 0). Powers of ten up to 10^22 are exact doubles, and
// a mantissa within 2^53 is an exact double, so decoding is one correctly
// rounded operation: it gives back the double nearest the decimal, which is
// what the value was (checked bit for bit when encoding).
constexpr int kMinExponent = -18;
constexpr int kMaxExponent = 18;
constexpr double kMaxMantissa = 9007199254740992.0;  // 2^53

constexpr auto kPow10 = [] {
  std::array<double, kMaxExponent + 1> t{};
  double p = 1;
  for (auto &x : t) {
    x = p;
    p *= 10;
  }
  return t;
}();

uint64_t zigzag(int64_t v) { return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63); }
int64_t unzigzag(uint64_t u) { return static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1)); }
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
  mantissa = static_cast<int64_t>(std::nearbyint(scaled));
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

// Calls fn with each zigzagged difference of order 0, 1 or 2, modulo 2^64:
// for entry i, x[i] (order 0, or i == 0), x[i] - x[i-1] (order 1, or
// i == 1), else the change of that delta.
template <typename Fn>
void for_each_difference(std::span<const int64_t> xs, int order, Fn &&fn) {
  uint64_t prev = 0, prev_delta = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const auto x = static_cast<uint64_t>(xs[i]);
    const uint64_t delta = x - prev;
    uint64_t d = x;
    if (order == 1 && i > 0) d = delta;
    if (order == 2 && i > 0) d = i == 1 ? delta : delta - prev_delta;
    fn(zigzag(static_cast<int64_t>(d)));
    prev = x;
    prev_delta = delta;
  }
}

size_t encoded_size(std::span<const int64_t> xs, int order) {
  size_t n = 0;
  for_each_difference(xs, order, [&](uint64_t z) { n += varint_size(z); });
  return n;
}

void put_xor_doubles(std::string &out, std::span<const double> values) {
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

void read_xor_doubles(Reader &in, size_t n, std::vector<double> &out) {
  out.resize(n);
  uint64_t prev = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t control = in.byte();
    uint64_t x = 0;
    if (i == 0 || control != 0xff) {
      const int lead = control >> 4, trail = control & 0x0f;
      if (lead + trail > 7 || (i == 0 && control != 0)) throw std::runtime_error("bad float control byte");
      for (int b = 7 - lead; b >= trail; --b) x |= static_cast<uint64_t>(in.byte()) << (8 * b);
    }
    prev = i == 0 ? x : prev ^ x;
    out[i] = std::bit_cast<double>(prev);
  }
}

}  // namespace

void put_varint(std::string &out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void put_integers(std::string &out, std::span<const int64_t> xs, int order) {
  for_each_difference(xs, order, [&](uint64_t z) { put_varint(out, z); });
}

void read_integers(Reader &in, size_t n, int order, std::vector<int64_t> &out) {
  // Each integer takes at least a byte: a count beyond what is left is a lie.
  if (n > in.left()) throw std::runtime_error("column longer than its bytes");
  out.resize(n);
  uint64_t value = 0, delta = 0;
  for (size_t i = 0; i < n; ++i) {
    const auto d = static_cast<uint64_t>(unzigzag(in.varint()));
    if (i == 0 || order == 0) {
      value = d;
    } else {
      delta = (order == 1 || i == 1) ? d : delta + d;
      value += delta;
    }
    out[i] = static_cast<int64_t>(value);
  }
}

void put_integers_smallest(std::string &out, std::span<const int64_t> xs, int max_order) {
  int best_order = 0;
  size_t best_size = encoded_size(xs, 0);
  for (int order = 1; order <= max_order; ++order)
    if (size_t size = encoded_size(xs, order); size < best_size) {
      best_order = order;
      best_size = size;
    }
  out.push_back(static_cast<char>(best_order));
  put_integers(out, xs, best_order);
}

void read_integers_smallest(Reader &in, size_t n, std::vector<int64_t> &out) {
  const uint8_t order = in.byte();
  if (order > 2) throw std::runtime_error("bad integer column order");
  read_integers(in, n, order, out);
}

void put_doubles(std::string &out, std::span<const double> values) {
  int exponent = 0;
  std::vector<int64_t> mantissas;
  if (to_decimal(values, exponent, mantissas)) {
    out.push_back(static_cast<char>(DoubleForm::decimal));
    out.push_back(static_cast<char>(static_cast<int8_t>(exponent)));
    put_integers_smallest(out, mantissas);
  } else {
    out.push_back(static_cast<char>(DoubleForm::xor_float));
    put_xor_doubles(out, values);
  }
}

void read_doubles(Reader &in, size_t n, std::vector<double> &out) {
  const auto form = static_cast<DoubleForm>(in.byte());
  if (form == DoubleForm::xor_float) {
    if (n > in.left()) throw std::runtime_error("column longer than its bytes");
    read_xor_doubles(in, n, out);
    return;
  }
  if (form != DoubleForm::decimal) throw std::runtime_error("unknown value form");
  const auto exponent = static_cast<int8_t>(in.byte());
  if (exponent < kMinExponent || exponent > kMaxExponent) throw std::runtime_error("bad decimal exponent");
  std::vector<int64_t> mantissas;
  read_integers_smallest(in, n, mantissas);
  out.resize(n);
  for (size_t i = 0; i < n; ++i) out[i] = decimal_value(mantissas[i], exponent);
}

namespace {

// zstd's one-shot calls create and free a context each time: at level 3 a
// compression context is over a megabyte to set up, which dominated sealing
// thousands of small chunks and reading hundreds of rollup chunks a query.
// One context of each kind per thread, kept for the thread's life.
struct ZstdContexts {
  ZSTD_CCtx *compress = ZSTD_createCCtx();
  ZSTD_DCtx *decompress = ZSTD_createDCtx();
  ~ZstdContexts() {
    ZSTD_freeCCtx(compress);
    ZSTD_freeDCtx(decompress);
  }
};

ZstdContexts &zstd_contexts() {
  thread_local ZstdContexts contexts;
  return contexts;
}

}  // namespace

std::string pack(const std::string &body, int level) {
  std::string out;
  if (level > 0) {
    out.resize(1 + ZSTD_compressBound(body.size()));
    const size_t n =
        ZSTD_compressCCtx(zstd_contexts().compress, out.data() + 1, out.size() - 1, body.data(), body.size(), level);
    if (!ZSTD_isError(n) && n < body.size()) {
      out[0] = static_cast<char>(Compression::zstd);
      out.resize(1 + n);
      return out;
    }
    out.clear();
  }
  out.push_back(static_cast<char>(Compression::none));
  out += body;
  return out;
}

std::string_view unpack(std::string_view blob, std::string &scratch) {
  if (blob.empty()) throw std::runtime_error("truncated");
  const auto compression = static_cast<Compression>(blob[0]);
  blob.remove_prefix(1);
  if (compression == Compression::none) return blob;
  if (compression != Compression::zstd) throw std::runtime_error("unknown compression");
  const unsigned long long size = ZSTD_getFrameContentSize(blob.data(), blob.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size > kMaxUnpackedBytes)
    throw std::runtime_error("bad zstd frame");
  scratch.resize(static_cast<size_t>(size));
  const size_t n =
      ZSTD_decompressDCtx(zstd_contexts().decompress, scratch.data(), scratch.size(), blob.data(), blob.size());
  if (ZSTD_isError(n) || n != size) throw std::runtime_error("bad zstd frame");
  return scratch;
}

std::string versioned(uint8_t version, const std::string &body, int level) {
  return static_cast<char>(version) + pack(body, level);
}

std::string_view open_versioned(std::string_view blob, uint8_t version, std::string_view what, std::string &scratch) {
  if (blob.empty()) throw std::runtime_error("truncated");
  const auto found = static_cast<uint8_t>(blob[0]);
  if (found != version)
    throw std::runtime_error(std::string(what) + " format " + std::to_string(found) + ", this build reads " +
                             std::to_string(version));
  return unpack(blob.substr(1), scratch);
}

}  // namespace vitals::sqlite::codec
