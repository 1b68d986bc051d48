// The write path: acks only after commit, group commit thresholds, failures
// that leave nothing partial, rollups against a brute-force aggregation,
// retention, latest values and events.
#include <algorithm>
#include <fstream>
#include <random>

#include "../retention.hpp"
#include "../schema.hpp"
#include "support.hpp"

using namespace test;
using Completions = std::vector<std::pair<uintptr_t, int>>;

TEST_CASE("a batch is acknowledged only when its transaction commits") {
  vitals::testing::Host host;
  auto storage = host.create_started(vitals_plugin(), "layout = \"v2\"\nflush_interval = \"1h\"");
  auto id = host.intern("m");
  int64_t t = now_ns();
  CHECK(consume(storage, {{id, t, 1}}, 11) == VITALS_PENDING);
  CHECK(consume(storage, {{id, t + 1, 2}}, 12) == VITALS_PENDING);
  CHECK(host.completions().empty());
  // Not visible to queries before the commit either.
  CHECK(query(host, storage, R"({"op":"latest","match":"m"})")["series"].size() == 0);
  Db db(host.data_dir() + "/metrics.db");
  CHECK(db.integer("SELECT count(*) FROM samples") == 0);

  REQUIRE(storage.flush() == VITALS_OK);
  CHECK(host.completions() == Completions{{11, VITALS_OK}, {12, VITALS_OK}});
  CHECK(db.integer("SELECT count(*) FROM samples") == 2);
  CHECK(query(host, storage, R"({"op":"latest","match":"m"})")["series"][0]["value"].number() == 2);
  REQUIRE(storage.flush() == VITALS_OK);  // nothing open: nothing completed twice
  CHECK(host.completions().size() == 2);
}

TEST_CASE("an open transaction commits early once it holds max_batch_samples") {
  vitals::testing::Host host;
  auto storage =
      host.create_started(vitals_plugin(), "layout = \"v2\"\nmax_batch_samples = 100\nflush_interval = \"1h\"");
  auto id = host.intern("m");
  std::vector<Row> first, second;
  int64_t t = now_ns();
  for (int i = 0; i < 60; ++i) first.push_back({id, t + i, 1.0 * i});
  for (int i = 60; i < 120; ++i) second.push_back({id, t + i, 1.0 * i});
  CHECK(consume(storage, first, 1) == VITALS_PENDING);
  CHECK(host.completions().empty());
  CHECK(consume(storage, second, 2) == VITALS_PENDING);
  CHECK(host.completions() == Completions{{1, VITALS_OK}, {2, VITALS_OK}});
  CHECK(storage.stats()["commits"] == 1);
  CHECK(storage.stats()["samples_written"] == 120);
}

TEST_CASE("an open transaction commits early once it is flush_interval old") {
  vitals::testing::Host host;
  auto storage = host.create_started(vitals_plugin(), "layout = \"v2\"\nflush_interval = \"0s\"");
  auto id = host.intern("m");
  CHECK(consume(storage, {{id, 1, 1}}, 1) == VITALS_PENDING);
  CHECK(host.completions() == Completions{{1, VITALS_OK}});
}

TEST_CASE("a failing batch is refused whole; the batches around it still commit") {
  vitals::testing::Host host;
  auto storage = host.create_started(vitals_plugin(), "layout = \"v2\"\nflush_interval = \"1h\"");
  Db db(host.data_dir() + "/metrics.db");
  db.refuse_value_666();
  auto good = host.intern("good"), bad = host.intern("bad_series");
  int64_t t = now_ns();
  REQUIRE(consume(storage, {{good, t, 1}}, 1) == VITALS_PENDING);
  CHECK(consume(storage, {{good, t + 1, 2}, {bad, t, 5}, {bad, t + 1, 666}}, 2) == VITALS_ERROR);
  CHECK(storage.last_error().find("injected failure") != std::string::npos);
  REQUIRE(consume(storage, {{good, t + 2, 3}}, 3) == VITALS_PENDING);
  REQUIRE(storage.flush() == VITALS_OK);
  // The refused batch was reported by consume's return value, not completed.
  CHECK(host.completions() == Completions{{1, VITALS_OK}, {3, VITALS_OK}});
  CHECK(db.rows("SELECT ts - " + std::to_string(t) + ", value FROM samples ORDER BY ts") ==
        std::vector<std::vector<std::string>>{{"0", "1"}, {"2", "3"}});
  CHECK(db.integer("SELECT count(*) FROM series") == 1);
  CHECK(query(host, storage, R"({"op":"series","match":"*"})")["series"].size() == 1);
  CHECK(db.integer("SELECT sum(count) FROM rollup_1m") == 2);
  CHECK(storage.stats()["batches_failed"] == 1);
  CHECK(storage.stats()["samples_stored"] == 2);

  // The series of the refused batch can come back later.
  db.exec("DROP TRIGGER refuse");
  REQUIRE(consume(storage, {{bad, t, 7}}, 4) == VITALS_PENDING);
  REQUIRE(storage.flush() == VITALS_OK);
  CHECK(query(host, storage, R"({"op":"latest","match":"bad_series"})")["series"][0]["value"].number() == 7);
}

TEST_CASE("a failing commit fails every batch it held and leaves nothing visible") {
  vitals::testing::Host host;
  auto storage = host.create_started(vitals_plugin(), "layout = \"v2\"\nflush_interval = \"1h\"");
  Db db(host.data_dir() + "/metrics.db");
  // The rollups are written at commit time: make that step fail.
  db.exec("CREATE TRIGGER refuse BEFORE INSERT ON rollup_1h BEGIN SELECT RAISE(ABORT, 'disk on fire'); END");
  auto a = host.intern("a"), b = host.intern("b");
  int64_t t = now_ns();
  REQUIRE(consume(storage, {{a, t, 1}}, 1) == VITALS_PENDING);
  REQUIRE(consume(storage, {{b, t, 2}}, 2) == VITALS_PENDING);
  CHECK(storage.flush() == VITALS_ERROR);
  CHECK(host.completions() == Completions{{1, VITALS_ERROR}, {2, VITALS_ERROR}});
  for (const char *table : {"samples", "series", "rollup_1m", "rollup_1h"})
    CHECK(db.integer(std::string("SELECT count(*) FROM ") + table) == 0);
  CHECK(query(host, storage, R"({"op":"series","match":"*"})")["series"].size() == 0);
  CHECK(query(host, storage, R"({"op":"latest","match":"*"})")["series"].size() == 0);
  CHECK(storage.stats()["commit_errors"] == 1);
  CHECK(storage.stats()["samples_stored"] == 0);

  db.exec("DROP TRIGGER refuse");
  REQUIRE(consume(storage, {{a, t, 1}, {b, t, 2}}, 3) == VITALS_PENDING);
  REQUIRE(storage.flush() == VITALS_OK);
  CHECK(host.completions().back() == std::pair<uintptr_t, int>{3, VITALS_OK});
  CHECK(db.integer("SELECT count(*) FROM samples") == 2);
  CHECK(query(host, storage, R"({"op":"series","match":"*"})")["series"].size() == 2);
}

TEST_CASE("a batch naming an unknown series is refused") {
  vitals::testing::Host host;
  auto storage = host.create_started(vitals_plugin(), "layout = \"v2\"");
  CHECK(consume(storage, {{999, 1, 1}}, 1) == VITALS_ERROR);
  CHECK(storage.last_error().find("unknown series id 999") != std::string::npos);
}

TEST_CASE("rollups equal a brute-force aggregation of the raw rows, with late and duplicate writes") {
  vitals::testing::Host host;
  auto storage = host.create_started(vitals_plugin(), "layout = \"v2\"\nflush_interval = \"1h\"");
  std::mt19937_64 rng(7);
  std::vector<vitals_series_id_t> ids{host.intern("r", {{"n", "1"}}), host.intern("r", {{"n", "2"}}),
                                      host.intern("r", {{"n", "3"}})};
  // Three hours of 20 s samples, delivered out of order with repeats;
  // integer values keep every sum exact whatever the order of addition.
  int64_t start = (now_ns() / hour - 3) * hour;
  std::vector<Row> rows;
  for (auto id : ids)
    for (int64_t ts = start; ts < start + 3 * hour; ts += 20 * second) rows.push_back({id, ts + 7, 0});
  std::uniform_int_distribution<int> value(-1000, 1000);
  for (auto &r : rows) r.value = value(rng);
  std::vector<Row> stream = rows;
  std::shuffle(stream.begin() + static_cast<std::ptrdiff_t>(stream.size() / 2), stream.end(), rng);
  // Repeats of earlier timestamps with new values, some in the same batch.
  std::uniform_int_distribution<size_t> pick(0, rows.size() - 1);
  for (int i = 0; i < 300; ++i) {
    Row dup = rows[pick(rng)];
    dup.value = value(rng);
    stream.insert(stream.begin() + static_cast<std::ptrdiff_t>(pick(rng) % stream.size()), dup);
  }
  uintptr_t ack = 1;
  for (size_t i = 0; i < stream.size(); i += 97) {
    std::vector<Row> batch(stream.begin() + static_cast<std::ptrdiff_t>(i),
                           stream.begin() + static_cast<std::ptrdiff_t>(std::min(i + 97, stream.size())));
    REQUIRE(consume(storage, batch, ack++) == VITALS_PENDING);
    if (i % 970 == 0) REQUIRE(storage.flush() == VITALS_OK);
  }
  REQUIRE(storage.flush() == VITALS_OK);

  Db db(host.data_dir() + "/metrics.db");
  CHECK(db.integer("SELECT count(*) FROM samples") == static_cast<int64_t>(rows.size()));
  CHECK(db.rows("SELECT series_id, bucket_ts, min, max, sum, count FROM rollup_1m ORDER BY 1, 2") ==
        db.rows("SELECT series_id, ts - ts % 60000000000 AS b, min(value), max(value), sum(value), count(*) "
                "FROM samples GROUP BY 1, 2 ORDER BY 1, 2"));
  CHECK(db.rows("SELECT series_id, bucket_ts, min, max, sum, count FROM rollup_1h ORDER BY 1, 2") ==
        db.rows("SELECT series_id, ts - ts % 3600000000000 AS b, min(value), max(value), sum(value), count(*) "
                "FROM samples GROUP BY 1, 2 ORDER BY 1, 2"));
  CHECK(storage.stats()["samples_stored"] == static_cast<double>(rows.size()));
  CHECK(db.integer("SELECT value FROM meta WHERE key = 'sample_count'") == static_cast<int64_t>(rows.size()));
  CHECK(storage.stats()["rollup_recomputes"] > 0);
}

TEST_CASE("retention deletes old raw rows; rollups remain and answer long ranges") {
  vitals::testing::Host host;
  auto storage = host.create_started(
      vitals_plugin(), "layout = \"v2\"\nretention = \"1h\"\nrollup_retention = \"2h\"\nflush_interval = \"1h\"");
  auto id = host.intern("temp");
  int64_t start = (now_ns() / hour - 5) * hour;  // five to six hours of data, one sample a minute
  std::vector<Row> rows;
  for (int64_t ts = start; ts < now_ns() - second; ts += minute)
    rows.push_back({id, ts, static_cast<double>(ts / minute % 100)});
  REQUIRE(consume(storage, rows, 1) == VITALS_PENDING);
  REQUIRE(storage.flush() == VITALS_OK);  // commit, then the first retention pass

  int64_t now = now_ns();
  Db db(host.data_dir() + "/metrics.db");
  CHECK(db.integer("SELECT min(ts) FROM samples") >= now - hour - 10 * second);
  CHECK(db.integer("SELECT min(bucket_ts) FROM rollup_1m") >= now - 2 * hour - minute - 10 * second);
  CHECK(db.integer("SELECT min(bucket_ts) FROM rollup_1h") == start);  // kept 10 h
  CHECK(storage.stats()["samples_stored"] == static_cast<double>(db.integer("SELECT count(*) FROM samples")));
  CHECK(storage.stats()["retention_deleted"] > 0);

  // Five hours to five points: hourly rollups, every hour whole.
  auto reply = query(host, storage,
                     R"({"op":"query","match":"temp","method":"avg","points":5,"from":)" + std::to_string(start) +
                         ",\"to\":" + std::to_string(start + 5 * hour - 1) + "}");
  CHECK(reply["tier"].str() == "1h");
  const Json &points = reply["series"][0]["points"];
  REQUIRE(points.size() == 5);
  for (size_t i = 0; i < 5; ++i) {
    double sum = 0;
    int n = 0;
    for (const Row &r : rows)
      if (r.ts >= start + static_cast<int64_t>(i) * hour && r.ts < start + static_cast<int64_t>(i + 1) * hour)
        sum += r.value, ++n;
    CHECK(points[i][0].integer() == start + static_cast<int64_t>(i) * hour);
    CHECK(points[i][1].number() == doctest::Approx(sum / n));
  }
  // 90 minutes at one point a minute: raw rows are gone for its start, so 1m.
  int64_t from = now - 90 * minute;
  reply = query(host, storage,
                R"({"op":"query","match":"temp","method":"avg","points":90,"from":)" + std::to_string(from) + "}");
  CHECK(reply["tier"].str() == "1m");
  CHECK(reply["series"][0]["points"].size() >= 89);
  // Three hours at one point a minute reaches past the 1m rollups: 1h.
  reply = query(host, storage, R"({"op":"query","match":"temp","method":"avg","points":180,"from":"-3h"})");
  CHECK(reply["tier"].str() == "1h");
}

TEST_CASE("retention works in bounded chunks and resumes where it stopped") {
  vitals::testing::Host host;
  std::string path = host.data_dir() + "/r.db";
  vitals::sqlite::Settings settings;
  settings.path = path;
  settings.retention_ns = hour;
  settings.rollup_retention_ns = 2 * hour;
  settings.cache_size_bytes = 1 << 20;
  settings.temp_store = "memory";
  settings.journal_mode = "wal";
  settings.synchronous = "normal";
  vitals::sqlite::Database db(path, vitals::sqlite::Database::Open::create);
  vitals::sqlite::apply_pragmas(db, settings, true);
  vitals::sqlite::migrate(db);
  int64_t now = now_ns();
  db.exec("INSERT INTO series(id, text, name) VALUES(1, 'a', 'a'), (2, 'b', 'b')");
  db.exec("BEGIN");
  for (int64_t s : {1, 2})
    for (int i = 0; i < 1000; ++i)
      db.exec("INSERT INTO samples VALUES(" + std::to_string(s) + ", " + std::to_string(now - 2 * hour + i * second) +
              ", 1)");
  db.exec("UPDATE meta SET value = 2000 WHERE key = 'sample_count'; COMMIT");

  vitals::sqlite::Retention retention(db, settings);
  retention.rows_per_transaction = 300;
  std::vector<int64_t> series{1, 2};
  auto r = retention.run(series, now, std::chrono::nanoseconds(0));  // one chunk, then out of time
  CHECK_FALSE(r.finished);
  CHECK(r.samples_deleted == 300);
  int64_t total = r.samples_deleted;
  for (int i = 0; i < 20 && !r.finished; ++i) {
    r = retention.run(series, now, std::chrono::nanoseconds(0));
    total += r.samples_deleted;
  }
  CHECK(r.finished);
  CHECK(total == 2000);
  CHECK(db.query_int("SELECT count(*) FROM samples") == 0);
  CHECK(db.query_int("SELECT value FROM meta WHERE key = 'sample_count'") == 0);
}

TEST_CASE("latest: the newest sample per series, updated at commit, not moved by late writes") {
  vitals::testing::Host host;
  auto storage = host.create_started(vitals_plugin(), "layout = \"v2\"\nflush_interval = \"1h\"");
  auto id = host.intern("m");
  int64_t t = now_ns();
  REQUIRE(consume(storage, {{id, t, 1}, {id, t + 5, 2}}, 1) == VITALS_PENDING);
  REQUIRE(storage.flush() == VITALS_OK);
  auto latest = [&] { return query(host, storage, R"({"op":"latest","match":"m"})")["series"][0]; };
  CHECK(latest()["ts"].integer() == t + 5);
  REQUIRE(consume(storage, {{id, t + 1, 9}}, 2) == VITALS_PENDING);  // late
  REQUIRE(storage.flush() == VITALS_OK);
  CHECK(latest()["value"].number() == 2);
  REQUIRE(consume(storage, {{id, t + 5, 3}}, 3) == VITALS_PENDING);  // replaces the newest
  REQUIRE(storage.flush() == VITALS_OK);
  CHECK(latest()["value"].number() == 3);
  REQUIRE(consume(storage, {{id, t + 6, NAN}}, 4) == VITALS_PENDING);  // NaN is stored, as null
  REQUIRE(storage.flush() == VITALS_OK);
  CHECK(latest()["value"].is_null());
}

TEST_CASE("events are stored with their severity, source, message and labels") {
  vitals::testing::Host host;
  auto storage = host.create_started(vitals_plugin(), "layout = \"v2\"");
  vitals::Batch batch;
  int64_t t = now_ns();
  batch.add_event(t, VITALS_SEVERITY_CRITICAL, "alerting", "temperature \"high\"", {{"room", "attic"}});
  batch.add_event(t + 1, VITALS_SEVERITY_INFO, "agent", "started");
  REQUIRE(storage.plugin()->consume(storage.raw(), &batch.view(), reinterpret_cast<vitals_ack_t *>(5)) ==
          VITALS_PENDING);
  REQUIRE(storage.flush() == VITALS_OK);
  Db db(host.data_dir() + "/metrics.db");
  CHECK(db.rows("SELECT ts - " + std::to_string(t) + ", severity, source, message, labels FROM events ORDER BY ts") ==
        std::vector<std::vector<std::string>>{
            {"0", "critical", "alerting", "temperature \"high\"", R"({"room":"attic"})"},
            {"1", "info", "agent", "started", "{}"}});
  CHECK(storage.stats()["events_written"] == 2);
}

TEST_CASE("one writer per file: a second storage on the same path is refused with a clear reason") {
  vitals::testing::Host host;
  auto first = host.create_started(vitals_plugin(), "layout = \"v2\"\nflush_interval = \"0s\"");
  CHECK_THROWS_WITH(host.create_started(vitals_plugin(), "layout = \"v2\"\nflush_interval = \"0s\""),
                    doctest::Contains("already open for writing"));
  // Read-only instances (vitals query --db) take no lock.
  CHECK_NOTHROW(host.create_started(vitals_plugin(), "layout = \"v2\"\nread_only = true"));
  auto id = host.intern("m");
  CHECK(consume(first, {{id, now_ns(), 1}}, 1) == VITALS_PENDING);
  CHECK(host.completions() == Completions{{1, VITALS_OK}});
}

TEST_CASE("the file's writer lock is released when the storage is destroyed") {
  vitals::testing::Host host;
  { auto first = host.create_started(vitals_plugin(), "layout = \"v2\"\nflush_interval = \"0s\""); }
  CHECK_NOTHROW(host.create_started(vitals_plugin(), "layout = \"v2\"\nflush_interval = \"0s\""));
}

TEST_CASE("a series row this writer did not load is adopted, not a failure of every batch") {
  vitals::testing::Host host;
  auto storage = host.create_started(vitals_plugin(), "layout = \"v2\"\nflush_interval = \"0s\"");
  // As if another writer (an older agent without the lock) added the row.
  Db db(host.data_dir() + "/metrics.db");
  db.exec("INSERT INTO series(text, name, labels) VALUES('m{k=\"v\"}', 'm', '{\"k\":\"v\"}')");
  int64_t row = db.integer("SELECT id FROM series WHERE text = 'm{k=\"v\"}'");
  auto id = host.intern("m", {{"k", "v"}});
  int64_t t = now_ns();
  CHECK(consume(storage, {{id, t, 1}}, 1) == VITALS_PENDING);
  CHECK(consume(storage, {{id, t + 1, 2}}, 2) == VITALS_PENDING);
  CHECK(host.completions() == Completions{{1, VITALS_OK}, {2, VITALS_OK}});
  CHECK(db.integer("SELECT count(*) FROM samples WHERE series_id = " + std::to_string(row)) == 2);
  CHECK(db.integer("SELECT count(*) FROM series") == 1);
}

TEST_CASE("stop releases the file and its writer lock, though the instance lives on (a query may hold it)") {
  vitals::testing::Host host;
  auto first = host.create_started(vitals_plugin(), "layout = \"v2\"\nflush_interval = \"1h\"");
  auto id = host.intern("m");
  CHECK(consume(first, {{id, now_ns(), 1}}, 1) == VITALS_PENDING);
  REQUIRE(first.stop() == VITALS_OK);
  CHECK(host.completions() == Completions{{1, VITALS_OK}});  // committed on stop
  CHECK_NOTHROW(host.create_started(vitals_plugin(), "layout = \"v2\"\nflush_interval = \"0s\""));
  // Queries still answer from the stopped instance.
  CHECK(query(host, first, R"({"op":"latest","match":"m"})")["series"].size() == 1);
}

TEST_CASE("a file that is not a vitals database refuses the config at create, before any start") {
  vitals::testing::Host host;
  std::ofstream(host.data_dir() + "/metrics.db") << std::string(8192, 'x');
  CHECK_THROWS_WITH(host.create(vitals_plugin()), doctest::Contains("metrics.db"));
}
