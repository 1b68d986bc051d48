// Raw queries answered partly from cached blocks (raw_blocks.hpp,
// raw_reader.cpp) must be byte for byte what reading SQLite gives: the
// reference is a read_only instance on the same file, which caches nothing.
// Late writes must drop the blocks they touch.
#include <cmath>
#include <random>

#include "../raw_blocks.hpp"
#include "../raw_reader.hpp"
#include "support.hpp"

using namespace test;

namespace {

std::string raw_query(const std::string &match, int64_t from, int64_t to) {
  return R"({"op":"query","method":"raw","match":")" + match + "\",\"from\":" + std::to_string(from) +
         ",\"to\":" + std::to_string(to) + "}";
}

}  // namespace

TEST_CASE("render_point writes what json::append_int and append_double write") {
  char buf[64];
  auto text = [&](int64_t ts, bool null, double v) {
    return std::string(buf, vitals::sqlite::render_point(buf, ts, null, v));
  };
  CHECK(text(1, false, 21.375) == "[1,21.375],");
  CHECK(text(-9223372036854775807 - 1, false, -1.7976931348623157e308) ==
        "[-9223372036854775808,-1.7976931348623157e+308],");
  CHECK(text(5, true, 0) == "[5,null],");
  CHECK(text(5, false, INFINITY) == "[5,null],");
  CHECK(text(5, false, 5e-324) == "[5,5e-324],");
}

TEST_CASE("raw queries from cached blocks equal reading SQLite, for any range") {
  vitals::testing::Host host;
  auto storage = host.create_started(vitals_plugin(), "flush_interval = \"1s\"");
  auto dense = host.intern("blk", {{"k", "dense"}}), sparse = host.intern("blk", {{"k", "sparse"}});
  // Three hours ending ten minutes ago: a dense series at odd nanoseconds
  // with NaNs, and a sparse one with empty blocks between its samples.
  const int64_t end = now_ns() - 10 * minute, start = end - 3 * hour;
  std::mt19937_64 rng(11);
  std::vector<Row> rows;
  for (int64_t ts = start; ts < end; ts += 997'000'123) {
    double v = static_cast<double>(rng() % 100000) / 64.0;
    rows.push_back({dense, ts, rng() % 50 == 0 ? NAN : v});
  }
  for (int64_t ts = start + 17 * second; ts < end; ts += 23 * minute) rows.push_back({sparse, ts, 1.0 * (ts % 1000)});
  for (size_t i = 0; i < rows.size(); i += 1000)
    REQUIRE(consume(storage,
                    std::vector<Row>(rows.begin() + static_cast<std::ptrdiff_t>(i),
                                     rows.begin() + static_cast<std::ptrdiff_t>(std::min(i + 1000, rows.size()))),
                    i + 1) == VITALS_PENDING);
  REQUIRE(storage.flush() == VITALS_OK);
  auto reference = host.create_started(vitals_plugin(), "read_only = true");

  // Overlapping ranges (as a refreshing chart asks), ranges cutting blocks
  // anywhere, ranges reaching into the still-open present, empty ones.
  std::uniform_int_distribution<int64_t> offset(-10 * minute, 3 * hour + 20 * minute);
  std::vector<std::pair<int64_t, int64_t>> ranges;
  for (int i = 0; i < 40; ++i) ranges.push_back({end - hour - i * 3 * second, end - i * 3 * second});
  for (int i = 0; i < 60; ++i) {
    int64_t a = start + offset(rng), b = start + offset(rng);
    ranges.push_back({std::min(a, b), std::max(a, b)});
  }
  ranges.push_back({start - day, now_ns() + minute});
  ranges.push_back({start + 10, start + 11});
  for (const char *match : {"blk", R"(blk{k=\"sparse\"})"}) {  // as JSON text
    for (auto [from, to] : ranges) check_same_reply(host, storage, reference, raw_query(match, from, to));
  }
  CHECK(query(host, storage, R"({"op":"stats"})")["raw_block_cache_bytes"].integer() > 0);
  CHECK(query(host, reference, R"({"op":"stats"})")["raw_block_cache_bytes"].integer() == 0);
}

TEST_CASE("a late write drops the cached blocks it touches, and the next raw query has it") {
  vitals::testing::Host host;
  auto storage = host.create_started(vitals_plugin());
  auto id = host.intern("late");
  const int64_t t = (now_ns() - 2 * hour) / hour * hour;
  std::vector<Row> rows;
  for (int64_t ts = t; ts < t + hour; ts += second) rows.push_back({id, ts, 1});
  REQUIRE(consume(storage, rows, 1) == VITALS_PENDING);
  REQUIRE(storage.flush() == VITALS_OK);
  auto points = [&](int64_t from, int64_t to) {
    return query(host, storage, raw_query("late", from, to))["series"][0]["points"];
  };
  REQUIRE(points(t, t + hour).size() == 3600);  // every block of the hour is cached now
  // A new value in the middle, and a new sample between two others.
  REQUIRE(consume(storage, {{id, t + 30 * minute, 2}, {id, t + 30 * minute + 1, 3}}, 2) == VITALS_PENDING);
  REQUIRE(storage.flush() == VITALS_OK);
  // A different range (no whole-reply cache hit) over the same blocks.
  auto after = points(t + 1, t + hour);
  REQUIRE(after.size() == 3600);
  CHECK(after[1799][0].integer() == t + 30 * minute);
  CHECK(after[1799][1].number() == 2);
  CHECK(after[1800][0].integer() == t + 30 * minute + 1);
  CHECK(after[1800][1].number() == 3);
}

TEST_CASE("the raw sample limit holds whether the points come from cached blocks or SQLite") {
  vitals::testing::Host host;
  auto storage = host.create_started(vitals_plugin());
  auto a = host.intern("lim", {{"n", "a"}}), b = host.intern("lim", {{"n", "b"}});
  // 2 x 500,000 samples, 10 ms apart: exactly the 1,000,000 a raw reply may hold.
  const int64_t t = (now_ns() - 3 * hour) / minute * minute, step = 10'000'000;
  for (int64_t i = 0; i < 500'000; i += 10'000) {
    std::vector<Row> rows;
    for (int64_t k = i; k < i + 10'000; ++k) rows.push_back({a, t + k * step, 1}), rows.push_back({b, t + k * step, 2});
    REQUIRE(consume(storage, rows, static_cast<uintptr_t>(i + 1)) == VITALS_PENDING);
  }
  REQUIRE(storage.flush() == VITALS_OK);
  const int64_t last = t + 499'999 * step;
  for (int round = 0; round < 2; ++round) {  // SQLite first, then the blocks the first round cached
    CAPTURE(round);
    auto [code, body] = host.query(storage, raw_query("lim", t, last + round));
    CHECK(code == 200);
    CHECK(body.size() > 1'000'000 * 10);
  }
  REQUIRE(consume(storage, {{a, t + step / 2, 3}}, 99) == VITALS_PENDING);  // one more, late
  REQUIRE(storage.flush() == VITALS_OK);
  for (int round = 0; round < 2; ++round) {
    CAPTURE(round);
    auto [code, body] = host.query(storage, raw_query("lim", t, last + 2 + round));
    CHECK(code == 400);
    CHECK(body.find("more than 1000000 raw samples") != std::string::npos);
  }
}
