// Schema versions: a v1 file (written here by hand, as v1 wrote it) is
// migrated forward with its data; a newer or foreign file is refused.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <thread>

#include "../chunk_codec.hpp"
#include "../compaction.hpp"
#include "../rollup_codec.hpp"
#include "../schema.hpp"
#include "support.hpp"

using namespace test;

namespace {

// Version 1 exactly as released: series and samples only.
void write_v1_file(const std::string &path, int64_t start, int rows) {
  Db db(path);
  db.exec(R"(
    CREATE TABLE series(id INTEGER PRIMARY KEY, text TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
                        labels TEXT NOT NULL DEFAULT '{}');
    CREATE TABLE samples(series_id INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL,
                         PRIMARY KEY(series_id, ts)) WITHOUT ROWID;
    INSERT INTO series VALUES(7, 'temp{room="attic"}', 'temp', '{"room":"attic"}');
    PRAGMA user_version = 1;)");
  db.exec("PRAGMA application_id = " + std::to_string(vitals::sqlite::application_id));
  db.exec("BEGIN");
  for (int i = 0; i < rows; ++i)
    db.exec("INSERT INTO samples VALUES(7, " + std::to_string(start + i * 10 * second + 1) + ", " +
            std::to_string(i % 13) + ".25)");
  db.exec("COMMIT");
}

std::string hex(const std::string &bytes) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string out = "X'";
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out + "'";
}

}  // namespace

TEST_CASE("a version 4 file keeps its chunks and rollups when they are keyed by time first (versions 5 and 6)") {
  vitals::testing::Host host;
  const std::string path = host.data_dir() + "/v4.db";
  constexpr int64_t span = 2 * hour;
  const int64_t first = (now_ns() / span - 5) * span;  // three finished windows, 10 hours back
  std::vector<int64_t> all_ts;
  {
    Db db(path);
    for (const auto &m : vitals::sqlite::migrations())
      if (m.version <= 4) db.exec(m.sql);
    db.exec("PRAGMA user_version = 4; PRAGMA application_id = " + std::to_string(vitals::sqlite::application_id));
    db.exec(
        "INSERT INTO meta(key, value) VALUES('layout', 3); INSERT INTO series VALUES(7, 'temp', 'temp', '{}');"
        "INSERT INTO series VALUES(9, 'load', 'load', '{}')");
    // Inserted series first, as version 4 kept them.
    for (int64_t series : {7, 9})
      for (int w = 0; w < 3; ++w) {
        vitals::sqlite::chunk::Samples samples;
        const int64_t start = first + w * span;
        for (int i = 0; i < 90; ++i) {
          samples.ts.push_back(start + i * minute + series);
          samples.values.push_back(static_cast<double>(series * 1000 + w * 100 + i) / 4);
        }
        if (series == 7) all_ts.insert(all_ts.end(), samples.ts.begin(), samples.ts.end());
        db.exec("INSERT INTO chunks(series, start, n, data) VALUES(" + std::to_string(series) + ", " +
                std::to_string(start) + ", 90, " + hex(vitals::sqlite::chunk::encode(samples.ts, samples.values)) +
                ")");
        db.exec("INSERT INTO rollup_chunks VALUES(2, " + std::to_string(series) + ", " + std::to_string(start) + ", " +
                hex(vitals::sqlite::rollup_chunk::encode(vitals::sqlite::compaction::rollup(samples, hour))) + ")");
      }
  }
  auto storage = host.create_started(vitals_plugin(), "path = \"v4.db\"");
  {
    Db db(path);
    CHECK(db.integer("PRAGMA user_version") == vitals::sqlite::schema_version);
    CHECK(db.rows("SELECT sql LIKE '%UNIQUE(start, series)%' FROM sqlite_schema WHERE name = 'chunks'")[0][0] == "1");
    CHECK(db.rows("SELECT sql LIKE '%PRIMARY KEY(tier, start, series)%' FROM sqlite_schema WHERE name = "
                  "'rollup_chunks'")[0][0] == "1");
    CHECK(db.integer("SELECT count(*) FROM chunks") == 6);
    // Hourly rollups are keyed by their window, then gathered by day once
    // the day is over (at the start): a row per series for each past day,
    // and today's windows as they are.
    int64_t today = 0, past_days = 0;
    const int64_t this_day = now_ns() / day * day;
    for (int w = 0; w < 3; ++w) {
      const int64_t start = first + w * span;
      if (start >= this_day)
        ++today;
      else if (w == 0 || (start / day) != ((start - span) / day))
        ++past_days;
    }
    auto settled = [&] {
      return db.integer("SELECT count(*) FROM rollup_chunks WHERE tier = 2 AND start % 7200000000000 = 0") ==
                 2 * today &&
             db.integer("SELECT count(*) FROM rollup_chunks WHERE tier = 3 AND start % 86400000000000 = 0") ==
                 2 * past_days;
    };
    for (int i = 0; i < 300 && !settled(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(settled());
  }
  const std::string range = R"(,"from":0,"to":)" + std::to_string(now_ns()) + "}";
  auto raw = query(host, storage, R"({"op":"query","match":"temp","method":"raw")" + range);
  REQUIRE(raw["series"].size() == 1);
  const Json &points = raw["series"][0]["points"];
  REQUIRE(points.size() == all_ts.size());
  for (size_t i = 0; i < all_ts.size(); ++i) CHECK(points[i][0].integer() == all_ts[i]);
  CHECK(points[all_ts.size() - 1][1].number() == (7 * 1000 + 200 + 89) / 4.0);
  CHECK(query(host, storage, R"({"op":"latest","match":"load"})")["series"][0]["value"].number() ==
        (9 * 1000 + 200 + 89) / 4.0);
  // A month at the hourly tier: the stored rollups, window after window.
  auto hourly = query(host, storage,
                      R"({"op":"query","match":"load","method":"minmax","points":10,"from":)" +
                          std::to_string(first - 20 * day) + R"(,"to":)" + std::to_string(now_ns()) + "}");
  const Json &extremes = hourly["series"][0]["points"];
  REQUIRE(extremes.size() >= 2);
  double lo = extremes[0][1].number(), hi = lo;
  for (size_t i = 0; i < extremes.size(); ++i) {
    lo = std::min(lo, extremes[i][1].number());
    hi = std::max(hi, extremes[i][1].number());
  }
  CHECK(lo == 9000 / 4.0);
  CHECK(hi == (9 * 1000 + 200 + 89) / 4.0);
}

TEST_CASE("a version 1 file is migrated to the current version and keeps its data") {
  vitals::testing::Host host;
  int64_t start = (now_ns() / hour - 2) * hour;
  const int rows = 500;  // 10 s apart: 83 minutes, two hours touched
  write_v1_file(host.data_dir() + "/old.db", start, rows);
  {
    auto storage = host.create_started(vitals_plugin(), "layout = \"v2\"\npath = \"old.db\"");
    Db db(host.data_dir() + "/old.db");
    CHECK(db.integer("PRAGMA user_version") == vitals::sqlite::schema_version);
    CHECK(db.integer("SELECT value FROM meta WHERE key = 'sample_count'") == rows);
    // The rollups were built from the rows already there.
    CHECK(db.rows("SELECT bucket_ts, min, max, sum, count FROM rollup_1m ORDER BY bucket_ts") ==
          db.rows("SELECT ts - ts % 60000000000 AS b, min(value), max(value), sum(value), count(*) FROM samples "
                  "GROUP BY b ORDER BY b"));
    CHECK(db.integer("SELECT sum(count) FROM rollup_1h") == rows);

    auto reply =
        query(host, storage,
              R"({"op":"query","match":"temp","method":"raw","from":0,"to":)" + std::to_string(now_ns()) + "}");
    REQUIRE(reply["series"].size() == 1);
    const Json &points = reply["series"][0]["points"];
    REQUIRE(points.size() == rows);
    CHECK(points[0][0].integer() == start + 1);
    CHECK(points[rows - 1][1].number() == (rows - 1) % 13 + 0.25);
    CHECK(query(host, storage, R"({"op":"latest","match":"temp{room=\"attic\"}"})")["series"][0]["ts"].integer() ==
          start + (rows - 1) * 10 * second + 1);

    // New data for the same series goes to its existing row.
    auto id = host.intern("temp", {{"room", "attic"}});
    REQUIRE(consume(storage, {{id, now_ns(), 21.5}}, 1) == VITALS_PENDING);
    REQUIRE(storage.flush() == VITALS_OK);
    CHECK(db.integer("SELECT count(*) FROM series") == 1);
    CHECK(db.integer("SELECT count(*) FROM samples WHERE series_id = 7") == rows + 1);
  }
  bool logged = false;
  for (const auto &line : host.logs())
    logged |= line.message.find("migrated schema version 1 to " + std::to_string(vitals::sqlite::schema_version)) !=
              std::string::npos;
  CHECK(logged);
}

TEST_CASE("a file from a newer vitals is refused with a clear message") {
  vitals::testing::Host host;
  std::string path = host.data_dir() + "/new.db";
  {
    Db db(path);
    db.exec("CREATE TABLE future(x); PRAGMA user_version = 9;");
  }
  CHECK_THROWS_WITH(host.create_started(vitals_plugin(), "path = \"new.db\""),
                    doctest::Contains((path + ": schema version 9 is newer than this vitals supports (" +
                                       std::to_string(vitals::sqlite::schema_version) + "); upgrade vitals")
                                          .c_str()));
  Db db(path);
  CHECK(db.integer("PRAGMA user_version") == 9);  // untouched
}

TEST_CASE("a database of another application is refused, not migrated") {
  vitals::testing::Host host;
  {
    Db db(host.data_dir() + "/other.db");
    db.exec("CREATE TABLE accounts(id INTEGER PRIMARY KEY)");
  }
  CHECK_THROWS_WITH(host.create_started(vitals_plugin(), "path = \"other.db\""),
                    doctest::Contains("not a vitals database"));
  {
    Db db(host.data_dir() + "/app.db");
    db.exec("PRAGMA application_id = 42");
  }
  CHECK_THROWS_WITH(host.create_started(vitals_plugin(), "path = \"app.db\""), doctest::Contains("application_id 42"));
}

TEST_CASE("every migration step applies to the file the previous one left") {
  vitals::testing::Host host;
  std::string path = host.data_dir() + "/steps.db";
  Db db(path);
  int version = 0;
  for (const auto &m : vitals::sqlite::migrations()) {
    CHECK(m.version == version + 1);
    db.exec(m.sql);
    version = m.version;
  }
  CHECK(version == vitals::sqlite::schema_version);
}

TEST_CASE("reopening a file restores series, latest values and counts") {
  vitals::testing::Host host;
  int64_t t = now_ns() - minute;
  host.intern("unrelated");  // host ids and database ids differ
  auto a = host.intern("a", {{"k", "v"}});
  auto b = host.intern("b");
  {
    auto storage = host.create_started(vitals_plugin(), "layout = \"v2\"");
    REQUIRE(consume(storage, {{a, t, 1}, {a, t + 1, 2}, {b, t, 3}}, 1) == VITALS_PENDING);
    REQUIRE(storage.flush() == VITALS_OK);
  }
  auto storage = host.create_started(vitals_plugin(), "layout = \"v2\"");
  auto latest = query(host, storage, R"({"op":"latest","match":"*"})")["series"];
  REQUIRE(latest.size() == 2);
  CHECK(latest[0]["series"].str() == "a{k=\"v\"}");
  CHECK(latest[0]["ts"].integer() == t + 1);
  CHECK(latest[0]["value"].number() == 2);
  CHECK(latest[1]["series"].str() == "b");
  CHECK(storage.stats()["samples_stored"] == 3);
  CHECK(storage.stats()["series"] == 2);
  // A late write after the restart is still recognised as one.
  REQUIRE(consume(storage, {{a, t, 10}}, 2) == VITALS_PENDING);
  REQUIRE(storage.flush() == VITALS_OK);
  CHECK(storage.stats()["samples_stored"] == 3);
  Db db(host.data_dir() + "/metrics.db");
  CHECK(db.rows("SELECT min, max, sum, count FROM rollup_1m") ==
        std::vector<std::vector<std::string>>{{"2", "10", "12", "2"}, {"3", "3", "3", "1"}});
}

TEST_CASE("read_only: answers queries on a file another instance writes, never writes itself") {
  vitals::testing::Host host;
  auto id = host.intern("m");
  int64_t t = now_ns() - minute;
  auto writer = host.create_started(vitals_plugin());
  REQUIRE(consume(writer, {{id, t, 1}, {id, t + 1, 2}}, 1) == VITALS_PENDING);
  REQUIRE(writer.flush() == VITALS_OK);

  auto reader = host.create_started(vitals_plugin(), "read_only = true");
  CHECK(query(host, reader, R"({"op":"latest","match":"m"})")["series"][0]["value"].number() == 2);
  CHECK(consume(reader, {{id, t + 2, 3}}, 2) == VITALS_ERROR);
  CHECK(reader.last_error().find("read_only") != std::string::npos);
  CHECK(reader.flush() == VITALS_OK);
  // Range queries read the file as it is now.
  REQUIRE(consume(writer, {{id, t + 5, 5}}, 3) == VITALS_PENDING);
  REQUIRE(writer.flush() == VITALS_OK);
  std::string q = R"({"op":"query","match":"m","method":"raw","from":)" + std::to_string(t) +
                  ",\"to\":" + std::to_string(t + 10) + "}";
  CHECK(query(host, reader, q)["series"][0]["points"].size() == 3);
  CHECK(query(host, reader, q)["series"][0]["points"].size() == 3);
  CHECK(query(host, reader, R"({"op":"stats"})")["samples"].integer() == 2);  // as of its open
}

TEST_CASE("read_only: an older file is not migrated; a missing one is not created") {
  vitals::testing::Host host;
  write_v1_file(host.data_dir() + "/old.db", now_ns() - hour, 10);
  CHECK_THROWS_WITH(host.create_started(vitals_plugin(), "path = \"old.db\"\nread_only = true"),
                    doctest::Contains(("schema version 1 is older than this vitals (" +
                                       std::to_string(vitals::sqlite::schema_version) + "); open it read-write once")
                                          .c_str()));
  Db db(host.data_dir() + "/old.db");
  CHECK(db.integer("PRAGMA user_version") == 1);
  CHECK_THROWS_WITH(host.create_started(vitals_plugin(), "path = \"none.db\"\nread_only = true"),
                    doctest::Contains("none.db: cannot open"));
  CHECK_FALSE(std::filesystem::exists(host.data_dir() + "/none.db"));
}

TEST_CASE("a file left with a hot journal (an agent killed while writing it, before WAL) opens and is rolled back") {
  vitals::testing::Host host;
  const std::string dir = host.data_dir();
  { auto storage = host.create_started(vitals_plugin(), "journal_mode = \"delete\""); }
  {
    // A transaction in progress, caught on disk as a kill would leave it.
    Db db(dir + "/metrics.db");
    db.exec("PRAGMA cache_size = 1; BEGIN IMMEDIATE; UPDATE meta SET value = value + 1 WHERE key = 'sample_count';");
    for (int i = 0; i < 200; ++i) db.exec("INSERT INTO series(text, name) VALUES('s" + std::to_string(i) + "', 's')");
    REQUIRE(std::filesystem::exists(dir + "/metrics.db-journal"));
    std::filesystem::copy_file(dir + "/metrics.db", dir + "/hot.db");
    std::filesystem::copy_file(dir + "/metrics.db-journal", dir + "/hot.db-journal");
    db.exec("ROLLBACK");
  }
  auto storage = host.create_started(vitals_plugin(), "path = \"hot.db\"\njournal_mode = \"delete\"");
  CHECK(query(host, storage, R"({"op":"series","match":"s*"})")["series"].size() == 0);
}

TEST_CASE("opening waits for a lock another process holds a moment (busy_timeout), read-write and read_only") {
  // A reader running WAL recovery after a crash, or a checkpoint, holds a
  // lock for a moment: an agent starting then must wait for it, not fail
  // with "database is locked" (seen in the SIGKILL test: its check of the
  // file ran before the busy timeout was set).
  vitals::testing::Host host;
  host.create_started(vitals_plugin());  // creates the file
  for (const std::string config : {"", "read_only = true"}) {
    CAPTURE(config);
    // In WAL mode, an exclusive locking mode holds the file until closed.
    auto blocker = std::make_unique<Db>(host.data_dir() + "/metrics.db");
    blocker->exec("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE");
    std::thread release([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      blocker.reset();
    });
    const auto start = std::chrono::steady_clock::now();
    CHECK_NOTHROW(host.create_started(vitals_plugin(), config));
    release.join();
    CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(250));
  }
}
