// Columns of integers and doubles as compact bytes, shared by the v3
// layout's encodings (chunk_codec.hpp for a series' sealed samples,
// head_codec.hpp for a commit's rows).
//
// Integers are LEB128 varints of zigzagged differences of order 0 (the
// values), 1 (deltas) or 2 (deltas of deltas), taken modulo 2^64 so that any
// int64 round-trips; a column picks the order that makes it smallest.
// Doubles take a decimal form when every value is an integer times a power
// of ten (one exponent for the column, its mantissas as an integer column),
// else each is XORed with the one before and its zero bytes at either end
// are dropped. Every value decodes to the bits it was given.
#pragma once

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace vitals::sqlite::codec {

// Reads what the put_* functions wrote; throws std::runtime_error on bytes
// that end early or make no sense.
// Inline: decoding calls them once or twice a sample.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      const uint8_t b = byte();
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) {
        if (shift == 63 && b > 1) break;
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
  size_t left() const { return in_.size(); }

 private:
  std::string_view in_;
};

void put_varint(std::string &out, uint64_t v);

// An integer column at the given order (its length is the caller's to keep).
void put_integers(std::string &out, std::span<const int64_t> xs, int order);
void read_integers(Reader &in, size_t n, int order, std::vector<int64_t> &out);

// An integer column at whichever order up to max_order is smallest, led by
// that order.
void put_integers_smallest(std::string &out, std::span<const int64_t> xs, int max_order = 2);
void read_integers_smallest(Reader &in, size_t n, std::vector<int64_t> &out);

// A column of doubles, decimal or XOR.
void put_doubles(std::string &out, std::span<const double> values);
void read_doubles(Reader &in, size_t n, std::vector<double> &out);

// [u8 version][packed body]: how the chunk, head and rollup encodings
// frame what they write.
std::string versioned(uint8_t version, const std::string &body, int level);
// The body of a versioned blob; throws std::runtime_error for another
// version ("<what> format N, this build reads M") or a blob that is not one.
std::string_view open_versioned(std::string_view blob, uint8_t version, std::string_view what, std::string &scratch);

// Opens a versioned blob and hands its body to read(in); false, with
// "corrupt <what>: <reason>" in `error`, when either throws. The decoders of
// the chunk, head and rollup encodings are this with their own columns.
template <typename Read>
bool read_versioned(std::string_view blob, uint8_t version, std::string_view what, std::string &error, Read &&read) {
  try {
    std::string scratch;
    Reader in(open_versioned(blob, version, what, scratch));
    read(in);
    return true;
  } catch (const std::exception &e) {
    error = "corrupt " + std::string(what) + ": " + e.what();
    return false;
  }
}

// [u8 compression][payload]: zstd at `level` when that is smaller (level 0:
// never), else the body as it is.
std::string pack(const std::string &body, int level);
// The body of a packed blob; `scratch` holds it when it was compressed.
// Throws std::runtime_error for a blob that is not one.
std::string_view unpack(std::string_view blob, std::string &scratch);

}  // namespace vitals::sqlite::codec
