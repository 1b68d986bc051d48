// Schema DDL and forward migrations. A step is never edited once released:
// a new version appends a step, so every older file has a path forward.
#include "schema.hpp"

#include <string>

namespace vitals::sqlite {

namespace {

// v1: series and raw samples.
constexpr const char *v1_sql = R"sql(
CREATE TABLE series(
  id INTEGER PRIMARY KEY,
  text TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  labels TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE samples(
  series_id INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  value REAL,
  PRIMARY KEY(series_id, ts)
) WITHOUT ROWID;
)sql";

// v2: events, 1m and 1h rollups (backfilled from the samples already there),
// and a meta table holding the exact sample count.
constexpr const char *v2_sql = R"sql(
CREATE TABLE events(
  id INTEGER PRIMARY KEY,
  ts INTEGER NOT NULL,
  severity TEXT NOT NULL,
  source TEXT NOT NULL,
  message TEXT NOT NULL,
  labels TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_ts ON events(ts);
CREATE TABLE rollup_1m(
  series_id INTEGER NOT NULL,
  bucket_ts INTEGER NOT NULL,
  min REAL,
  max REAL,
  sum REAL,
  count INTEGER NOT NULL,
  PRIMARY KEY(series_id, bucket_ts)
) WITHOUT ROWID;
CREATE TABLE rollup_1h(
  series_id INTEGER NOT NULL,
  bucket_ts INTEGER NOT NULL,
  min REAL,
  max REAL,
  sum REAL,
  count INTEGER NOT NULL,
  PRIMARY KEY(series_id, bucket_ts)
) WITHOUT ROWID;
INSERT INTO rollup_1m(series_id, bucket_ts, min, max, sum, count)
  SELECT series_id, ts - ((ts % 60000000000) + 60000000000) % 60000000000 AS b,
         min(value), max(value), sum(value), count(value)
  FROM samples GROUP BY series_id, b HAVING count(value) > 0;
INSERT INTO rollup_1h(series_id, bucket_ts, min, max, sum, count)
  SELECT series_id, bucket_ts - ((bucket_ts % 3600000000000) + 3600000000000) % 3600000000000 AS b,
         min(min), max(max), sum(sum), sum(count)
  FROM rollup_1m GROUP BY series_id, b;
CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO meta(key, value) VALUES('sample_count', (SELECT count(*) FROM samples));
)sql";

// v3: the compressed layout's tables (v3_store.hpp), empty; a file uses
// them once meta 'layout' says 3 (file_layout()).
constexpr const char *v3_sql = R"sql(
CREATE TABLE head(
  seq INTEGER PRIMARY KEY,
  min_ts INTEGER NOT NULL,
  max_ts INTEGER NOT NULL,
  rows BLOB NOT NULL
);
CREATE TABLE chunks(
  id INTEGER PRIMARY KEY,
  series INTEGER NOT NULL,
  start INTEGER NOT NULL,
  n INTEGER NOT NULL,
  data BLOB NOT NULL,
  UNIQUE(series, start)
);
CREATE TABLE rollup_chunks(
  tier INTEGER NOT NULL,
  series INTEGER NOT NULL,
  start INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY(tier, series, start)
) WITHOUT ROWID;
)sql";

// v4: a seal writes partial chunks, keyed by seal first so that one seal's
// rows are written together whatever series they hold, until the window
// is finalized into its chunk (v3_store.hpp).
constexpr const char *v4_sql = R"sql(
CREATE TABLE partial_chunks(
  seal INTEGER NOT NULL,
  series INTEGER NOT NULL,
  start INTEGER NOT NULL,
  n INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY(seal, series, start)
) WITHOUT ROWID;
CREATE TABLE seals(
  seal INTEGER PRIMARY KEY,
  first_window INTEGER NOT NULL,
  last_window INTEGER NOT NULL
);
)sql";

// v5: chunks and rollup chunks keyed by time first, then series. Keyed by
// series first, finalizing a window of 10,000 series inserted into 10,000
// places of those b-trees, one page written each once they held more
// pages than series (growing with the file: bench/RESULTS.md). Chunks and
// minute rollups are keyed by window, hourly rollups by day (`part`: the
// start of the day, or of the window for minutes; version 6 keys them by
// window again). The rows are copied in the new order. A chunk records the
// newest seal whose partial chunks it holds (they are deleted a seal at a
// time).
constexpr const char *v5_sql = R"sql(
CREATE TABLE chunks_by_window(
  id INTEGER PRIMARY KEY,
  series INTEGER NOT NULL,
  start INTEGER NOT NULL,
  n INTEGER NOT NULL,
  data BLOB NOT NULL,
  merged_seal INTEGER NOT NULL DEFAULT 0,
  UNIQUE(start, series)
);
INSERT INTO chunks_by_window(series, start, n, data) SELECT series, start, n, data FROM chunks ORDER BY start, series;
DROP TABLE chunks;
ALTER TABLE chunks_by_window RENAME TO chunks;
CREATE TABLE rollup_chunks_by_window(
  tier INTEGER NOT NULL,
  part INTEGER NOT NULL,
  series INTEGER NOT NULL,
  start INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY(tier, part, series, start)
) WITHOUT ROWID;
INSERT INTO rollup_chunks_by_window(tier, part, series, start, data)
  SELECT tier, CASE WHEN tier <> 2 THEN start
                    WHEN start % 86400000000000 >= 0 THEN start - start % 86400000000000
                    WHEN start - start % 86400000000000 < -9223372036854775807 - 1 + 86400000000000
                      THEN -9223372036854775807 - 1
                    ELSE start - start % 86400000000000 - 86400000000000 END,
         series, start, data
  FROM rollup_chunks ORDER BY 1, 2, 3, 4;
DROP TABLE rollup_chunks;
ALTER TABLE rollup_chunks_by_window RENAME TO rollup_chunks;
)sql";

// v6: rollup chunks keyed by (tier, start, series). Hourly rollups are
// written by window, as minute ones, and gathered into a row per series
// and day (tier 3) once their day has no pending window (v3_store.hpp):
// keyed by day as version 5 did, finalizing a window of every series
// wrote one page per series of that day's rows. The rows are copied; a
// version 5 hourly row becomes its window's row, gathered later.
constexpr const char *v6_sql = R"sql(
CREATE TABLE rollup_chunks_v6(
  tier INTEGER NOT NULL,
  start INTEGER NOT NULL,
  series INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY(tier, start, series)
) WITHOUT ROWID;
INSERT INTO rollup_chunks_v6(tier, start, series, data)
  SELECT tier, start, series, data FROM rollup_chunks ORDER BY 1, 2, 3;
DROP TABLE rollup_chunks;
ALTER TABLE rollup_chunks_v6 RENAME TO rollup_chunks;
)sql";

constexpr Migration all_migrations[] = {{1, v1_sql}, {2, v2_sql}, {3, v3_sql}, {4, v4_sql}, {5, v5_sql}, {6, v6_sql}};
static_assert(std::size(all_migrations) == schema_version);

}  // namespace

std::span<const Migration> migrations() { return all_migrations; }

void set_busy_timeout(Database &db, const Settings &s) {
  sqlite3_busy_timeout(db.get(), static_cast<int>(s.busy_timeout_ns / 1'000'000));
}

void apply_pragmas(Database &db, const Settings &s, bool writer) {
  set_busy_timeout(db, s);
  // Negative cache_size is in KiB.
  db.exec("PRAGMA cache_size = -" + std::to_string(s.cache_size_bytes / 1024));
  db.exec("PRAGMA mmap_size = " + std::to_string(s.mmap_size_bytes));
  db.exec("PRAGMA temp_store = " + s.temp_store);
  if (!writer) {
    db.exec("PRAGMA query_only = 1");
    return;
  }
  // A new file gives the pages retention frees back to the file system
  // (sqlite.cpp); the mode can only be chosen while the file is empty,
  // before even the journal mode writes its first page.
  if (db.query_int("PRAGMA page_count").value_or(0) == 0) db.exec("PRAGMA auto_vacuum = INCREMENTAL");
  std::string mode = db.query_text("PRAGMA journal_mode = " + s.journal_mode);
  if (mode != s.journal_mode)
    throw std::runtime_error(db.path() + ": journal_mode " + s.journal_mode + " is not available here (SQLite kept " +
                             mode + ")");
  db.exec("PRAGMA synchronous = " + s.synchronous);
  // Checkpoints cost an fsync and a copy each: folding the WAL every 1000
  // pages (SQLite's default) halves ingest throughput against every 10000.
  // Once open, the writer hands them to a thread (checkpointer.hpp), which
  // turns this automatic one off; it still serves migrations.
  if (s.wal_autocheckpoint_pages > 0)
    db.exec("PRAGMA wal_autocheckpoint = " + std::to_string(s.wal_autocheckpoint_pages));
  // After a checkpoint, a WAL grown by a burst is cut back to this size.
  db.exec("PRAGMA journal_size_limit = 67108864");
}

namespace {

// Refuses newer and foreign files; returns the version found.
int check_identity(Database &db) {
  int found = static_cast<int>(db.query_int("PRAGMA user_version").value_or(0));
  if (found > schema_version)
    throw std::runtime_error(db.path() + ": schema version " + std::to_string(found) +
                             " is newer than this vitals supports (" + std::to_string(schema_version) +
                             "); upgrade vitals");
  int64_t app = db.query_int("PRAGMA application_id").value_or(0);
  if (app != 0 && app != application_id)
    throw std::runtime_error(db.path() + ": not a vitals database (application_id " + std::to_string(app) + ")");
  if (found == 0 && db.query_int("SELECT count(*) FROM sqlite_schema").value_or(0) > 0)
    throw std::runtime_error(db.path() + ": not a vitals database (it has tables but no vitals schema version)");
  return found;
}

}  // namespace

void check_writable(Database &db) { check_identity(db); }

void check_current(Database &db) {
  int found = check_identity(db);
  if (found < schema_version)
    throw std::runtime_error(db.path() + ": schema version " + std::to_string(found) + " is older than this vitals (" +
                             std::to_string(schema_version) + "); open it read-write once to migrate it");
}

int migrate(Database &db) {
  int found = check_identity(db);
  for (const Migration &m : migrations()) {
    if (m.version <= found) continue;
    Transaction tx(db);
    try {
      db.exec(m.sql);
      db.exec("PRAGMA user_version = " + std::to_string(m.version));
      db.exec("PRAGMA application_id = " + std::to_string(application_id));
      tx.commit();
    } catch (const DbError &e) {
      throw std::runtime_error(db.path() + ": migration to schema version " + std::to_string(m.version) +
                               " failed: " + e.what());
    }
  }
  return found;
}

int file_layout(Database &db, const std::string &wanted) {
  if (auto layout = db.query_int("SELECT value FROM meta WHERE key = 'layout'")) {
    if (*layout == 2 && wanted == "v3" && !db.read_only()) {
      db.exec("UPDATE meta SET value = 3 WHERE key = 'layout'");
      return 3;
    }
    return static_cast<int>(*layout);
  }
  if (db.read_only()) return 2;
  // A file from before layouts were recorded: v2, or nothing yet; it takes
  // the layout wanted (a v2 file then moves its rows: migration.hpp).
  const int layout = wanted == "v3" ? 3 : 2;
  db.exec("INSERT INTO meta(key, value) VALUES('layout', " + std::to_string(layout) + ")");
  return layout;
}

}  // namespace vitals::sqlite
