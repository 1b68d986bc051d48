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
#include <tuple>
#include <vector>

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

// Finalizes every pending window, as the compactor does once they are
// quiet, and retires the seals it merged unless told not to (their partial
// chunks then stay, held by the chunks, for reads to skip).
void finalize_all(Database &db, const v3::Options &options, bool retire = true) {
  Transaction tx(db);
  for (const v3::Window &w : v3::pending_windows(db)) v3::finalize(db, w, options);
  if (retire) v3::forget_finalized_seals(db);
  tx.commit();
}

// A chunk per (series, window), keyed by the window's start and holding n
// samples, all in it; partial chunks likewise in their window, and each
// seal with partial chunks recorded.
void check_chunks(Database &db, const v3::Options &options) {
  for (const char *table : {"chunks", "partial_chunks"}) {
    auto chunks = db.prepare(std::string("SELECT series, start, n, data FROM ") + table);
    while (chunks.step()) {
      const int64_t series = chunks.column_int(0), start = chunks.column_int(1);
      const chunk::Samples held = v3::decode_chunk(chunks.column_blob(3), series, start);
      INFO(table << ": series " << series << " at " << start);
      REQUIRE(!held.ts.empty());
      CHECK(bucket_start(start, options.span_ns) == start);
      CHECK(chunks.column_int(2) == static_cast<int64_t>(held.ts.size()));
      CHECK(bucket_start(held.ts.front(), options.span_ns) == start);
      CHECK(bucket_start(held.ts.back(), options.span_ns) == start);
    }
  }
  CHECK(*db.query_int("SELECT count(*) FROM partial_chunks WHERE seal NOT IN (SELECT seal FROM seals)") == 0);
}

// Every stored rollup of a window not pending is the buckets of the model's
// samples in it, and a window not pending has a minute rollup exactly when
// minute_rollup_pays, and its hours stored (in its own row or its day's).
// A day row holds the hours of windows starting that day only.
void check_rollups(Database &db, const Model &model, const v3::Options &options) {
  auto rollups = db.prepare("SELECT tier, series, start, data FROM rollup_chunks");
  auto is_pending = [&](int64_t series, int64_t start) { return v3::is_pending(db, {series, start}); };
  while (rollups.step()) {
    const auto tier = static_cast<v3::RollupTier>(rollups.column_int(0));
    const int64_t series = rollups.column_int(1), start = rollups.column_int(2);
    std::vector<compaction::Bucket> buckets;
    std::string error;
    REQUIRE_MESSAGE(rollup_chunk::decode(rollups.column_blob(3), buckets, error), error);
    if (tier == v3::RollupTier::day) {
      CHECK(v3::day_of(start) == start);
      for (const auto &b : buckets) CHECK(v3::day_of(bucket_start(b.start, options.span_ns)) == start);
      continue;  // its windows' hours are checked below, as read
    }
    if (is_pending(series, start)) continue;  // stored before the partial chunks: read past
    const auto want = compaction::rollup(model_range(model, series, start, start + options.span_ns - 1),
                                         tier == v3::RollupTier::minute ? minute_ns : hour_ns);
    CHECK(buckets == want);
  }
  auto windows = db.prepare("SELECT series, start, n FROM chunks");
  auto minute = db.prepare("SELECT count(*) FROM rollup_chunks WHERE tier = 1 AND series = ? AND start = ?");
  while (windows.step()) {
    const int64_t series = windows.column_int(0), start = windows.column_int(1);
    if (is_pending(series, start)) continue;
    const auto samples = model_range(model, series, start, start + options.span_ns - 1);
    CHECK(windows.column_int(2) == static_cast<int64_t>(samples.ts.size()));
    minute.bind(1, series).bind(2, start);
    REQUIRE(minute.step());
    CHECK(minute.column_int(0) ==
          (v3::minute_rollup_pays(samples.ts.size(), compaction::rollup(samples, minute_ns).size()) ? 1 : 0));
    minute.reset();
    const auto hours = v3::stored_rollup(db, v3::RollupTier::hour, series, start, options);
    REQUIRE(hours.has_value());
    CHECK(*hours == compaction::rollup(samples, hour_ns));
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
      check_chunks(t.db, options);
      if (step % 30 == 29) {  // and then written again
        finalize_all(t.db, options, step % 60 == 59);
        check_reads(t.db, model, rng, options);
      }
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
  finalize_all(t.db, options);
  CHECK(*t.db.query_int("SELECT count(*) FROM partial_chunks") == 0);
  CHECK(*t.db.query_int("SELECT count(*) FROM seals") == 0);
  check_reads(t.db, model, rng, options);
  check_chunks(t.db, options);
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
  check_chunks(t.db, options);
  finalize_all(t.db, options);
  check_chunks(t.db, options);
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

namespace {

// One series' samples at 1 Hz from `from` seconds past kT0, a head row of
// `count`, sealed at once (its window long closed at `now`).
void write_and_seal(Database &db, int64_t series, int64_t from, int64_t count, Model &model, const v3::Options &options,
                    int64_t now = kT0 + 30 * kHour) {
  head::Rows rows;
  for (int64_t i = from; i < from + count; ++i) {
    const double value = static_cast<double>(i % 97) / 4;
    rows.add(series, kT0 + i * kSecond, value);
    model[series][kT0 + i * kSecond] = value;
  }
  v3::append_head(db, rows, options);
  v3::seal(db, now, options);
}

std::vector<int64_t> chunk_ids(Database &db) {
  std::vector<int64_t> out;
  auto ids = db.prepare("SELECT id FROM chunks ORDER BY start");
  while (ids.step()) out.push_back(ids.column_int(0));
  return out;
}

}  // namespace

TEST_CASE("v3 store: seals append partial chunks; finalizing makes a window's one chunk with exact rollups") {
  TempDb t;
  v3::Options options;
  Model model;
  for (int seal = 0; seal < 10; ++seal) write_and_seal(t.db, 1, seal * 100, 100, model, options);
  // Each seal wrote its 100 samples, not the window's so far.
  CHECK(*t.db.query_int("SELECT count(*) FROM partial_chunks") == 10);
  CHECK(*t.db.query_int("SELECT sum(n) FROM partial_chunks") == 1000);
  CHECK(*t.db.query_int("SELECT count(*) FROM seals") == 10);
  CHECK(*t.db.query_int("SELECT count(*) FROM chunks") == 0);
  CHECK(*t.db.query_int("SELECT count(*) FROM rollup_chunks") == 0);
  CHECK(v3::pending_windows(t.db).size() == 1);
  std::mt19937_64 rng(1);
  check_chunks(t.db, options);
  check_reads(t.db, model, rng, options);

  {
    Transaction tx(t.db);
    const v3::Finalized f = v3::finalize(t.db, v3::pending_windows(t.db).front(), options);
    CHECK(f.samples == 1000);
    CHECK(f.stored_delta == 0);
    v3::forget_finalized_seals(t.db);
    tx.commit();
  }
  CHECK(*t.db.query_int("SELECT count(*) FROM chunks") == 1);
  CHECK(*t.db.query_int("SELECT count(*) FROM partial_chunks") == 0);
  CHECK(*t.db.query_int("SELECT count(*) FROM seals") == 0);
  CHECK(*t.db.query_int("SELECT count(*) FROM rollup_chunks") == 2);  // 1 Hz: the minutes pay
  check_chunks(t.db, options);
  check_rollups(t.db, model, options);
  check_reads(t.db, model, rng, options);

  // A later write to the window is a partial chunk again; until it is
  // finalized, reads lay it over the chunk and compute the rollups.
  write_and_seal(t.db, 1, 1000, 10, model, options);
  CHECK(*t.db.query_int("SELECT count(*) FROM partial_chunks") == 1);
  check_reads(t.db, model, rng, options);
  finalize_all(t.db, options);
  check_rollups(t.db, model, options);
  check_reads(t.db, model, rng, options);
}

TEST_CASE("v3 store: merged partial chunks stay until their seal is all merged, and reads skip them") {
  TempDb t;
  v3::Options options;
  Model model;
  const int64_t now = kT0 + 30 * kHour, x = kT0 + 10 * kSecond, z = kT0 + 20 * kSecond;
  auto seal_rows = [&](std::vector<std::tuple<int64_t, int64_t, double>> samples) {
    head::Rows rows;
    for (auto [series, ts, value] : samples) {
      rows.add(series, ts, value);
      model[series][ts] = value;
    }
    v3::append_head(t.db, rows, options);
    return v3::seal(t.db, now, options).seal;
  };
  auto finalize = [&](int64_t series) {
    Transaction tx(t.db);
    const v3::Finalized f = v3::finalize(t.db, {series, kT0}, options);
    tx.commit();
    return f.seals;
  };
  const int64_t first = seal_rows({{1, x, 1.0}, {2, z, 5.0}});
  CHECK(finalize(1) == std::vector<int64_t>{first});
  const int64_t second = seal_rows({{1, x, 2.0}});
  CHECK(finalize(1) == std::vector<int64_t>{second});  // the first seal's is in the chunk already
  {
    Transaction tx(t.db);
    CHECK(v3::retire_seal(t.db, second));
    CHECK_FALSE(v3::retire_seal(t.db, first));  // series 2 is not merged
    tx.commit();
  }
  CHECK(*t.db.query_int("SELECT count(*) FROM partial_chunks") == 2);  // the first seal's, both
  // The chunk holds x = 2; the first seal's x = 1, still stored, is not laid over it.
  std::mt19937_64 rng(5);
  check_reads(t.db, model, rng, options);
  v3::ChunkReader reader(t.db, options);
  chunk::Samples read;
  reader.samples(1, kT0, kT0 + kHour, read);
  CHECK(test::same_samples(read, model_range(model, 1, kT0, kT0 + kHour)));
  CHECK(reader.windows(1, kT0, kT0 + kHour).pending.empty());
  CHECK(reader.windows(1, kT0, kT0 + kHour, false).pending.empty());
  CHECK(reader.windows(2, kT0, kT0 + kHour, false).pending == std::vector<int64_t>{kT0});
  CHECK(v3::pending_windows(t.db) == std::vector<v3::Window>{{2, kT0}});
  CHECK_FALSE(v3::is_pending(t.db, {1, kT0}));
  CHECK(v3::has_partials(t.db, {1, kT0}));  // retention waits for the seal to go
  CHECK(v3::unmerged_samples(t.db) == 1);
  CHECK(v3::unmerged_by_seal(t.db) == std::map<int64_t, int64_t>{{first, 1}});
  CHECK(v3::newest_sealed(t.db, 2).at(1) == std::pair<int64_t, double>{x, 2.0});
  CHECK(finalize(2) == std::vector<int64_t>{first});
  {
    Transaction tx(t.db);
    CHECK(v3::retire_seal(t.db, first));
    tx.commit();
  }
  CHECK(*t.db.query_int("SELECT count(*) FROM partial_chunks") == 0);
  CHECK(*t.db.query_int("SELECT count(*) FROM seals") == 0);
  check_reads(t.db, model, rng, options);
}

TEST_CASE("v3 store: retention drops a finalized window and its merged partial chunks while its seal waits") {
  TempDb t;
  v3::Options options;
  const int64_t window = bucket_start(kT0, options.span_ns);
  head::Rows rows;
  for (int64_t series : {1, 2})
    for (int i = 0; i < 10; ++i) rows.add(series, kT0 + i * kSecond, static_cast<double>(series * 10 + i));
  v3::append_head(t.db, rows, options);
  v3::seal(t.db, kT0 + 30 * kHour, options);
  {
    // Series 1's window is finalized; series 2's is not (as if it could not
    // be), so the seal keeps its rows.
    Transaction tx(t.db);
    v3::finalize(t.db, {1, window}, options);
    tx.commit();
  }
  Transaction tx(t.db);
  const v3::Expired expired = v3::expire_chunks(t.db, kT0 + 3 * options.span_ns, 100, options);
  tx.commit();
  CHECK(expired.chunks == 1);  // series 1's, not kept back by the seal
  CHECK(expired.samples == 10);
  CHECK(*t.db.query_int("SELECT count(*) FROM partial_chunks WHERE series = 1") == 0);
  // Nothing of series 1 comes back from the partial chunk its chunk held.
  CHECK(v3::read(t.db, 1, kT0, kT0 + kHour, options).ts.empty());
  CHECK(v3::pending_windows(t.db) == std::vector<v3::Window>{{2, window}});
  CHECK(v3::unmerged_samples(t.db) == 10);
  CHECK(v3::read(t.db, 2, kT0, kT0 + kHour, options).ts.size() == 10);
}

TEST_CASE("v3 store: a seal never rewrites a chunk; later seals win over earlier ones and over the chunk") {
  TempDb t;
  v3::Options options;
  Model model;
  write_and_seal(t.db, 1, 0, 300, model, options);
  finalize_all(t.db, options);
  const auto before = chunk_ids(t.db);
  REQUIRE(before.size() == 1);
  // Interleaved and late writes over the chunk and over each other.
  for (int round = 0; round < 3; ++round) {
    head::Rows late;
    for (int64_t i : {10, 150, 299, 300 + round}) {
      const double value = -100.0 * round - static_cast<double>(i);
      late.add(1, kT0 + i * kSecond, value);
      model[1][kT0 + i * kSecond] = value;
    }
    v3::append_head(t.db, late, options);
    const auto stats = v3::seal(t.db, kT0 + 30 * kHour, options);
    CHECK(stats.chunks == 1);
    CHECK(chunk_ids(t.db) == before);
  }
  std::mt19937_64 rng(2);
  check_chunks(t.db, options);
  check_reads(t.db, model, rng, options);
  CHECK(v3::read(t.db, 1, kT0 + 150 * kSecond, kT0 + 150 * kSecond, options).values == std::vector<double>{-350.0});
  {
    Transaction tx(t.db);
    const v3::Finalized f = v3::finalize(t.db, {1, bucket_start(kT0, options.span_ns)}, options);
    CHECK(f.samples == 303);
    CHECK(f.stored_delta == -9);  // three rounds rewrote three samples each
    tx.commit();
  }
  check_reads(t.db, model, rng, options);
  check_rollups(t.db, model, options);
}

TEST_CASE("v3 store: a write into a window retention emptied of raw samples adds to its rollups") {
  // A very late write (a device's spool replayed after a month) into a
  // window whose chunks retention dropped and whose rollups it kept: the
  // rollups must hold the old samples and the late one, not the late one
  // alone (which rewriting them from the window's raw samples gave).
  TempDb t;
  v3::Options options;
  options.raw_retention_ns = 24 * kHour;
  Model model;
  write_and_seal(t.db, 1, 0, 3600, model, options, kT0 + 3 * kHour);
  finalize_all(t.db, options);
  const int64_t later = kT0 + 40 * kHour;  // the window ended 38 h ago: past retention
  CHECK(v3::expire_chunks(t.db, later - options.raw_retention_ns, 1000, options).samples == 3600);
  CHECK(*t.db.query_int("SELECT count(*) FROM chunks") == 0);
  CHECK(*t.db.query_int("SELECT count(*) FROM rollup_chunks") == 2);

  head::Rows late;
  late.add(1, kT0 + 10 * kSecond + 1, 1000.0);  // a new timestamp in the first minute
  model[1][kT0 + 10 * kSecond + 1] = 1000.0;
  v3::append_head(t.db, late, options);
  v3::seal(t.db, later, options);
  CHECK(*t.db.query_int("SELECT count(*) FROM chunks") == 0);  // raw past retention is not kept
  CHECK(*t.db.query_int("SELECT count(*) FROM partial_chunks") == 0);
  check_rollups(t.db, model, options);

  // Retention raised since (or the clock stepped back): a late write there
  // is kept raw again, and finalizing adds it to the rollups instead of
  // recomputing them from the one sample the window's chunk now holds.
  v3::Options longer = options;
  longer.raw_retention_ns = 0;
  head::Rows again;
  again.add(1, kT0 + 70 * kSecond + 1, -50.0);
  model[1][kT0 + 70 * kSecond + 1] = -50.0;
  v3::append_head(t.db, again, longer);
  v3::seal(t.db, later, longer);
  CHECK(*t.db.query_int("SELECT count(*) FROM partial_chunks") == 1);
  finalize_all(t.db, longer);
  CHECK(*t.db.query_int("SELECT sum(n) FROM chunks") == 1);
  for (auto [tier, width] : {std::pair<int64_t, int64_t>{1, minute_ns}, std::pair<int64_t, int64_t>{2, hour_ns}}) {
    INFO("tier " << tier);
    auto stored = t.db.prepare("SELECT data FROM rollup_chunks WHERE tier = ?1 AND series = 1");
    stored.bind(1, tier);
    REQUIRE(stored.step());
    std::vector<compaction::Bucket> buckets;
    std::string error;
    REQUIRE_MESSAGE(rollup_chunk::decode(stored.column_blob(0), buckets, error), error);
    CHECK(buckets == compaction::rollup(model_range(model, 1, kT0, kT0 + options.span_ns - 1), width));
  }
}

TEST_CASE("v3 compactor: pending windows are finalized once ended and quiet, also after a restart") {
  TempDb t;
  v3::Options options;
  HeadIndex head;
  Counters counters;
  Model model;
  auto compactor = std::make_unique<Compactor>(t.db, head, options, counters);
  compactor->seal_after = std::chrono::hours(1);
  compactor->seal_after_samples = 1;  // every row is sealed at once
  const int64_t now = kT0 + 30 * kHour;
  auto commit = [&](int64_t from, int64_t count) {
    head::Rows rows;
    for (int64_t i = from; i < from + count; ++i) {
      rows.add(3, kT0 + i * kSecond, static_cast<double>(i));
      model[3][kT0 + i * kSecond] = static_cast<double>(i);
    }
    const int64_t seq = v3::append_head(t.db, rows, options);
    head.add(rows, seq);
    compactor->track({seq, rows.ts.back()});
  };
  commit(0, 50);
  compactor->run(now, std::chrono::seconds(1));
  commit(50, 50);
  compactor->run(now, std::chrono::seconds(1));
  CHECK(*t.db.query_int("SELECT count(*) FROM partial_chunks") == 2);
  CHECK(counters.windows_pending.load() == 1);
  // Written a moment ago: not quiet yet.
  compactor->run(now + kMinute, std::chrono::seconds(1));
  CHECK(counters.windows_finalized.load() == 0);
  auto due = compactor->next_due(now);
  REQUIRE(due.has_value());
  CHECK(*due > std::chrono::steady_clock::now() + std::chrono::minutes(59));

  // A restart: the pending window is found again, and as it waited across
  // the restart, the next run finalizes it.
  compactor = std::make_unique<Compactor>(t.db, head, options, counters);
  // At the start, days of hourly rollups may wait to be gathered: due now.
  const auto gathering_due = compactor->next_due(now);
  REQUIRE(gathering_due.has_value());
  CHECK(*gathering_due <= std::chrono::steady_clock::now());
  counters.windows_pending = 0;
  for (const auto &w : v3::pending_windows(t.db)) compactor->track_pending(w, now);
  CHECK(counters.windows_pending.load() == 1);
  compactor->run(now, std::chrono::seconds(1));
  CHECK(counters.windows_finalized.load() == 1);
  CHECK(counters.windows_pending.load() == 0);
  CHECK(*t.db.query_int("SELECT count(*) FROM chunks") == 1);
  CHECK(*t.db.query_int("SELECT count(*) FROM partial_chunks") == 0);
  // Its day ended (and has no pending window now): its hours are gathered.
  CHECK(*t.db.query_int("SELECT count(*) FROM rollup_chunks WHERE tier = 2") == 0);
  CHECK(*t.db.query_int("SELECT count(*) FROM rollup_chunks WHERE tier = 3") == 1);
  check_rollups(t.db, model, options);
  // Nothing left to do but gather the day in progress once it ends.
  const auto next = compactor->next_due(now);
  REQUIRE(next.has_value());
  const auto day_end = std::chrono::nanoseconds(v3::day_of(now) + v3::kDayNs - now);
  CHECK(*next - std::chrono::steady_clock::now() > day_end - std::chrono::seconds(5));
  CHECK(*next - std::chrono::steady_clock::now() <= day_end);
}

TEST_CASE("v3 store: a day's hourly rollups are gathered into a day row, read as before; a late write reads over it") {
  TempDb t;
  v3::Options options;
  Model model;
  const int64_t day = v3::day_of(kT0);
  const int64_t first = (day - kT0) / kSecond;  // the day's first second, from kT0
  // Two series over the whole day and into the next, a sample a minute.
  for (int64_t series : {4, 5}) {
    head::Rows rows;
    for (int64_t s = first; s < first + (24 + 3) * 3600; s += 60) {
      const double value = static_cast<double>((s / 60 + series) % 89) / 8;
      rows.add(series, kT0 + s * kSecond, value);
      model[series][kT0 + s * kSecond] = value;
    }
    v3::append_head(t.db, rows, options);
  }
  const int64_t now = day + 3 * v3::kDayNs;
  v3::seal(t.db, now, options);
  finalize_all(t.db, options);
  const int64_t windows_per_day = v3::kDayNs / options.span_ns;
  CHECK(*t.db.query_int("SELECT count(*) FROM rollup_chunks WHERE tier = 2") == 2 * (windows_per_day + 2));
  check_rollups(t.db, model, options);
  v3::ChunkReader reader(t.db, options);
  auto hours_of = [&](int64_t series) { return reader.rollups(v3::RollupTier::hour, series, day - kHour, now); };
  auto model_hours = [&](int64_t series) {
    std::vector<std::pair<int64_t, std::vector<compaction::Bucket>>> out;
    for (int64_t w = day; w < now; w += options.span_ns) {
      const auto buckets = compaction::rollup(model_range(model, series, w, w + options.span_ns - 1), hour_ns);
      if (!buckets.empty()) out.emplace_back(w, buckets);
    }
    return out;
  };
  CHECK(hours_of(4) == model_hours(4));

  // The day is due (the next one too, but not the day `now` is in). One
  // series a turn here: two turns.
  REQUIRE(v3::next_day_to_gather(t.db, std::numeric_limits<int64_t>::min(), v3::day_of(now)) == day);
  {
    Transaction tx(t.db);
    std::vector<int64_t> turns;
    for (std::optional<int64_t> next = std::numeric_limits<int64_t>::min(); next;) {
      next = v3::compact_day(t.db, day, *next, 1, options);
      turns.push_back(next.value_or(0));
    }
    CHECK(turns == std::vector<int64_t>{5, 0});
    tx.commit();
  }
  CHECK(*t.db.query_int("SELECT count(*) FROM rollup_chunks WHERE tier = 3") == 2);
  CHECK(*t.db.query_int("SELECT count(*) FROM rollup_chunks WHERE tier = 2") == 2 * 2);  // the next day's
  CHECK(v3::next_day_to_gather(t.db, std::numeric_limits<int64_t>::min(), v3::day_of(now)) == day + v3::kDayNs);
  check_rollups(t.db, model, options);
  CHECK(hours_of(4) == model_hours(4));
  CHECK(hours_of(5) == model_hours(5));
  // A range starting inside the day reads from its first window on.
  CHECK(reader.rollups(v3::RollupTier::hour, 4, day + 5 * kHour, day + 9 * kHour).size() == 3);

  // A late write into the gathered day: its window's row again, read over
  // the day row's hours, until the day is gathered again.
  const int64_t late = day + 7 * kHour + 30 * kSecond;
  {
    head::Rows rows;
    rows.add(4, late, 1000.0);
    rows.add(4, day + 7 * kHour, -1000.0);  // over a sample stored
    for (int64_t ts : {late, day + 7 * kHour}) model[4][ts] = ts == late ? 1000.0 : -1000.0;
    v3::append_head(t.db, rows, options);
    v3::seal(t.db, now, options);
    finalize_all(t.db, options);
  }
  CHECK(*t.db.query_int("SELECT count(*) FROM rollup_chunks WHERE tier = 2 AND start < " +
                        std::to_string(day + v3::kDayNs)) == 1);
  CHECK(hours_of(4) == model_hours(4));
  check_rollups(t.db, model, options);
  {
    Transaction tx(t.db);
    CHECK_FALSE(v3::compact_day(t.db, day, std::numeric_limits<int64_t>::min(), 100, options).has_value());
    tx.commit();
  }
  CHECK(*t.db.query_int("SELECT count(*) FROM rollup_chunks WHERE tier = 2 AND start < " +
                        std::to_string(day + v3::kDayNs)) == 0);
  CHECK(hours_of(4) == model_hours(4));
  CHECK(hours_of(5) == model_hours(5));
  check_rollups(t.db, model, options);

  // Retention: a day row stays while a window of its day is younger than
  // the cutoff, and goes once they all ended.
  {
    Transaction tx(t.db);
    CHECK(v3::expire_rollups(t.db, v3::RollupTier::hour, day + v3::kDayNs - kHour, 1000, options) == 0);
    CHECK(*t.db.query_int("SELECT count(*) FROM rollup_chunks WHERE tier = 3") == 2);
    CHECK(v3::expire_rollups(t.db, v3::RollupTier::hour, day + v3::kDayNs, 1000, options) == 2);
    tx.commit();
  }
  CHECK(*t.db.query_int("SELECT count(*) FROM rollup_chunks WHERE tier = 3") == 0);
  CHECK(*t.db.query_int("SELECT count(*) FROM rollup_chunks WHERE tier = 2") == 2 * 2);
}

TEST_CASE("v3 store: head seqs keep increasing once sealing emptied the head") {
  // A reader following the head (query --db) takes rows after the last
  // seq it saw: a seq used again would hide a commit from it.
  TempDb t;
  v3::Options options;
  head::Rows rows;
  rows.add(1, kT0, 1.0);
  const int64_t first = v3::append_head(t.db, rows, options);
  const int64_t second = v3::append_head(t.db, rows, options);
  CHECK(second > first);
  CHECK(v3::seal(t.db, kT0 + 30 * kHour, options).head_rows == 2);
  CHECK(head_rows(t.db) == 0);
  CHECK(v3::append_head(t.db, rows, options) > second);
}

TEST_CASE("v3 compactor: a window that cannot be finalized does not hold back the others") {
  TempDb t;
  v3::Options options;
  HeadIndex head;
  Counters counters;
  Compactor compactor(t.db, head, options, counters);
  const int64_t now = kT0 + 30 * kHour;
  head::Rows rows;
  for (int64_t series : {1, 2})
    for (int64_t i = 0; i < 10; ++i) rows.add(series, kT0 + i * kSecond, static_cast<double>(i));
  v3::append_head(t.db, rows, options);
  // Sealed, then one of the two partial chunks damaged before finalizing.
  v3::seal(t.db, now, options);
  t.db.exec("UPDATE partial_chunks SET data = x'00' WHERE series = 1");
  SUBCASE("a damaged partial chunk") {}
  SUBCASE("a damaged chunk") {
    // Series 1's window finalized first (from its partial, repaired), then
    // given a later write and its chunk damaged.
    t.db.exec("DELETE FROM partial_chunks WHERE series = 1");
    head::Rows later;
    later.add(1, kT0 + 20 * kSecond, 1.0);
    v3::append_head(t.db, later, options);
    v3::seal(t.db, now, options);
    t.db.exec("INSERT INTO chunks(series, start, n, data) VALUES(1, " +
              std::to_string(bucket_start(kT0, options.span_ns)) + ", 1, x'00')");
  }
  for (const auto &w : v3::pending_windows(t.db)) compactor.track_pending(w, now);
  std::string error;
  try {
    compactor.run(now, std::chrono::seconds(1));
  } catch (const std::exception &e) {
    error = e.what();
  }
  CHECK(error.find("finalizing 1 window(s) failed") != std::string::npos);
  CHECK(error.find("series 1") != std::string::npos);
  CHECK(counters.windows_finalized.load() == 1);
  CHECK(counters.windows_pending.load() == 1);  // tried again later
  CHECK(*t.db.query_int("SELECT count(*) FROM chunks WHERE series = 2") == 1);
  CHECK(*t.db.query_int("SELECT count(*) FROM partial_chunks WHERE series = 1") == 1);
  CHECK_FALSE(compactor.run(now, std::chrono::seconds(1)));  // not before its retry
}

TEST_CASE("v3 head index: writes in any order read back as the model, new samples counted exactly, drops by seq") {
  // Each series' map from timestamp to (value, seq of its last write).
  std::map<int64_t, std::map<int64_t, std::pair<double, int64_t>>> model;
  HeadIndex head;
  std::mt19937_64 rng(11);
  int64_t seq = 0, dropped_through = 0, size = 0;
  for (int round = 0; round < 400; ++round) {
    head::Rows rows;
    ++seq;
    int64_t fresh = 0;
    // Mostly appends, a third of them late (up to 2,000 steps back) or
    // rewrites, as interleaved writers make them.
    for (int i = 0; i < 50; ++i) {
      const int64_t series = static_cast<int64_t>(rng() % 3);
      auto &m = model[series];
      const int64_t newest = m.empty() ? 0 : m.rbegin()->first;
      const int64_t ts = rng() % 3 == 0 ? newest - static_cast<int64_t>(rng() % 2000) : newest + 1 + rng() % 3;
      const double value = static_cast<double>(rng() % 1000);
      rows.add(series, ts, value);
      fresh += m.count(ts) ? 0 : 1;
      m[ts] = {value, seq};
    }
    CHECK(head.add(rows, seq) == fresh);
    size += fresh;
    if (round % 37 == 36) {
      // The oldest head rows sealed.
      dropped_through = seq - static_cast<int64_t>(rng() % 5);
      int64_t gone = 0;
      for (auto &[series, m] : model)
        for (auto it = m.begin(); it != m.end();)
          if (it->second.second <= dropped_through) {
            it = m.erase(it);
            ++gone;
          } else {
            ++it;
          }
      auto guard = head.seal_guard();
      CHECK(head.drop_through_locked(dropped_through) == gone);
      size -= gone;
    }
    CHECK(head.size() == size);
    if (round % 10 != 0) continue;
    auto view = head.view();
    for (const auto &[series, m] : model) {
      for (int q = 0; q < 3; ++q) {
        const int64_t from = m.empty() ? 0 : m.begin()->first + static_cast<int64_t>(rng() % 500);
        const int64_t to = from + static_cast<int64_t>(rng() % 3000);
        chunk::Samples got, want;
        head.read_locked(series, from, to, got);
        for (auto it = m.lower_bound(from); it != m.end() && it->first <= to; ++it) {
          want.ts.push_back(it->first);
          want.values.push_back(it->second.first);
        }
        CHECK(test::same_samples(got, want));
      }
      const auto newest = head.newest_locked(series);
      CHECK(newest.has_value() == !m.empty());
      if (newest && !m.empty()) {
        CHECK(newest->first == m.rbegin()->first);
        CHECK(newest->second == m.rbegin()->second.first);
      }
    }
  }
}

TEST_CASE("v3 compactor: a day whose hourly rollups cannot be gathered waits; the other days are gathered") {
  TempDb t;
  v3::Options options;
  HeadIndex head;
  Counters counters;
  Compactor compactor(t.db, head, options, counters);
  const int64_t day = v3::day_of(kT0) - 3 * v3::kDayNs;
  {
    Transaction tx(t.db);
    for (int64_t d : {day, day + v3::kDayNs})
      for (int64_t w = d; w < d + v3::kDayNs; w += options.span_ns)
        v3::put_rollup(t.db, v3::RollupTier::hour, 1, w, {{w, 1.0, 2.0, 3.0, 2}, {w + kHour, 0.5, 0.5, 0.5, 1}},
                       options);
    tx.commit();
  }
  t.db.exec("UPDATE rollup_chunks SET data = x'00' WHERE tier = 2 AND start = " + std::to_string(day + kHour * 4));
  CHECK_THROWS_WITH_AS(compactor.run(kT0, std::chrono::seconds(5)), doctest::Contains("gathering the hourly rollups"),
                       std::runtime_error);
  // The second day is one row now; the first is as it was, none of it lost.
  CHECK(*t.db.query_int("SELECT count(*) FROM rollup_chunks WHERE tier = 3") == 1);
  CHECK(*t.db.query_int("SELECT count(*) FROM rollup_chunks WHERE tier = 3 AND start = " +
                        std::to_string(day + v3::kDayNs)) == 1);
  CHECK(*t.db.query_int("SELECT count(*) FROM rollup_chunks WHERE tier = 2") == v3::kDayNs / options.span_ns);
  // Tried again in a minute, not when the next day ends.
  const auto due = compactor.next_due(kT0);
  REQUIRE(due.has_value());
  CHECK(*due - std::chrono::steady_clock::now() <= std::chrono::seconds(60));
  CHECK(*due - std::chrono::steady_clock::now() > std::chrono::seconds(50));
}

TEST_CASE("v3 compactor: a day whose windows were all finalized before it ended is gathered once it ends") {
  // Writes stop in the morning: the day's one window is finalized that
  // afternoon, a pass then finds no ended day, and no finalizing follows.
  TempDb t;
  v3::Options options;
  HeadIndex head;
  Counters counters;
  Compactor compactor(t.db, head, options, counters);
  compactor.seal_after = std::chrono::seconds(0);
  const int64_t day = v3::day_of(kT0);
  REQUIRE(kT0 - day < 12 * kHour);
  head::Rows rows;
  for (int64_t i = 0; i < 50; ++i) rows.add(3, kT0 + i * kSecond, static_cast<double>(i));
  const int64_t seq = v3::append_head(t.db, rows, options);
  head.add(rows, seq);
  compactor.track({seq, rows.ts.back()});
  const int64_t afternoon = day + 15 * kHour;
  compactor.run(afternoon, std::chrono::seconds(5));
  REQUIRE(counters.windows_finalized.load() == 1);
  compactor.run(afternoon, std::chrono::seconds(5));
  CHECK(*t.db.query_int("SELECT count(*) FROM rollup_chunks WHERE tier = 3") == 0);
  // Due again when the day ends, for a timer to wake the writer then.
  const auto due = compactor.next_due(afternoon);
  REQUIRE(due.has_value());
  const auto wait = *due - std::chrono::steady_clock::now();
  CHECK(wait > std::chrono::hours(8));
  CHECK(wait <= std::chrono::hours(9));
  compactor.run(day + v3::kDayNs + kMinute, std::chrono::seconds(5));
  CHECK(*t.db.query_int("SELECT count(*) FROM rollup_chunks WHERE tier = 3") == 1);
  CHECK(*t.db.query_int("SELECT count(*) FROM rollup_chunks WHERE tier = 2") == 0);
}
