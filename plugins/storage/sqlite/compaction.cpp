// The compactor's rules (compaction.hpp).
#include "compaction.hpp"

#include <cmath>
#include <stdexcept>

#include "tier.hpp"

namespace vitals::sqlite::compaction {

chunk::Samples overlay(const chunk::Samples &older, const chunk::Samples &newer) {
  chunk::Samples out;
  out.ts.reserve(older.ts.size() + newer.ts.size());
  out.values.reserve(older.ts.size() + newer.ts.size());
  size_t i = 0, j = 0;
  while (i < older.ts.size() || j < newer.ts.size()) {
    if (j == newer.ts.size() || (i < older.ts.size() && older.ts[i] < newer.ts[j])) {
      out.ts.push_back(older.ts[i]);
      out.values.push_back(older.values[i]);
      ++i;
      continue;
    }
    // The last of the newer samples at this timestamp, over any older one.
    const int64_t ts = newer.ts[j];
    while (j + 1 < newer.ts.size() && newer.ts[j + 1] == ts) ++j;
    out.ts.push_back(ts);
    out.values.push_back(newer.values[j]);
    ++j;
    if (i < older.ts.size() && older.ts[i] == ts) ++i;
  }
  return out;
}

std::vector<std::pair<int64_t, chunk::Samples>> split(const chunk::Samples &sorted, int64_t span_ns) {
  if (span_ns <= 0) throw std::invalid_argument("compaction: span must be positive");
  std::vector<std::pair<int64_t, chunk::Samples>> out;
  for (size_t i = 0; i < sorted.ts.size(); ++i) {
    const int64_t start = bucket_start(sorted.ts[i], span_ns);
    if (out.empty() || out.back().first != start) out.emplace_back(start, chunk::Samples{});
    out.back().second.ts.push_back(sorted.ts[i]);
    out.back().second.values.push_back(sorted.values[i]);
  }
  return out;
}

std::vector<Bucket> rollup(const chunk::Samples &sorted, int64_t width_ns) {
  if (width_ns <= 0) throw std::invalid_argument("compaction: bucket width must be positive");
  std::vector<Bucket> out;
  for (size_t i = 0; i < sorted.ts.size(); ++i) {
    const double v = sorted.values[i];
    if (std::isnan(v)) continue;
    const int64_t start = bucket_start(sorted.ts[i], width_ns);
    if (out.empty() || out.back().start != start) {
      out.push_back({start, v, v, v, 1});
      continue;
    }
    Bucket &b = out.back();
    b.min = v < b.min ? v : b.min;
    b.max = v > b.max ? v : b.max;
    b.sum += v;
    ++b.count;
  }
  return out;
}

std::vector<Bucket> merge(const std::vector<Bucket> &a, const std::vector<Bucket> &b) {
  std::vector<Bucket> out;
  out.reserve(a.size() + b.size());
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    if (j == b.size() || (i < a.size() && a[i].start < b[j].start)) {
      out.push_back(a[i++]);
    } else if (i == a.size() || b[j].start < a[i].start) {
      out.push_back(b[j++]);
    } else {
      Bucket m = a[i++];
      const Bucket &o = b[j++];
      m.min = o.min < m.min ? o.min : m.min;
      m.max = o.max > m.max ? o.max : m.max;
      m.sum += o.sum;
      m.count += o.count;
      out.push_back(m);
    }
  }
  return out;
}

}  // namespace vitals::sqlite::compaction
