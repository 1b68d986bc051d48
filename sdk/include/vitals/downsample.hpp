// Server-side downsampling for the storage contract (vitals/storage.hpp,
// docs/storage-contract.md), as pure functions over points already read:
// LTTB (largest triangle three buckets), min/max per bucket, and average per
// bucket, on raw samples or on rollup rows (min/max/sum/count per bucket).
// Every storage shares them, so that a method means the same on each.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <limits>
#include <span>
#include <vector>

namespace vitals::storage {

struct Point {
  int64_t ts;
  double value;
  bool operator==(const Point &o) const {
    return ts == o.ts && (value == o.value || (value != value && o.value != o.value));
  }
};

struct RollupRow {
  int64_t bucket_ts;
  double min, max, sum;
  int64_t count;
};

// [from, to] (both inclusive) cut into at most n buckets of equal width
// ceil((to - from) / n), so that round ranges give round widths (an hour in
// 60 buckets: one minute each). The last bucket also holds `to` itself.
class Buckets {
 public:
  Buckets(int64_t from, int64_t to, size_t n) : from_(from) {
    uint64_t span = static_cast<uint64_t>(to) - static_cast<uint64_t>(from);
    width_ = span / n + (span % n != 0);
    if (width_ == 0) width_ = 1;
    uint64_t fit = span / width_;
    count_ = fit < n ? static_cast<size_t>(fit) + 1 : n;
  }
  size_t count() const { return count_; }
  uint64_t width() const { return width_; }
  // The bucket of ts; times before from land in the first bucket.
  size_t index(int64_t ts) const {
    if (ts <= from_) return 0;
    size_t i = static_cast<size_t>((static_cast<uint64_t>(ts) - static_cast<uint64_t>(from_)) / width_);
    return i < count_ ? i : count_ - 1;
  }
  int64_t start(size_t i) const { return static_cast<int64_t>(static_cast<uint64_t>(from_) + i * width_); }

 private:
  int64_t from_;
  uint64_t width_ = 1;
  size_t count_ = 1;
};

// NaN samples are not drawn: every method below leaves them out.

// Largest-Triangle-Three-Buckets (Steinarsson 2013): keeps the first and last
// points and, from each of threshold - 2 equal-count buckets between them,
// the point forming the largest triangle with the previously kept point and
// the average of the next bucket. Returns the input when it already fits.
inline std::vector<Point> lttb(std::span<const Point> all, size_t threshold) {
  // NaN is not drawn: left out before choosing (copied only when there is one).
  std::vector<Point> finite;
  std::span<const Point> data = all;
  if (std::any_of(all.begin(), all.end(), [](const Point &p) { return std::isnan(p.value); })) {
    std::copy_if(all.begin(), all.end(), std::back_inserter(finite),
                 [](const Point &p) { return !std::isnan(p.value); });
    data = finite;
  }
  const size_t n = data.size();
  if (threshold >= n || n == 0) return {data.begin(), data.end()};
  if (threshold == 0) return {};
  if (threshold == 1) return {data.front()};
  if (threshold == 2) return {data.front(), data.back()};
  std::vector<Point> out;
  out.reserve(threshold);
  // x relative to the first point keeps nanosecond timestamps exact in a
  // double; unsigned, since points up to 2^64 - 1 ns apart do not fit int64.
  const uint64_t t0 = static_cast<uint64_t>(data.front().ts);
  auto x = [&](size_t i) { return static_cast<double>(static_cast<uint64_t>(data[i].ts) - t0); };
  const double every = static_cast<double>(n - 2) / static_cast<double>(threshold - 2);
  size_t a = 0;
  out.push_back(data[0]);
  for (size_t i = 0; i < threshold - 2; ++i) {
    size_t avg_start = static_cast<size_t>(std::floor(static_cast<double>(i + 1) * every)) + 1;
    size_t avg_end = static_cast<size_t>(std::floor(static_cast<double>(i + 2) * every)) + 1;
    if (avg_end > n) avg_end = n;
    double avg_x = 0, avg_y = 0;
    for (size_t j = avg_start; j < avg_end; ++j) {
      avg_x += x(j);
      avg_y += data[j].value;
    }
    const double avg_len = static_cast<double>(avg_end - avg_start);
    avg_x /= avg_len;
    avg_y /= avg_len;
    size_t range_start = static_cast<size_t>(std::floor(static_cast<double>(i) * every)) + 1;
    size_t range_end = static_cast<size_t>(std::floor(static_cast<double>(i + 1) * every)) + 1;
    const double ax = x(a), ay = data[a].value;
    double max_area = -1;
    size_t next = range_start;
    for (size_t j = range_start; j < range_end; ++j) {
      double area = std::fabs((ax - avg_x) * (data[j].value - ay) - (ax - x(j)) * (avg_y - ay)) * 0.5;
      if (area > max_area) {
        max_area = area;
        next = j;
      }
    }
    out.push_back(data[next]);
    a = next;
  }
  out.push_back(data[n - 1]);
  return out;
}

// The mean of each non-empty bucket, at the bucket's start.
inline std::vector<Point> average(std::span<const Point> data, const Buckets &b) {
  std::vector<double> sum(b.count(), 0);
  std::vector<uint64_t> count(b.count(), 0);
  for (const Point &p : data) {
    if (std::isnan(p.value)) continue;  // not drawn
    size_t i = b.index(p.ts);
    sum[i] += p.value;
    ++count[i];
  }
  std::vector<Point> out;
  for (size_t i = 0; i < b.count(); ++i)
    if (count[i]) out.push_back({b.start(i), sum[i] / static_cast<double>(count[i])});
  return out;
}

// The smallest and the largest point of each bucket, in time order, at their
// own timestamps (one point when they are the same sample).
inline std::vector<Point> minmax(std::span<const Point> data, const Buckets &b) {
  constexpr size_t none = std::numeric_limits<size_t>::max();
  std::vector<size_t> lo(b.count(), none), hi(b.count(), none);
  for (size_t k = 0; k < data.size(); ++k) {
    if (std::isnan(data[k].value)) continue;  // not drawn
    size_t i = b.index(data[k].ts);
    if (lo[i] == none || data[k].value < data[lo[i]].value) lo[i] = k;
    if (hi[i] == none || data[k].value > data[hi[i]].value) hi[i] = k;
  }
  std::vector<Point> out;
  for (size_t i = 0; i < b.count(); ++i) {
    if (lo[i] == none) continue;
    size_t first = lo[i] < hi[i] ? lo[i] : hi[i], second = lo[i] < hi[i] ? hi[i] : lo[i];
    out.push_back(data[first]);
    if (second != first) out.push_back(data[second]);
  }
  return out;
}

// Rollup rows: sum/count per query bucket, at the bucket's start.
inline std::vector<Point> average(std::span<const RollupRow> rows, const Buckets &b) {
  std::vector<double> sum(b.count(), 0);
  std::vector<int64_t> count(b.count(), 0);
  for (const RollupRow &r : rows) {
    size_t i = b.index(r.bucket_ts);
    sum[i] += r.sum;
    count[i] += r.count;
  }
  std::vector<Point> out;
  for (size_t i = 0; i < b.count(); ++i)
    if (count[i] > 0) out.push_back({b.start(i), sum[i] / static_cast<double>(count[i])});
  return out;
}

// Rollup rows: the lowest min and the highest max per query bucket, each at
// the start of the rollup bucket it came from; min first when they coincide.
inline std::vector<Point> minmax(std::span<const RollupRow> rows, const Buckets &b) {
  constexpr size_t none = std::numeric_limits<size_t>::max();
  std::vector<size_t> lo(b.count(), none), hi(b.count(), none);
  for (size_t k = 0; k < rows.size(); ++k) {
    if (rows[k].count <= 0) continue;
    size_t i = b.index(rows[k].bucket_ts);
    if (lo[i] == none || rows[k].min < rows[lo[i]].min) lo[i] = k;
    if (hi[i] == none || rows[k].max > rows[hi[i]].max) hi[i] = k;
  }
  std::vector<Point> out;
  for (size_t i = 0; i < b.count(); ++i) {
    if (lo[i] == none) continue;
    const RollupRow &l = rows[lo[i]], &h = rows[hi[i]];
    if (h.bucket_ts < l.bucket_ts) {
      out.push_back({h.bucket_ts, h.max});
      out.push_back({l.bucket_ts, l.min});
    } else {
      out.push_back({l.bucket_ts, l.min});
      out.push_back({h.bucket_ts, h.max});
    }
  }
  return out;
}

// Rollup rows as one point per rollup bucket: (bucket start, sum / count).
inline std::vector<Point> bucket_means(std::span<const RollupRow> rows) {
  std::vector<Point> out;
  out.reserve(rows.size());
  for (const RollupRow &r : rows)
    if (r.count > 0) out.push_back({r.bucket_ts, r.sum / static_cast<double>(r.count)});
  return out;
}

}  // namespace vitals::storage
