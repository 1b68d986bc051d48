// The compactor's rules (compaction.hpp) against plain models of them: a map
// written older-then-newer for the overlay, window arithmetic done by hand
// for the split, and a map of buckets for the rollups.
#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <stdexcept>

#include "../compaction.hpp"
#include "../rollup_codec.hpp"
#include "samples_support.hpp"

namespace compaction = vitals::sqlite::compaction;
namespace chunk = vitals::sqlite::chunk;

namespace {

constexpr int64_t kMinute = 60'000'000'000;

chunk::Samples from_map(const std::map<int64_t, double> &m) {
  chunk::Samples s;
  for (const auto &[t, v] : m) {
    s.ts.push_back(t);
    s.values.push_back(v);
  }
  return s;
}

// Random samples: `sorted_unique` like a chunk, else sorted with repeats in
// arrival order like head rows.
chunk::Samples random_samples(std::mt19937_64 &rng, size_t n, bool sorted_unique, int64_t base, int64_t spread) {
  std::multimap<int64_t, double> m;
  for (size_t i = 0; i < n; ++i) {
    const int64_t t = base + static_cast<int64_t>(rng() % static_cast<uint64_t>(spread));
    if (sorted_unique && m.count(t)) continue;
    m.emplace(t, static_cast<double>(rng() % 1000) / 10);  // multimap keeps insertion order among equals
  }
  chunk::Samples s;
  for (const auto &[t, v] : m) {
    s.ts.push_back(t);
    s.values.push_back(v);
  }
  return s;
}

}  // namespace

TEST_CASE("overlay: the newer sample wins at its timestamp, the last of several newer ones") {
  chunk::Samples older{{10, 20, 30}, {1, 2, 3}};
  chunk::Samples newer{{5, 20, 20, 40, 40}, {0.5, 2.1, 2.2, 4.1, 4.2}};
  auto out = compaction::overlay(older, newer);
  CHECK(out.ts == std::vector<int64_t>{5, 10, 20, 30, 40});
  CHECK(out.values == std::vector<double>{0.5, 1, 2.2, 3, 4.2});
  CHECK(test::same_samples(compaction::overlay({}, {}), {}));
  CHECK(test::same_samples(compaction::overlay(older, {}), older));
  CHECK(compaction::overlay({}, newer).ts == std::vector<int64_t>{5, 20, 40});
}

TEST_CASE("overlay equals writing older then newer into a map, on random data") {
  std::mt19937_64 rng(21);
  for (int round = 0; round < 500; ++round) {
    const int64_t base = round % 5 == 0 ? std::numeric_limits<int64_t>::min() : round % 5 == 1 ? -5000 : 1'000'000;
    auto older = random_samples(rng, rng() % 200, true, base, 1 + static_cast<int64_t>(rng() % 400));
    auto newer = random_samples(rng, rng() % 200, false, base, 1 + static_cast<int64_t>(rng() % 400));
    std::map<int64_t, double> model;
    for (size_t i = 0; i < older.ts.size(); ++i) model[older.ts[i]] = older.values[i];
    for (size_t i = 0; i < newer.ts.size(); ++i) model[newer.ts[i]] = newer.values[i];
    CHECK(test::same_samples(compaction::overlay(older, newer), from_map(model)));
  }
}

TEST_CASE("split cuts at multiples of the span since the epoch, also before it") {
  const int64_t span = 2 * 3600 * 1'000'000'000LL;
  chunk::Samples s{{-span - 1, -span, -1, 0, span - 1, span, 5 * span + 7}, {1, 2, 3, 4, 5, 6, 7}};
  auto windows = compaction::split(s, span);
  REQUIRE(windows.size() == 5);
  CHECK(windows[0].first == -2 * span);
  CHECK(windows[0].second.ts == std::vector<int64_t>{-span - 1});
  CHECK(windows[1].first == -span);
  CHECK(windows[1].second.ts == std::vector<int64_t>{-span, -1});
  CHECK(windows[2].first == 0);
  CHECK(windows[2].second.values == std::vector<double>{4, 5});
  CHECK(windows[3].first == span);
  CHECK(windows[4].first == 5 * span);
  CHECK(compaction::split({}, span).empty());
  CHECK_THROWS_AS(compaction::split(s, 0), std::invalid_argument);
  // The earliest window of int64 time starts at its first instant.
  auto edge = compaction::split({{std::numeric_limits<int64_t>::min()}, {1}}, span);
  CHECK(edge[0].first == std::numeric_limits<int64_t>::min());
}

TEST_CASE("rollup equals bucketing by hand; NaN samples are left out, NaN-only buckets too") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  chunk::Samples s{{-1, 0, 1, kMinute - 1, kMinute, 2 * kMinute + 5, 3 * kMinute}, {9, 4, -2, nan, nan, 7, 1.5}};
  auto buckets = compaction::rollup(s, kMinute);
  REQUIRE(buckets.size() == 4);
  CHECK(buckets[0] == compaction::Bucket{-kMinute, 9, 9, 9, 1});
  CHECK(buckets[1] == compaction::Bucket{0, -2, 4, 2, 2});
  CHECK(buckets[2] == compaction::Bucket{2 * kMinute, 7, 7, 7, 1});  // the NaN-only minute is absent
  CHECK(buckets[3] == compaction::Bucket{3 * kMinute, 1.5, 1.5, 1.5, 1});

  std::mt19937_64 rng(4);
  for (int round = 0; round < 200; ++round) {
    auto samples = random_samples(rng, rng() % 500, true, -10 * kMinute, 20 * kMinute);
    for (auto &v : samples.values)
      if (rng() % 10 == 0) v = nan;
    std::map<int64_t, compaction::Bucket> model;
    for (size_t i = 0; i < samples.ts.size(); ++i) {
      const double v = samples.values[i];
      if (std::isnan(v)) continue;
      const int64_t start = static_cast<int64_t>(std::floor(static_cast<double>(samples.ts[i]) / kMinute)) * kMinute;
      auto [it, fresh] = model.try_emplace(start, compaction::Bucket{start, v, v, 0, 0});
      it->second.min = std::min(it->second.min, v);
      it->second.max = std::max(it->second.max, v);
      it->second.sum += v;
      ++it->second.count;
    }
    std::vector<compaction::Bucket> want;
    for (const auto &[start, b] : model) want.push_back(b);
    CHECK(compaction::rollup(samples, kMinute) == want);
  }
}

TEST_CASE("rollup chunks round-trip their buckets and refuse what is not one") {
  std::mt19937_64 rng(8);
  for (int round = 0; round < 100; ++round) {
    auto samples = random_samples(rng, rng() % 3000, true, -100 * kMinute, 1000 * kMinute);
    for (auto &v : samples.values) v = rng() % 3 ? v : std::bit_cast<double>(rng() | 1);  // some any doubles
    for (auto &v : samples.values)
      if (std::isnan(v)) v = 0.5;  // rollup() leaves NaN out anyway
    auto buckets = compaction::rollup(samples, kMinute);
    std::vector<compaction::Bucket> out;
    std::string error;
    const std::string blob = vitals::sqlite::rollup_chunk::encode(buckets);
    REQUIRE_MESSAGE(vitals::sqlite::rollup_chunk::decode(blob, out, error), error);
    REQUIRE(out.size() == buckets.size());
    for (size_t i = 0; i < out.size(); ++i) {
      CHECK(out[i].start == buckets[i].start);
      CHECK(out[i].count == buckets[i].count);
      CHECK(std::bit_cast<uint64_t>(out[i].min) == std::bit_cast<uint64_t>(buckets[i].min));
      CHECK(std::bit_cast<uint64_t>(out[i].max) == std::bit_cast<uint64_t>(buckets[i].max));
      CHECK(std::bit_cast<uint64_t>(out[i].sum) == std::bit_cast<uint64_t>(buckets[i].sum));
    }
    if (round == 0)
      for (size_t len = 0; len < blob.size(); ++len)
        CHECK_FALSE(vitals::sqlite::rollup_chunk::decode(blob.substr(0, len), out, error));
  }
  std::vector<compaction::Bucket> out;
  std::string error;
  CHECK_FALSE(vitals::sqlite::rollup_chunk::decode(std::string(1, '\x02'), out, error));
  CHECK(error.find("rollup chunk format 2") != std::string::npos);
  CHECK_THROWS_AS(vitals::sqlite::rollup_chunk::encode({{60, 1, 1, 1, 1}, {60, 1, 1, 1, 1}}), std::invalid_argument);
}
