// The encoding of a head row: the samples one commit adds (storage engine
// v3). A commit appends one such row, a few pages, whatever its series and
// timestamps; the compactor later reads the rows in order and seals each
// series' samples into chunks (chunk_codec.hpp), where a later sample for
// the same (series, timestamp) wins.
//
// The rows are stored sorted by (series, timestamp), samples with the same
// pair in the order they arrived (a stable sort: the last still wins), so
// that each column is a run of small steps: series ids repeat, a series'
// timestamps are steady, its values move little. Columns (column_codec.hpp):
// series ids and timestamps as integers at whichever order is smallest,
// values as doubles.
// Layout: u8 version (1) | packed body; body: varint n | series | ts | values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vitals::sqlite::head {

inline constexpr uint8_t kFormatVersion = 1;

struct Rows {
  std::vector<int64_t> series;
  std::vector<int64_t> ts;
  std::vector<double> values;

  size_t size() const { return series.size(); }
  void add(int64_t s, int64_t t, double v) {
    series.push_back(s);
    ts.push_back(t);
    values.push_back(v);
  }
  void clear() {
    series.clear();
    ts.clear();
    values.clear();
  }
};

// Throws std::invalid_argument when the columns differ in length.
std::string encode(const Rows &rows, int zstd_level = 3);

// The rows sorted by (series, timestamp), equal pairs in arrival order:
// what decode() gives back. False, with the reason in `error`, for a blob
// that is not a head row this code wrote.
bool decode(std::string_view blob, Rows &out, std::string &error);

}  // namespace vitals::sqlite::head
