// The v3 tables (v3_store.hpp) on a real SQLite file, against a model: a
// map per series written in commit order, the last write of a timestamp
// winning. Commits with late, duplicate, future and far-future samples are
// interleaved with seals at an advancing clock; reads of any range must
// equal the model throughout, and each window's rollups the buckets of the
// model's samples in it.
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <filesystem>
#include <limits>
#include <map>
#include <random>
#include <string>

#include "../compaction.hpp"
#include "../compactor.hpp"
#include "../head_index.hpp"
#include "../rollup_codec.hpp"
#include "../schema.hpp"
#include "../tier.hpp"
#include "../v3_store.hpp"
#include "samples_support.hpp"

namespace fs = std::filesystem;
using namespace vitals::sqlite;

namespace {

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kMinute = 60'000'000'000;
constexpr int64_t kHour = 60 * kMinute;
constexpr int64_t kT0 = 1'796'000'000'000'000'000 / kHour * kHour;  // an hour in late 2026

using Model = std::map<int64_t, std::map<int64_t, double>>;  // series -> ts -> value

struct TempDb {
  fs::path path;
  Database db;
  TempDb() {
    static int n = 0;
    path = fs::temp_directory_path() / ("vitals-v3-store-" + std::to_string(::getpid()) + "-" + std::to_string(++n));
    fs::remove(path);
    db = Database(path.string(), Database::Open::create);
    vitals::sqlite::migrate(db);
  }
  ~TempDb() {
    db = Database();
    fs::remove(path);
  }
};

chunk::Samples model_range(const Model &model, int64_t series, int64_t from, int64_t to) {
  chunk::Samples out;
  auto it = model.find(series);
  if (it == model.end()) return out;
  for (auto p = it->second.lower_bound(from); p != it->second.end() && p->first <= to; ++p) {
    out.ts.push_back(p->first);
    out.values.push_back(p->second);
  }
  return out;
}

int64_t head_rows(Database &db) { return *db.query_int("SELECT count(*) FROM head"); }

void check_reads(Database &db, const Model &model, std::mt19937_64 &rng, const v3::Options &options) {
  const int64_t lo = std::numeric_limits<int64_t>::min(), hi = std::numeric_limits<int64_t>::max();
  for (const auto &[series, samples] : model) {
    INFO("series " << series);
    CHECK(test::same_samples(v3::read(db, series, lo, hi, options), model_range(model, series, lo, hi)));
    for (int i = 0; i < 5; ++i) {
      int64_t from = kT0 + static_cast<int64_t>(rng() % 40) * 15 * kMinute - 10 * kHour;
      int64_t to = from + static_cast<int64_t>(rng() % 20) * 17 * kMinute;
      CHECK(test::same_samples(v3::read(db, series, from, to, options), model_range(model, series, from, to)));
    }
  }
}

// Every stored rollup is the buckets of the model's samples in its window,
// and a window has a minute rollup exactly when minute_rollup_pays.
void check_rollups(Database &db, const Model &model, const v3::Options &options) {
  auto rollups = db.prepare("SELECT tier, series, start, data FROM rollup_chunks");
  while (rollups.step()) {
    const auto tier = static_cast<v3::RollupTier>(rollups.column_int(0));
    const int64_t series = rollups.column_int(1), start = rollups.column_int(2);
    std::vector<compaction::Bucket> buckets;
    std::string error;
    REQUIRE_MESSAGE(rollup_chunk::decode(rollups.column_blob(3), buckets, error), error);
    const auto want = compaction::rollup(model_range(model, series, start, start + options.span_ns - 1),
                                         tier == v3::RollupTier::minute ? minute_ns : hour_ns);
    CHECK(buckets == want);
  }
  auto windows = db.prepare("SELECT series, start, n FROM chunks");
  auto minute = db.prepare("SELECT count(*) FROM rollup_chunks WHERE tier = 1 AND series = ? AND start = ?");
  while (windows.step()) {
    const int64_t series = windows.column_int(0), start = windows.column_int(1);
    const auto samples = model_range(model, series, start, start + options.span_ns - 1);
    CHECK(windows.column_int(2) == static_cast<int64_t>(samples.ts.size()));
    minute.bind(1, series).bind(2, start);
    REQUIRE(minute.step());
    CHECK(minute.column_int(0) ==
          (v3::minute_rollup_pays(samples.ts.size(), compaction::rollup(samples, minute_ns).size()) ? 1 : 0));
    minute.reset();
  }
}

}  // namespace

TEST_CASE("v3 store: random commits and seals read back as the model, with exact rollups") {
  TempDb t;
  v3::Options options;
  std::mt19937_64 rng(31);
  Model model;
  int64_t now = kT0 + 17 * kMinute;
  int64_t sealed_rows = 0;
  for (int step = 0; step < 300; ++step) {
    head::Rows commit;
    const int n = 1 + static_cast<int>(rng() % 40);
    for (int i = 0; i < n; ++i) {
      const int64_t series = 1 + static_cast<int64_t>(rng() % 5);
      int64_t ts = now - static_cast<int64_t>(rng() % (30 * kMinute));               // recent
      if (rng() % 10 == 0) ts = now - static_cast<int64_t>(rng() % (10 * kHour));    // late
      if (rng() % 20 == 0) ts = now + static_cast<int64_t>(rng() % (30 * kMinute));  // a little ahead
      if (rng() % 200 == 0) ts = now + 5 * kHour;                                    // a clock far ahead
      ts -= ts % 1000;  // whole microseconds: repeats of a timestamp happen
      const double value = static_cast<double>(static_cast<int64_t>(rng() % 20000) - 10000) / 100;
      commit.add(series, ts, value);
      model[series][ts] = value;  // the last write of a timestamp wins
    }
    v3::append_head(t.db, commit, options);
    if (step % 10 == 9) {
      sealed_rows += v3::seal(t.db, now, options).head_rows;
      check_reads(t.db, model, rng, options);
    }
    now += static_cast<int64_t>(rng() % (5 * kMinute));
  }
  CHECK(sealed_rows > 0);
  CHECK(head_rows(t.db) > 0);  // the open window's rows wait for it to close
  // Once the clock is past every window, everything is sealed.
  auto stats = v3::seal(t.db, now + 10 * kHour, options);
  CHECK(stats.head_rows > 0);
  CHECK(head_rows(t.db) == 0);
  check_reads(t.db, model, rng, options);

  check_rollups(t.db, model, options);
  // Sparse commits: no window here has minutes dense enough for its own
  // minute rollup; every one has its hourly one.
  CHECK(*t.db.query_int("SELECT count(*) FROM rollup_chunks WHERE tier = 1") == 0);
  CHECK(*t.db.query_int("SELECT count(*) FROM rollup_chunks WHERE tier = 2") ==
        *t.db.query_int("SELECT count(*) FROM chunks"));
}

TEST_CASE("v3 store: a series at 1 Hz gets exact minute rollups, also after late writes") {
  TempDb t;
  v3::Options options;
  Model model;
  std::mt19937_64 rng(5);
  const int64_t second = 1'000'000'000;
  // Five hours at 1 Hz, committed a minute at a time, then late rewrites.
  for (int64_t minute = 0; minute < 300; ++minute) {
    head::Rows commit;
    for (int64_t s = 0; s < 60; ++s) {
      const int64_t ts = kT0 + (minute * 60 + s) * second;
      const double v = static_cast<double>(rng() % 10'000) / 100;
      commit.add(9, ts, v);
      model[9][ts] = v;
    }
    v3::append_head(t.db, commit, options);
  }
  v3::seal(t.db, kT0 + 4 * kHour, options);
  head::Rows late;
  for (int i = 0; i < 50; ++i) {
    const int64_t ts = kT0 + static_cast<int64_t>(rng() % (5 * 3600)) * second;
    late.add(9, ts, -1.0 * i);
    model[9][ts] = -1.0 * i;
  }
  v3::append_head(t.db, late, options);
  v3::seal(t.db, kT0 + 10 * kHour, options);
  CHECK(test::same_samples(v3::read(t.db, 9, kT0, kT0 + 5 * kHour, options),
                           model_range(model, 9, kT0, kT0 + 5 * kHour)));
  check_rollups(t.db, model, options);
  CHECK(*t.db.query_int("SELECT count(*) FROM rollup_chunks WHERE tier = 1") ==
        *t.db.query_int("SELECT count(*) FROM chunks"));
}

TEST_CASE("v3 store: a head row waiting for the open window holds back the rows after it") {
  // Row 1 has a sample in the open window, and an old one; row 2, all old,
  // writes that old timestamp again. Row 2 must not be sealed before row 1,
  // or sealing row 1 later would put its older value back over row 2's.
  TempDb t;
  v3::Options options;
  const int64_t now = kT0 + 30 * kMinute;  // in the open window; five hours back is a closed one
  const int64_t old_ts = now - 5 * kHour;
  head::Rows first, second;
  first.add(1, old_ts, 1.0);
  first.add(1, now - kMinute, 2.0);
  second.add(1, old_ts, 3.0);
  v3::append_head(t.db, first, options);
  v3::append_head(t.db, second, options);
  CHECK(v3::seal(t.db, now, options).head_rows == 0);
  CHECK(v3::read(t.db, 1, old_ts, old_ts, options).values == std::vector<double>{3.0});
  CHECK(v3::seal(t.db, now + options.span_ns, options).head_rows == 2);
  CHECK(v3::read(t.db, 1, old_ts, old_ts, options).values == std::vector<double>{3.0});
  CHECK(v3::read(t.db, 1, now - kMinute, now - kMinute, options).values == std::vector<double>{2.0});
}

TEST_CASE("v3 store: a row from a clock far ahead is sealed at once; the span must be whole hours") {
  TempDb t;
  v3::Options options;
  const int64_t now = kT0;
  head::Rows ahead;
  ahead.add(4, now + 3 * kHour, 7.0);
  v3::append_head(t.db, ahead, options);
  CHECK(v3::seal(t.db, now, options).head_rows == 1);
  CHECK(head_rows(t.db) == 0);
  CHECK(v3::read(t.db, 4, now, now + 4 * kHour, options).values == std::vector<double>{7.0});
  v3::Options odd;
  odd.span_ns = 90 * kMinute;
  CHECK_THROWS_AS(v3::seal(t.db, now, odd), std::invalid_argument);
}

TEST_CASE("v3 compactor: a head over its bound is sealed down, open window included, reads unchanged") {
  TempDb t;
  v3::Options options;
  HeadIndex head;
  Counters counters;
  Compactor compactor(t.db, head, options, counters);
  compactor.head_limit_samples = 200;
  compactor.samples_per_transaction = 50;
  compactor.seal_after = std::chrono::hours(1);  // nothing is sealed for its age
  const int64_t now = kT0 + 30 * kMinute;        // every sample below is in the open window
  Model model;
  for (int commit = 0; commit < 20; ++commit) {
    head::Rows rows;
    for (int i = 0; i < 30; ++i) {
      const int64_t series = 1 + i % 3;
      const int64_t ts = kT0 + (commit * 10 + i / 3) * kSecond;
      const double value = commit * 100 + i;
      rows.add(series, ts, value);
      model[series][ts] = value;
    }
    const int64_t seq = v3::append_head(t.db, rows, options);
    head.add(rows, seq);
    compactor.track({seq, *std::max_element(rows.ts.begin(), rows.ts.end())});
    compactor.run(now, std::chrono::nanoseconds(0));
    CHECK(head.size() <= compactor.head_limit_samples);
  }
  CHECK(counters.head_rows_sealed.load() > 0);
  CHECK(head_rows(t.db) > 0);  // under the bound, the open window's rows wait
  std::mt19937_64 rng(5);
  check_reads(t.db, model, rng, options);
  // A later write of a sealed timestamp still wins once it is sealed too.
  head::Rows again;
  again.add(1, kT0, -1.0);
  model[1][kT0] = -1.0;
  const int64_t seq = v3::append_head(t.db, again, options);
  head.add(again, seq);
  compactor.track({seq, kT0});
  v3::seal(t.db, now + 10 * kHour, options);
  check_reads(t.db, model, rng, options);
}
