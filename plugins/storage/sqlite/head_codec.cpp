// Head rows (head_codec.hpp), on the shared columns (column_codec.hpp).
#include "head_codec.hpp"

#include <algorithm>
#include <numeric>
#include <stdexcept>

#include "column_codec.hpp"

namespace vitals::sqlite::head {

namespace {
// A commit of more samples than this is not one this code wrote.
constexpr uint64_t kMaxRows = 16u << 20;
}  // namespace

std::string encode(const Rows &rows, int zstd_level) {
  const size_t n = rows.series.size();
  if (rows.ts.size() != n || rows.values.size() != n) throw std::invalid_argument("head row: columns differ in length");
  if (n > kMaxRows) throw std::invalid_argument("head row: too many samples");
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return rows.series[a] != rows.series[b] ? rows.series[a] < rows.series[b] : rows.ts[a] < rows.ts[b];
  });
  Rows sorted;
  sorted.series.reserve(n);
  sorted.ts.reserve(n);
  sorted.values.reserve(n);
  for (size_t i : order) sorted.add(rows.series[i], rows.ts[i], rows.values[i]);
  std::string body;
  body.reserve(16 + n * 4);
  codec::put_varint(body, n);
  codec::put_integers_smallest(body, sorted.series);
  codec::put_integers_smallest(body, sorted.ts);
  codec::put_doubles(body, sorted.values);
  return codec::versioned(kFormatVersion, body, zstd_level);
}

bool decode(std::string_view blob, Rows &out, std::string &error) {
  const bool ok = codec::read_versioned(blob, kFormatVersion, "head row", error, [&](codec::Reader &in) {
    const uint64_t n = in.varint();
    if (n > kMaxRows) throw std::runtime_error("row count beyond any commit");
    codec::read_integers_smallest(in, static_cast<size_t>(n), out.series);
    codec::read_integers_smallest(in, static_cast<size_t>(n), out.ts);
    codec::read_doubles(in, static_cast<size_t>(n), out.values);
    if (!in.done()) throw std::runtime_error("bytes after the last row");
    for (size_t i = 1; i < out.series.size(); ++i)
      if (out.series[i] < out.series[i - 1] || (out.series[i] == out.series[i - 1] && out.ts[i] < out.ts[i - 1]))
        throw std::runtime_error("rows out of order");
  });
  if (!ok) out.clear();
  return ok;
}

}  // namespace vitals::sqlite::head
