// The query engine's parts on their own: tier choice, time and request
// parsing, the LRU cache, bucket arithmetic.
#include <doctest/doctest.h>

#include <limits>

#include "../cache.hpp"
#include "../query.hpp"
#include "../request.hpp"
#include "../tier.hpp"

using namespace vitals::sqlite;

namespace {
constexpr int64_t s = 1'000'000'000, m = 60 * s, h = 60 * m, d = 24 * h;
constexpr int64_t now = 1'700'000'000 * s;

Tier tier(Method method, int64_t range, int64_t points, int64_t retention = 30 * d, int64_t rollup = 365 * d) {
  return choose_tier(method, now - range, now, points, now, retention, rollup);
}

Request req(const std::string &text) {
  std::string error;
  auto r = Request::parse(text, error);
  INFO(error);
  REQUIRE(r);
  return *r;
}

JsonScalar str(const std::string &t) { return {JsonScalar::Kind::string, t}; }
JsonScalar num(const std::string &t) { return {JsonScalar::Kind::number, t}; }
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
}

TEST_CASE("times: integer nanoseconds exactly, and the human forms") {
  CHECK(parse_time(num("1700000000123456789"), now, "from") == 1'700'000'000'123'456'789);
  CHECK(parse_time(num("-5"), now, "from") == -5);
  CHECK_THROWS_WITH(parse_time(num("1.5e18"), now, "from"), doctest::Contains("integer nanoseconds"));
  CHECK_THROWS(parse_time(num("99999999999999999999"), now, "from"));
  CHECK(parse_time(str("now"), now, "to") == now);
  CHECK(parse_time(str("-1h"), now, "to") == now - h);
  CHECK(parse_time(str("now-30m"), now, "to") == now - 30 * m);
  CHECK(parse_time(str("+5m"), now, "to") == now + 5 * m);
  CHECK(parse_time(str("1700000000"), now, "to") == 1'700'000'000 * s);
  CHECK(parse_time(str("1700000000123"), now, "to") == 1'700'000'000'123'000'000);
  CHECK(parse_time(str("1700000000123456"), now, "to") == 1'700'000'000'123'456'000);
  CHECK(parse_time(str("1700000000123456789"), now, "to") == 1'700'000'000'123'456'789);
  CHECK(parse_time(str("2023-11-14T22:13:20Z"), now, "to") == 1'700'000'000 * s);
  CHECK(parse_time(str("2023-11-14T22:13:20.5Z"), now, "to") == 1'700'000'000 * s + s / 2);
  CHECK(parse_time(str("2023-11-15T00:13:20.000000001+02:00"), now, "to") == 1'700'000'000 * s + 1);
  CHECK(parse_time(str("1969-12-31T23:59:59Z"), now, "to") == -s);
  CHECK(parse_time(str("2024-02-29T00:00:00Z"), now, "to") == 1'709'164'800 * s);
  for (const char *bad : {"2023-02-29T00:00:00Z", "2023-11-14T22:13:20", "2023-13-01T00:00:00Z", "yesterday", "-1x", "",
                          "now-", "2023-11-14T22:13:20.Z"}) {
    CAPTURE(bad);
    CHECK_THROWS_WITH(parse_time(str(bad), now, "from"), doctest::Contains("\"from\""));
  }
  CHECK_THROWS(parse_time(JsonScalar{JsonScalar::Kind::boolean, "true"}, now, "from"));
}

// The core reads ?from=/--from epoch digits by their value (below 1e11
// seconds, 1e14 milliseconds, 1e17 microseconds, else nanoseconds, with an
// optional fraction); the query contract counted digits and refused
// fractions, so the same text meant different times.
TEST_CASE("times: epoch digits are read by magnitude, as the core reads them") {
  CHECK(parse_time(str("0001700000000"), now, "to") == 1'700'000'000 * s);  // 13 digits, a value in seconds
  CHECK(parse_time(str("00000001700000000123"), now, "to") == 1'700'000'000'123'000'000);
  CHECK(parse_time(str("1700000000.5"), now, "to") == 1'700'000'000 * s + s / 2);
}

TEST_CASE("times: a relative time past the int64 nanosecond range is refused, naming the input") {
  // now + 106000 days is past 2262: refused, not wrapped (UBSan runs this).
  CHECK_THROWS_WITH(parse_time(str("+106000d"), now, "to"), doctest::Contains("+106000d"));
  CHECK_THROWS_WITH(parse_time(str("now+106000d"), now, "to"), doctest::Contains("out of range"));
  CHECK(parse_time(str("-106000d"), now, "from") == now - 106'000 * d);
  CHECK_THROWS_WITH(parse_time(str("2026-02-31T00:00:00Z"), now, "from"), doctest::Contains("2026-02-31"));
}

TEST_CASE("requests: a JSON object read exactly, refused when malformed") {
  Request r =
      req(R"( {"op":"query","match":"cpu{a=\"\u00e9\\n\"}","from":1700000000123456789,"x":[1,{"y":[]}],"n":null} )");
  CHECK(r.string("op") == "query");
  CHECK(r.string("match") == "cpu{a=\"\xc3\xa9\\n\"}");
  CHECK(r.get("from")->text == "1700000000123456789");
  CHECK(r.get("from")->is_integer());
  CHECK(r.get("x")->kind == JsonScalar::Kind::nested);
  CHECK(r.string("n", "fallback") == "fallback");
  CHECK(r.string("absent", "fallback") == "fallback");
  CHECK_THROWS_WITH(r.string("from"), doctest::Contains("must be a string"));
  CHECK(req("{}").string("op").empty());
  CHECK(req(R"({"s":"\ud83d\ude00"})").string("s") == "\xf0\x9f\x98\x80");

  for (const char *bad :
       {"", "[]", "{", "{\"a\":1,}", "{\"a\":1}x", "{\"a\":01}", "{\"a\":1.}", "{\"a\":-}", "{\"a\":1,\"a\":2}",
        "{\"a\":\"\\x\"}", "{\"a\":\"\\ud800\"}", "{a:1}", "{\"a\":tru}", "{\"a\":\"line\nbreak\"}"}) {
    CAPTURE(bad);
    std::string error;
    CHECK_FALSE(Request::parse(bad, error));
    CHECK(error.find("invalid JSON request") != std::string::npos);
  }
}

TEST_CASE("range query fields: defaults and refusals") {
  RangeQuery q = parse_range_query(req(R"({"op":"query"})"), now);
  CHECK(q.to == now);
  CHECK(q.from == now - h);
  CHECK(q.points == default_points);
  CHECK(q.method == Method::lttb);
  q = parse_range_query(req(R"({"from":"-2h","to":"now","points":2,"method":"minmax"})"), now);
  CHECK(q.from == now - 2 * h);
  CHECK(q.points == 2);
  CHECK(q.method == Method::minmax);
  q = parse_range_query(req(R"({"from":5,"to":5,"points":1,"method":"raw"})"), now);
  CHECK(q.from == 5);
  CHECK(q.to == 5);

  auto refused = [&](const std::string &text, const std::string &why) {
    CAPTURE(text);
    CHECK_THROWS_WITH_AS(parse_range_query(req(text), now), doctest::Contains(why.c_str()), BadRequest);
  };
  refused(R"({"from":10,"to":9})", "\"from\" is after \"to\"");
  refused(R"({"points":0})", "at least 1");
  refused(R"({"points":-3})", "at least 1");
  refused(R"({"points":2.5})", "must be an integer");
  refused(R"({"points":"10"})", "must be an integer");
  refused(R"({"points":1000001})", "at most");
  refused(R"({"points":1,"method":"minmax"})", "at least 2 for minmax");
  refused(R"({"method":"median"})", "unknown method \"median\"");
  refused(R"({"from":"soon"})", "\"from\"");
  refused(R"({"match":5})", "\"match\" must be a string");
}

TEST_CASE("range query fields: the default from of a to near the earliest time does not wrap") {
  // Found by fuzzing (tests/fuzz/regressions/query_request): to - 1 h overflowed.
  constexpr int64_t earliest = std::numeric_limits<int64_t>::min();
  RangeQuery q = parse_range_query(req(R"({"to":-9223372036854775807})"), now);
  CHECK(q.to == earliest + 1);
  CHECK(q.from == earliest);
  q = parse_range_query(req(R"({"to":-9223368436854775808})"), now);  // exactly an hour after the earliest
  CHECK(q.from == earliest);
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
  for (int i = 0; i < 20; ++i) cache.put("k" + std::to_string(i), std::string(900, 'x'), 1, cache.generation());
  CHECK(cache.bytes() <= 8000);
  CHECK(cache.entries() < 20);
  CHECK(cache.get("k19") != nullptr);
  QueryCache off(0, 1 << 20);
  off.put("k", "v", 1, off.generation());
  CHECK(off.entries() == 0);
}
