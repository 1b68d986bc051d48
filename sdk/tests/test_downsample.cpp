// LTTB, min/max and average downsampling against hand-computed values and a
// straightforward reference implementation of LTTB.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <random>

#include "vitals/downsample.hpp"

using vitals::storage::Buckets;
using vitals::storage::Point;
using vitals::storage::RollupRow;

namespace {

// Steinarsson's reference LTTB, transcribed as plainly as possible.
std::vector<Point> reference_lttb(const std::vector<Point> &data, size_t threshold) {
  size_t data_length = data.size();
  if (threshold >= data_length || threshold == 0) return data;
  std::vector<Point> sampled;
  double every = static_cast<double>(data_length - 2) / static_cast<double>(threshold - 2);
  size_t a = 0, next_a = 0;
  sampled.push_back(data[a]);
  for (size_t i = 0; i < threshold - 2; i++) {
    double avg_x = 0, avg_y = 0;
    size_t avg_range_start = static_cast<size_t>(std::floor(static_cast<double>(i + 1) * every)) + 1;
    size_t avg_range_end = static_cast<size_t>(std::floor(static_cast<double>(i + 2) * every)) + 1;
    avg_range_end = avg_range_end < data_length ? avg_range_end : data_length;
    size_t avg_range_length = avg_range_end - avg_range_start;
    for (; avg_range_start < avg_range_end; avg_range_start++) {
      avg_x += static_cast<double>(data[avg_range_start].ts);
      avg_y += data[avg_range_start].value;
    }
    avg_x /= static_cast<double>(avg_range_length);
    avg_y /= static_cast<double>(avg_range_length);
    size_t range_offs = static_cast<size_t>(std::floor(static_cast<double>(i) * every)) + 1;
    size_t range_to = static_cast<size_t>(std::floor(static_cast<double>(i + 1) * every)) + 1;
    double point_a_x = static_cast<double>(data[a].ts), point_a_y = data[a].value;
    double max_area = -1;
    for (; range_offs < range_to; range_offs++) {
      double area = std::fabs((point_a_x - avg_x) * (data[range_offs].value - point_a_y) -
                              (point_a_x - static_cast<double>(data[range_offs].ts)) * (avg_y - point_a_y)) *
                    0.5;
      if (area > max_area) {
        max_area = area;
        next_a = range_offs;
      }
    }
    sampled.push_back(data[next_a]);
    a = next_a;
  }
  sampled.push_back(data[data_length - 1]);
  return sampled;
}

std::vector<Point> random_series(std::mt19937_64 &rng, size_t n) {
  std::uniform_int_distribution<int64_t> gap(1, 5000);
  std::normal_distribution<double> step(0, 3);
  std::vector<Point> out;
  int64_t ts = 0;  // from 0, so absolute and relative x are the same doubles
  double v = 50;
  for (size_t i = 0; i < n; ++i) {
    ts += gap(rng);
    v += step(rng);
    out.push_back({ts, v});
  }
  return out;
}

}  // namespace

TEST_CASE("lttb picks the same points as the reference implementation on random data") {
  std::mt19937_64 rng(42);
  for (size_t n : {3u, 10u, 101u, 1000u, 5003u}) {
    auto data = random_series(rng, n);
    for (size_t threshold : {3u, 4u, 7u, 100u, 999u}) {
      CAPTURE(n);
      CAPTURE(threshold);
      auto got = vitals::storage::lttb(data, threshold);
      auto want = reference_lttb(data, threshold);
      CHECK(got == want);
      CHECK(got.size() == std::min(n, threshold));
      CHECK(got.front() == data.front());
      CHECK(got.back() == data.back());
    }
  }
}

TEST_CASE("lttb keeps the point making the largest triangle, and the first and last") {
  std::vector<Point> data{{0, 0}, {1, 5}, {2, 1}, {3, -7}, {4, 0}};
  // One middle bucket {1, 2, 3}; the next bucket's average is (4, 0); the
  // triangle with (0, 0) has area 2|y|, largest for (3, -7).
  CHECK(vitals::storage::lttb(data, 3) == std::vector<Point>{{0, 0}, {3, -7}, {4, 0}});
  CHECK(vitals::storage::lttb(data, 2) == std::vector<Point>{{0, 0}, {4, 0}});
  CHECK(vitals::storage::lttb(data, 1) == std::vector<Point>{{0, 0}});
  CHECK(vitals::storage::lttb(data, 5) == data);
  CHECK(vitals::storage::lttb(data, 50) == data);
  CHECK(vitals::storage::lttb({}, 3).empty());
}

TEST_CASE("lttb keeps nanosecond timestamps of 2024 exact") {
  std::vector<Point> data;
  for (int64_t i = 0; i < 1000; ++i) data.push_back({1'700'000'000'123'456'789 + i * 1'000'000'007, std::sin(i * 0.1)});
  auto got = vitals::storage::lttb(data, 10);
  for (const Point &p : got) CHECK((p.ts - 1'700'000'000'123'456'789) % 1'000'000'007 == 0);
}

TEST_CASE("buckets cut an inclusive range into equal, round widths") {
  Buckets b(0, 9, 3);  // width ceil(9 / 3) = 3: [0,3) [3,6) [6,9]
  CHECK(b.width() == 3);
  CHECK(b.count() == 3);
  CHECK(b.index(0) == 0);
  CHECK(b.index(2) == 0);
  CHECK(b.index(3) == 1);
  CHECK(b.index(9) == 2);
  CHECK(b.index(-5) == 0);
  CHECK(b.start(2) == 6);
  Buckets hour(0, 3600, 60);  // an hour in 60 buckets: a minute each, the end in the last
  CHECK(hour.width() == 60);
  CHECK(hour.count() == 60);
  CHECK(hour.index(3599) == 59);
  CHECK(hour.index(3600) == 59);
  Buckets even(100, 199, 10);
  CHECK(even.width() == 10);
  CHECK(even.count() == 10);
  Buckets sparse(0, 10, 100);  // more buckets asked than nanoseconds in the range
  CHECK(sparse.width() == 1);
  CHECK(sparse.count() == 11);
  Buckets one(5, 5, 1000);  // a single instant
  CHECK(one.count() == 1);
  Buckets huge(INT64_MIN, INT64_MAX, 1);
  CHECK(huge.count() == 1);
  CHECK(huge.index(INT64_MAX) == 0);
}

TEST_CASE("average gives the mean of each bucket at the bucket start") {
  std::vector<Point> data{{0, 1}, {1, 2}, {2, 3}, {5, 10}, {9, 4}};
  auto got = vitals::storage::average(data, Buckets(0, 9, 2));  // [0,5) [5,9]
  CHECK(got == std::vector<Point>{{0, 2}, {5, 7}});
  // Empty buckets give no point.
  CHECK(vitals::storage::average(data, Buckets(0, 29, 3)) == std::vector<Point>{{0, 4}});
}

TEST_CASE("minmax gives each bucket's extremes at their own timestamps, in time order") {
  std::vector<Point> data{{0, 1}, {1, 2}, {2, 3}, {5, 10}, {9, 4}, {12, 6}};
  auto got = vitals::storage::minmax(data, Buckets(0, 14, 3));  // [0,5) [5,10) [10,14]
  CHECK(got == std::vector<Point>{{0, 1}, {2, 3}, {5, 10}, {9, 4}, {12, 6}});
  // Equal values: the first one, once.
  CHECK(vitals::storage::minmax(std::vector<Point>{{0, 7}, {1, 7}}, Buckets(0, 1, 1)) == std::vector<Point>{{0, 7}});
}

TEST_CASE("rollup rows: average is sum over count, minmax uses the min and max columns") {
  std::vector<RollupRow> rows{{0, 1, 5, 6, 2}, {60, -3, 2, 4, 4}, {120, 0, 9, 9, 3}, {180, 2, 2, 2, 1}};
  // Buckets of 120: [0,120) holds rows 0 and 60; [120,239] rows 120 and 180.
  Buckets b(0, 239, 2);
  CHECK(vitals::storage::average(rows, b) == std::vector<Point>{{0, 10.0 / 6}, {120, 11.0 / 4}});
  CHECK(vitals::storage::minmax(rows, b) == std::vector<Point>{{0, 5}, {60, -3}, {120, 0}, {120, 9}});
  CHECK(vitals::storage::bucket_means(rows) == std::vector<Point>{{0, 3}, {60, 1}, {120, 3}, {180, 2}});
  // A row before `from` (the rollup bucket holding from) counts in the first bucket.
  CHECK(vitals::storage::average(rows, Buckets(30, 239, 1)) == std::vector<Point>{{30, 21.0 / 10}});
}

TEST_CASE("NaN samples are not drawn by any method, wherever they fall") {
  const double nan = std::nan("");
  const std::vector<Point> data{{0, nan}, {1, 5}, {2, nan}, {3, -1}, {4, 2}, {5, nan}};
  Buckets one(0, 5, 1);
  // minmax: a leading NaN used to stay both the min and the max of its bucket.
  CHECK(vitals::storage::minmax(data, one) == std::vector<Point>{{1, 5}, {3, -1}});
  CHECK(vitals::storage::average(data, one) == std::vector<Point>{{0, 2}});  // (5 - 1 + 2) / 3
  CHECK(vitals::storage::lttb(data, 10) == std::vector<Point>{{1, 5}, {3, -1}, {4, 2}});
  CHECK(vitals::storage::lttb(data, 2) == std::vector<Point>{{1, 5}, {4, 2}});
  CHECK(vitals::storage::lttb(std::vector<Point>{{0, nan}}, 5).empty());
}

TEST_CASE("lttb over points further apart than int64 nanoseconds reach") {
  constexpr int64_t lo = std::numeric_limits<int64_t>::min(), hi = std::numeric_limits<int64_t>::max();
  const std::vector<Point> data{{lo, 0}, {-1, 10}, {0, -10}, {1, 3}, {hi, 0}};
  // UBSan reports the signed subtraction this used to do; the picks follow x as unsigned offsets.
  auto got = vitals::storage::lttb(data, 3);
  REQUIRE(got.size() == 3);
  CHECK(got.front() == data.front());
  CHECK(got.back() == data.back());
}
