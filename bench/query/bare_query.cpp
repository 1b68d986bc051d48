// bench/query reference: the rows a query needs, read with plain SQL through
// the SQLite C API on the same file, the same ranges as query_client, one
// read transaction per request over every series (as the plugin does).
// Prints latency percentiles as one JSON object on stdout.
//
//   bare_query --db PATH --table samples|rollup_1m|rollup_1h --to T_NS --span NS [--shift NS]
//              [--requests 200] [--warmup 5] [--cache-kib 16384] [--mmap-bytes 0] [--json]
//
// samples:   SELECT ts, value FROM samples WHERE series_id = ? AND ts >= ? AND ts <= ? ORDER BY ts
// rollup_*:  SELECT bucket_ts, min, max, sum, count FROM rollup_* WHERE series_id = ?
//            AND bucket_ts >= <start of from's bucket> AND bucket_ts <= ? ORDER BY bucket_ts
// (the plugin's own statements, query.cpp). --json also writes every row read
// as a [ts,value] JSON pair (value = sum / count on rollups) into a string,
// the shape of a reply without downsampling: what the serialisation costs.
#include <sqlite3.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

[[noreturn]] void die(sqlite3 *db, const std::string &what) {
  std::fprintf(stderr, "bare_query: %s: %s\n", what.c_str(), db ? sqlite3_errmsg(db) : "");
  std::exit(1);
}

sqlite3_stmt *prepare(sqlite3 *db, const std::string &sql) {
  sqlite3_stmt *s = nullptr;
  if (sqlite3_prepare_v3(db, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK) die(db, sql);
  return s;
}

void exec(sqlite3 *db, const std::string &sql) {
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) die(db, sql);
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5)];
}

}  // namespace

int main(int argc, char **argv) {
  std::string path, table = "samples";
  long long to = 0, span = 0, shift = 0, cache_kib = 16384, mmap_bytes = 0;
  int requests = 200, warmup = 5;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--json") {
      json = true;
      continue;
    }
    if (i + 1 >= argc) die(nullptr, "missing value for " + a);
    std::string v = argv[++i];
    if (a == "--db")
      path = v;
    else if (a == "--table")
      table = v;
    else if (a == "--to")
      to = std::atoll(v.c_str());
    else if (a == "--span")
      span = std::atoll(v.c_str());
    else if (a == "--shift")
      shift = std::atoll(v.c_str());
    else if (a == "--requests")
      requests = std::atoi(v.c_str());
    else if (a == "--warmup")
      warmup = std::atoi(v.c_str());
    else if (a == "--cache-kib")
      cache_kib = std::atoll(v.c_str());
    else if (a == "--mmap-bytes")
      mmap_bytes = std::atoll(v.c_str());
    else
      die(nullptr, "unknown option " + a);
  }
  long long width = table == "rollup_1m" ? 60'000'000'000LL : table == "rollup_1h" ? 3'600'000'000'000LL : 0;
  if (path.empty() || to <= 0 || requests < 1 || (table != "samples" && width == 0)) {
    std::fprintf(stderr,
                 "usage: bare_query --db PATH --table samples|rollup_1m|rollup_1h --to T_NS --span NS [--shift NS] "
                 "[--requests 200] [--warmup 5] [--cache-kib 16384] [--mmap-bytes 0] [--json]\n");
    return 2;
  }
  sqlite3 *db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) die(db, "open " + path);
  // The plugin's reader pragmas (schema.cpp apply_pragmas, writer = false).
  exec(db, "PRAGMA cache_size = -" + std::to_string(cache_kib));
  exec(db, "PRAGMA mmap_size = " + std::to_string(mmap_bytes));
  exec(db, "PRAGMA temp_store = memory");
  exec(db, "PRAGMA query_only = 1");

  std::vector<long long> ids;
  {
    sqlite3_stmt *s = prepare(db, "SELECT id FROM series ORDER BY text");
    while (sqlite3_step(s) == SQLITE_ROW) ids.push_back(sqlite3_column_int64(s, 0));
    sqlite3_finalize(s);
  }
  sqlite3_stmt *begin = prepare(db, "BEGIN"), *commit = prepare(db, "COMMIT");
  sqlite3_stmt *select =
      table == "samples"
          ? prepare(db, "SELECT ts, value FROM samples WHERE series_id = ?1 AND ts >= ?2 AND ts <= ?3 ORDER BY ts")
          : prepare(db, "SELECT bucket_ts, min, max, sum, count FROM " + table +
                            " WHERE series_id = ?1 AND bucket_ts >= ?2 AND bucket_ts <= ?3 ORDER BY bucket_ts");
  std::string out;
  size_t rows = 0;
  double checksum = 0;
  auto one = [&](long long offset) {
    long long t = to - offset * shift, from = t - span;
    if (width) from -= ((from % width) + width) % width;
    out.clear();
    rows = 0;
    if (sqlite3_step(begin) != SQLITE_DONE) die(db, "BEGIN");
    sqlite3_reset(begin);
    char buf[32];
    for (long long id : ids) {
      sqlite3_bind_int64(select, 1, id);
      sqlite3_bind_int64(select, 2, from);
      sqlite3_bind_int64(select, 3, t);
      int rc;
      while ((rc = sqlite3_step(select)) == SQLITE_ROW) {
        long long ts = sqlite3_column_int64(select, 0);
        double v = width ? sqlite3_column_double(select, 3) / static_cast<double>(sqlite3_column_int64(select, 4))
                         : sqlite3_column_double(select, 1);
        ++rows;
        if (json) {
          out += '[';
          out.append(buf, std::to_chars(buf, buf + sizeof buf, ts).ptr);
          out += ',';
          out.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
          out += "],";
        } else {
          checksum += v;  // use what was read
        }
      }
      if (rc != SQLITE_DONE) die(db, "select");
      sqlite3_reset(select);
    }
    if (sqlite3_step(commit) != SQLITE_DONE) die(db, "COMMIT");
    sqlite3_reset(commit);
  };
  for (int w = 0; w < warmup; ++w) one(shift ? requests + w : 0);
  std::vector<double> ms;
  size_t min_rows = SIZE_MAX, max_rows = 0;
  for (int i = 0; i < requests; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    one(i);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    min_rows = std::min(min_rows, rows);
    max_rows = std::max(max_rows, rows);
  }
  for (sqlite3_stmt *s : {begin, commit, select}) sqlite3_finalize(s);
  sqlite3_close(db);
  std::printf(
      "{\"requests\":%d,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"min_rows\":%zu,\"max_rows\":%zu,\"json_bytes\":%zu,"
      "\"checksum\":%g}\n",
      requests, percentile(ms, 0.5), percentile(ms, 0.99), min_rows, max_rows, out.size(), checksum);
  return 0;
}
