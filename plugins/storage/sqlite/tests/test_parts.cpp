// The query engine's parts on their own: tier choice, the LRU cache, bucket
// arithmetic. (Requests are read by the SDK: sdk/tests/test_storage.cpp.)
#include <doctest/doctest.h>

#include <limits>

#include "../cache.hpp"
#include "../query.hpp"
#include "../tier.hpp"

using namespace vitals::sqlite;

namespace {
constexpr int64_t s = 1'000'000'000, m = 60 * s, h = 60 * m, d = 24 * h;
constexpr int64_t now = 1'700'000'000 * s;

Tier tier(Method method, int64_t range, int64_t points, int64_t retention = 30 * d, int64_t rollup = 365 * d) {
  return choose_tier(method, now - range, now, points, now, retention, rollup);
}

}  // namespace

TEST_CASE("tier: the coarsest whose resolution is at most twice an output bucket") {
  CHECK(tier(Method::lttb, h, 1000) == Tier::raw);          // 3.6 s per point
  CHECK(tier(Method::lttb, d, 1000) == Tier::minute);       // 86.4 s
  CHECK(tier(Method::avg, 30 * d, 1000) == Tier::hour);     // 43.2 min: 720 hourly points
  CHECK(tier(Method::avg, 30 * d, 2000) == Tier::minute);   // 21.6 min
  CHECK(tier(Method::avg, 500 * m, 1000) == Tier::minute);  // exactly 30 s
  CHECK(tier(Method::avg, 500 * m - 1000, 1000) == Tier::raw);
  CHECK(tier(Method::avg, 500 * h, 1000) == Tier::hour);  // exactly 30 min
  // minmax spends two points per bucket: 1 h / 100 points = 50 buckets of 72 s.
  CHECK(tier(Method::minmax, h, 100) == Tier::minute);
  CHECK(tier(Method::lttb, h, 200) == Tier::raw);  // 18 s
  CHECK(tier(Method::raw, 365 * d, 10) == Tier::raw);
}

TEST_CASE("tier: a rollup whenever raw (or minute) data no longer reaches back to from") {
  // 2 h at 1000 points wants raw, but raw is kept 1 h.
  CHECK(tier(Method::lttb, 2 * h, 1000, h, 10 * h) == Tier::minute);
  CHECK(tier(Method::lttb, 59 * m, 1000, h, 10 * h) == Tier::raw);
  // Older than the minute rollups too.
  CHECK(tier(Method::avg, 11 * h, 100000, h, 10 * h) == Tier::hour);
  CHECK(tier(Method::avg, 31 * d, 100000) == Tier::minute);
  CHECK(tier(Method::avg, 400 * d, 100000) == Tier::hour);
}

TEST_CASE("bucket_start floors, also before 1970") {
  CHECK(bucket_start(0, m) == 0);
  CHECK(bucket_start(m - 1, m) == 0);
  CHECK(bucket_start(m, m) == m);
  CHECK(bucket_start(-1, m) == -m);
  CHECK(bucket_start(-m, m) == -m);
  CHECK(bucket_start(now, m) == now - 20 * s);  // 1700000000 s is 20 s past a minute
  CHECK(bucket_start(now + 39 * s, m) == now - 20 * s);
  CHECK(bucket_start(now + 40 * s, m) == now + 40 * s);
  // The bucket holding the earliest time starts below int64: at the earliest
  // time instead (wrapped to the far future before; found by the storage
  // conformance suite's huge ranges).
  constexpr int64_t earliest = std::numeric_limits<int64_t>::min();
  CHECK(bucket_start(earliest, h) == earliest);
  CHECK(bucket_start(earliest + 1, m) == earliest);
  CHECK(bucket_start(earliest + h, h) <= earliest + h);
}

TEST_CASE("tier: the widest range with one point does not overflow the bucket width") {
  constexpr int64_t earliest = std::numeric_limits<int64_t>::min(), latest = std::numeric_limits<int64_t>::max();
  // 2^63 ns in one bucket: twice that wrapped to 0 and chose raw (with raw
  // data reaching back to `from`, nothing else picks a rollup).
  CHECK(choose_tier(Method::lttb, -1, latest, 1, now, now + 1, now + 1) == Tier::hour);
  CHECK(choose_tier(Method::minmax, -1, latest, 2, now, now + 1, now + 1) == Tier::hour);
  CHECK(choose_tier(Method::lttb, earliest, latest, 1, now, 30 * d, 365 * d) == Tier::hour);
}

TEST_CASE("query cache: least recently used goes first; writes drop what they touch") {
  QueryCache cache(2, 1 << 20);
  cache.put("a", "A", 100, cache.generation());
  cache.put("b", "B", 200, cache.generation());
  REQUIRE(cache.get("a"));  // a is now the most recent
  cache.put("c", "C", 300, cache.generation());
  CHECK(cache.get("b") == nullptr);
  CHECK(*cache.get("a") == "A");
  CHECK(*cache.get("c") == "C");
  CHECK(cache.entries() == 2);
  CHECK(cache.hits() == 3);
  CHECK(cache.misses() == 1);

  cache.invalidate_from(250);  // a write at 250 changes ranges ending at or after it
  CHECK(cache.get("c") == nullptr);
  CHECK(cache.get("a") != nullptr);
  cache.invalidate_from(100);
  CHECK(cache.get("a") == nullptr);
  CHECK(cache.entries() == 0);
}

TEST_CASE("query cache: a result read before a write is not stored after it") {
  QueryCache cache(8, 1 << 20);
  uint64_t token = cache.generation();
  cache.invalidate_from(0);  // a late write committed while the query ran
  cache.put("k", "stale", 100, token);
  CHECK(cache.get("k") == nullptr);
  cache.put("k", "fresh", 100, cache.generation());
  CHECK(*cache.get("k") == "fresh");
}

TEST_CASE("query cache: bounded in bytes; disabled with 0 entries") {
  QueryCache cache(100, 8000);
  cache.put("big", std::string(2000, 'x'), 1, cache.generation());  // over an eighth of the budget
  CHECK(cache.entries() == 0);
  for (int i = 0; i < 20; ++i) cache.put("k" + std::to_string(i), std::string(700, 'x'), 1, cache.generation());
  CHECK(cache.bytes() <= 8000);
  CHECK(cache.entries() < 20);
  CHECK(cache.get("k19") != nullptr);
  QueryCache off(0, 1 << 20);
  off.put("k", "v", 1, off.generation());
  CHECK(off.entries() == 0);
}
