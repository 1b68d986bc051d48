// bench/ingest reference: the rows the load generator sends, inserted straight
// into SQLite with the plugin's samples schema and pragmas, prepared
// statements, one transaction per `--tx` samples (whole requests of `--batch`,
// interleaved across `--conns` streams as the agent receives them). No HTTP,
// no parsing, no pipeline: the physical limit of this disk and CPU for the
// same rows. Prints one JSON object on stdout.
//
//   bare_sqlite --db PATH --samples N --tx SAMPLES [--series 100] [--conns 8] [--batch 1000]
//               [--start-ns T] [--step-ns NS] [--cache-kib 8192] [--mmap-bytes 0] [--like-plugin]
//               [--interleave]
//
// --interleave writes the rows of loadgen --interleave (connection_rows.hpp):
// every stream writes every series, so a series' timestamps arrive out of
// order across the streams and land in the middle of its rows.
//
// --like-plugin adds what the sqlite plugin writes besides the raw rows, with
// its statements: one UPSERT per (series, minute) and per (series, hour)
// touched by the transaction and the exact sample count in `meta` (the same
// as --rollups). Same disk work as the agent, still without the agent (whose
// WAL checkpoints run on a thread of their own; here they stay in the
// commits). --savepoints adds a SAVEPOINT per request, which the plugin
// used to write (until 2026-11-24) and no longer does.
#include <sqlite3.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "connection_rows.hpp"

namespace {

// Copied from plugins/storage/sqlite/schema.cpp (schema version 2): the
// tables this benchmark writes.
constexpr const char *schema_sql = R"sql(
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
CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO meta(key, value) VALUES('sample_count', 0);
)sql";

constexpr int64_t minute_ns = 60'000'000'000, hour_ns = 3'600'000'000'000;

[[noreturn]] void die(sqlite3 *db, const std::string &what) {
  std::fprintf(stderr, "bare_sqlite: %s: %s\n", what.c_str(), db ? sqlite3_errmsg(db) : "");
  std::exit(1);
}

void exec(sqlite3 *db, const std::string &sql) {
  char *err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string e = err ? err : "?";
    sqlite3_free(err);
    die(db, sql + ": " + e);
  }
}

sqlite3_stmt *prepare(sqlite3 *db, const char *sql) {
  sqlite3_stmt *s = nullptr;
  if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK) die(db, sql);
  return s;
}

void run(sqlite3 *db, sqlite3_stmt *s) {
  if (sqlite3_step(s) != SQLITE_DONE) die(db, sqlite3_sql(s));
  sqlite3_reset(s);
}

// (series, bucket start); hashed like the plugin's BucketKey, so the
// upserts go out in the same unordered way.
struct Key {
  int series;
  int64_t bucket;
  bool operator==(const Key &) const = default;
};
struct KeyHash {
  size_t operator()(const Key &k) const {
    return std::hash<int64_t>()(
        static_cast<int64_t>((k.series + 1) * 0x9E3779B97F4A7C15ull ^ static_cast<uint64_t>(k.bucket)));
  }
};

struct Aggregate {
  double min = 0, max = 0, sum = 0;
  int64_t count = 0;
  void add(double v) {
    if (count == 0) {
      min = max = sum = v;
    } else {
      min = v < min ? v : min;
      max = v > max ? v : max;
      sum += v;
    }
    ++count;
  }
};

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

}  // namespace

int main(int argc, char **argv) {
  std::string path;
  int64_t samples = 0, tx = 0, start_ns = 0, step_ns = 1'000'000'000, cache_kib = 8192, mmap_bytes = 0;
  int series = 100, conns = 8, batch = 1000;
  bool savepoints = false, rollups = false, interleave = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--interleave") {
      interleave = true;
      continue;
    }
    if (a == "--like-plugin" || a == "--savepoints" || a == "--rollups") {
      savepoints = savepoints || a == "--savepoints";
      rollups = rollups || a != "--savepoints";
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "bare_sqlite: missing value for %s\n", a.c_str());
      return 2;
    }
    std::string v = argv[++i];
    if (a == "--db")
      path = v;
    else if (a == "--samples")
      samples = std::atoll(v.c_str());
    else if (a == "--tx")
      tx = std::atoll(v.c_str());
    else if (a == "--series")
      series = std::atoi(v.c_str());
    else if (a == "--conns")
      conns = std::atoi(v.c_str());
    else if (a == "--batch")
      batch = std::atoi(v.c_str());
    else if (a == "--start-ns")
      start_ns = std::atoll(v.c_str());
    else if (a == "--step-ns")
      step_ns = std::atoll(v.c_str());
    else if (a == "--cache-kib")
      cache_kib = std::atoll(v.c_str());
    else if (a == "--mmap-bytes")
      mmap_bytes = std::atoll(v.c_str());
    else {
      std::fprintf(stderr, "bare_sqlite: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (path.empty() || samples <= 0 || tx <= 0 || series < conns || conns < 1 || batch < 1) {
    std::fprintf(stderr,
                 "usage: bare_sqlite --db PATH --samples N --tx SAMPLES [--series 100] [--conns 8] [--batch 1000] "
                 "[--start-ns T] [--step-ns NS] [--cache-kib 8192] [--mmap-bytes 0] "
                 "[--like-plugin | --savepoints | --rollups] [--interleave]\n");
    return 2;
  }

  sqlite3 *db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK)
    die(db, "open " + path);
  // The plugin's writer pragmas (schema.cpp apply_pragmas with its defaults,
  // cache_size as the agent's config sets it).
  exec(db, "PRAGMA cache_size = -" + std::to_string(cache_kib));
  exec(db, "PRAGMA mmap_size = " + std::to_string(mmap_bytes));
  exec(db, "PRAGMA temp_store = memory");
  exec(db, "PRAGMA journal_mode = wal");
  exec(db, "PRAGMA synchronous = normal");
  exec(db, "PRAGMA wal_autocheckpoint = 10000");
  exec(db, "PRAGMA journal_size_limit = 67108864");
  exec(db, "BEGIN");
  exec(db, schema_sql);
  {
    sqlite3_stmt *s = prepare(db, "INSERT INTO series(id, text, name, labels) VALUES(?1, ?2, 'bench', ?3)");
    for (int n = 0; n < series; ++n) {
      std::string text = "bench{id=\"" + std::to_string(n) + "\"}", labels = "{\"id\":\"" + std::to_string(n) + "\"}";
      sqlite3_bind_int64(s, 1, n + 1);
      sqlite3_bind_text(s, 2, text.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(s, 3, labels.c_str(), -1, SQLITE_TRANSIENT);
      run(db, s);
    }
    sqlite3_finalize(s);
  }
  exec(db, "COMMIT");

  sqlite3_stmt *begin = prepare(db, "BEGIN IMMEDIATE"), *commit = prepare(db, "COMMIT");
  sqlite3_stmt *savepoint = prepare(db, "SAVEPOINT batch"), *release = prepare(db, "RELEASE batch");
  // The plugin's own statement (writer.cpp).
  sqlite3_stmt *insert = prepare(db, "INSERT OR REPLACE INTO samples(series_id, ts, value) VALUES(?1, ?2, ?3)");
  const char *upsert =
      "INSERT INTO %s(series_id, bucket_ts, min, max, sum, count) VALUES(?1, ?2, ?3, ?4, ?5, ?6) "
      "ON CONFLICT(series_id, bucket_ts) DO UPDATE SET min = min(min, excluded.min), max = max(max, excluded.max), "
      "sum = sum + excluded.sum, count = count + excluded.count";
  char sql[512];
  std::snprintf(sql, sizeof sql, upsert, "rollup_1m");
  sqlite3_stmt *upsert_minute = prepare(db, sql);
  std::snprintf(sql, sizeof sql, upsert, "rollup_1h");
  sqlite3_stmt *upsert_hour = prepare(db, sql);
  sqlite3_stmt *add_count = prepare(db, "UPDATE meta SET value = value + ?1 WHERE key = 'sample_count'");

  std::vector<bench::ConnectionRows> streams;
  for (int c = 0; c < conns; ++c) streams.emplace_back(c, conns, series, start_ns, step_ns, interleave);
  std::vector<int64_t> position(static_cast<size_t>(conns), 0);
  const int64_t requests_per_tx = std::max<int64_t>(1, std::llround(static_cast<double>(tx) / batch));
  std::unordered_map<Key, Aggregate, KeyHash> minutes;

  auto write_rollups = [&](int64_t rows) {
    std::unordered_map<Key, Aggregate, KeyHash> hours;
    auto up = [&](sqlite3_stmt *s, const Key &k, const Aggregate &a) {
      sqlite3_bind_int64(s, 1, k.series + 1);
      sqlite3_bind_int64(s, 2, k.bucket);
      sqlite3_bind_double(s, 3, a.min);
      sqlite3_bind_double(s, 4, a.max);
      sqlite3_bind_double(s, 5, a.sum);
      sqlite3_bind_int64(s, 6, a.count);
      run(db, s);
    };
    for (const auto &[k, a] : minutes) {
      up(upsert_minute, k, a);
      Aggregate &h = hours[{k.series, k.bucket - k.bucket % hour_ns}];
      if (h.count == 0) {
        h = a;
      } else {
        h.min = std::min(h.min, a.min);
        h.max = std::max(h.max, a.max);
        h.sum += a.sum;
        h.count += a.count;
      }
    }
    for (const auto &[k, a] : hours) up(upsert_hour, k, a);
    sqlite3_bind_int64(add_count, 1, rows);
    run(db, add_count);
    minutes.clear();
  };

  auto t0 = std::chrono::steady_clock::now();
  double cpu0 = cpu_seconds();
  int64_t written = 0, in_tx = 0, requests_in_tx = 0, commits = 0;
  std::vector<double> commit_ms;
  int conn = 0;
  bool open = false;
  while (written < samples) {
    if (!open) {
      run(db, begin);
      open = true;
    }
    const bench::ConnectionRows &s = streams[static_cast<size_t>(conn)];
    int64_t &k = position[static_cast<size_t>(conn)];
    int64_t n = std::min<int64_t>(batch, samples - written);
    if (savepoints) run(db, savepoint);
    for (int64_t i = 0; i < n; ++i) {
      bench::Row r = s.row(k + i);
      sqlite3_bind_int64(insert, 1, r.series + 1);
      sqlite3_bind_int64(insert, 2, r.ts_ns);
      sqlite3_bind_double(insert, 3, r.value);
      run(db, insert);
      if (rollups) minutes[{r.series, r.ts_ns - r.ts_ns % minute_ns}].add(r.value);
    }
    if (savepoints) run(db, release);
    k += n;
    written += n;
    in_tx += n;
    conn = (conn + 1) % conns;
    if (++requests_in_tx >= requests_per_tx || written >= samples) {
      if (rollups) write_rollups(in_tx);
      auto c0 = std::chrono::steady_clock::now();
      run(db, commit);  // a commit past wal_autocheckpoint pages also checkpoints (copy + fsync)
      commit_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - c0).count());
      open = false;
      ++commits;
      in_tx = requests_in_tx = 0;
    }
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double cpu = cpu_seconds() - cpu0;

  std::sort(commit_ms.begin(), commit_ms.end());
  auto commit_pct = [&](double p) {
    return commit_ms[static_cast<size_t>(p * static_cast<double>(commit_ms.size() - 1))];
  };
  sqlite3_stmt *count = prepare(db, "SELECT count(*) FROM samples");
  if (sqlite3_step(count) != SQLITE_ROW) die(db, "count");
  long long stored = sqlite3_column_int64(count, 0);
  for (sqlite3_stmt *st : {begin, commit, savepoint, release, insert, upsert_minute, upsert_hour, add_count, count})
    sqlite3_finalize(st);
  sqlite3_close(db);
  std::printf(
      "{\"samples\":%lld,\"stored\":%lld,\"commits\":%lld,\"samples_per_commit\":%.1f,\"elapsed_s\":%.6f,"
      "\"samples_per_s\":%.1f,\"cpu_s\":%.3f,\"commit_p50_ms\":%.3f,\"commit_p99_ms\":%.3f,\"commit_max_ms\":%.3f,"
      "\"savepoints\":%s,\"rollups\":%s}\n",
      static_cast<long long>(written), stored, static_cast<long long>(commits),
      static_cast<double>(written) / static_cast<double>(commits), seconds, static_cast<double>(written) / seconds, cpu,
      commit_pct(0.5), commit_pct(0.99), commit_ms.back(), savepoints ? "true" : "false", rollups ? "true" : "false");
  return stored == written ? 0 : 1;
}
