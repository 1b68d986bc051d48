// The query contract end to end through the plugin: exact round trips,
// series and selectors, latest, downsampling and tiers, the result cache,
// bad requests, backup and stats.
#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <thread>

#include "../schema.hpp"
#include "support.hpp"

using namespace test;

namespace {

std::string range(int64_t from, int64_t to) {
  return ",\"from\":" + std::to_string(from) + ",\"to\":" + std::to_string(to);
}

std::vector<std::string> names(const Json &series) {
  std::vector<std::string> out;
  for (const auto &s : series.items) out.push_back(s["series"].str());
  return out;
}

}  // namespace

TEST_CASE("what was written is what a raw query returns, bit for bit") {
  vitals::testing::Host host;
  auto storage = host.create_started(vitals_plugin());
  auto id = host.intern("exact", {{"unit", "°C"}});
  // Odd nanoseconds a day ago (inside retention), values that need all 17 digits.
  const int64_t t = (now_ns() - day) / second * second;
  const std::vector<Row> rows{{id, t + 123'456'789, 0.1},
                              {id, t + 123'456'790, -7.0},
                              {id, t + 999'999'999, 1e-300},
                              {id, t + 1'000'000'001, std::numeric_limits<double>::max()},
                              {id, t + 2'000'000'000, std::numeric_limits<double>::denorm_min()},
                              {id, t + 3'000'000'000, 123456789.123456789},
                              {id, t + 4'000'000'000, NAN},
                              {id, t + 5'000'000'000, -2.5e15}};
  REQUIRE(consume(storage, rows, 1) == VITALS_PENDING);
  REQUIRE(storage.flush() == VITALS_OK);
  auto reply =
      query(host, storage, R"({"op":"query","match":"exact","method":"raw")" + range(t, t + 10 * second) + "}");
  CHECK(reply["from"].integer() == t);
  CHECK(reply["to"].integer() == t + 10 * second);
  CHECK(reply["tier"].str() == "raw");
  CHECK(reply["method"].str() == "raw");
  REQUIRE(reply["series"].size() == 1);
  const Json &s = reply["series"][0];
  CHECK(s["series"].str() == "exact{unit=\"°C\"}");
  CHECK(s["name"].str() == "exact");
  CHECK(s["labels"]["unit"].str() == "°C");
  REQUIRE(s["points"].size() == rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    CAPTURE(i);
    CHECK(s["points"][i][0].integer() == rows[i].ts);
    if (std::isnan(rows[i].value)) {
      CHECK(s["points"][i][1].is_null());
    } else {
      double v = s["points"][i][1].number();
      CHECK(std::memcmp(&v, &rows[i].value, sizeof v) == 0);
    }
  }
}

TEST_CASE("series listing and selectors: globs, equality, negation, regex") {
  vitals::testing::Host host;
  auto storage = host.create_started(vitals_plugin());
  int64_t t = now_ns();
  REQUIRE(consume(storage,
                  {{host.intern("cpu_usage", {{"cpu", "0"}, {"mode", "user"}}), t, 1},
                   {host.intern("cpu_usage", {{"cpu", "1"}, {"mode", "system"}}), t, 2},
                   {host.intern("cpu_temp", {{"cpu", "0"}}), t, 3},
                   {host.intern("mem_free"), t, 4},
                   {host.intern("disk_io", {{"dev", "sda"}}), t, 5}},
                  1) == VITALS_PENDING);
  REQUIRE(storage.flush() == VITALS_OK);
  auto match = [&](const std::string &sel) {
    std::string escaped;
    for (char c : sel) escaped += c == '"' ? std::string("\\\"") : std::string(1, c);
    return names(query(host, storage, R"({"op":"series","match":")" + escaped + "\"}")["series"]);
  };
  using V = std::vector<std::string>;
  CHECK(match("*") == V{"cpu_temp{cpu=\"0\"}", "cpu_usage{cpu=\"0\",mode=\"user\"}",
                        "cpu_usage{cpu=\"1\",mode=\"system\"}", "disk_io{dev=\"sda\"}", "mem_free"});
  CHECK(match("").size() == 5);
  CHECK(match("cpu_*") ==
        V{"cpu_temp{cpu=\"0\"}", "cpu_usage{cpu=\"0\",mode=\"user\"}", "cpu_usage{cpu=\"1\",mode=\"system\"}"});
  CHECK(match("*_io") == V{"disk_io{dev=\"sda\"}"});
  CHECK(match("cpu_usage{cpu=\"0\"}") == V{"cpu_usage{cpu=\"0\",mode=\"user\"}"});
  CHECK(match("cpu_usage{mode!=\"user\"}") == V{"cpu_usage{cpu=\"1\",mode=\"system\"}"});
  CHECK(match("{cpu=~\"[01]\"}") ==
        V{"cpu_temp{cpu=\"0\"}", "cpu_usage{cpu=\"0\",mode=\"user\"}", "cpu_usage{cpu=\"1\",mode=\"system\"}"});
  CHECK(match("{cpu!~\"0|1\"}") == V{"disk_io{dev=\"sda\"}", "mem_free"});  // no label reads as ""
  CHECK(match("cpu_*{cpu=\"0\", mode=~\"us.*\"}") == V{"cpu_usage{cpu=\"0\",mode=\"user\"}"});
  CHECK(match("nothing") == V{});
  auto s = query(host, storage, R"({"op":"series","match":"disk_io"})")["series"][0];
  CHECK(s["name"].str() == "disk_io");
  CHECK(s["labels"]["dev"].str() == "sda");
  auto bad = query(host, storage, R"({"op":"series","match":"cpu{mode=~\"(\"}"})", 400);
  CHECK(bad["error"].str().find("invalid regular expression") != std::string::npos);
  query(host, storage, R"({"op":"series","match":"cpu{mode"})", 400);
}

TEST_CASE("latest returns the newest sample of each matching series") {
  vitals::testing::Host host;
  auto storage = host.create_started(vitals_plugin());
  auto a = host.intern("t", {{"room", "a"}}), b = host.intern("t", {{"room", "b"}});
  int64_t t = now_ns();
  REQUIRE(consume(storage, {{a, t + 10, 1}, {a, t + 30, 3}, {a, t + 20, 2}, {b, t + 5, 0.5}}, 1) == VITALS_PENDING);
  REQUIRE(storage.flush() == VITALS_OK);
  auto reply = query(host, storage, R"({"op":"latest","match":"t"})");
  REQUIRE(reply["series"].size() == 2);
  CHECK(reply["series"][0]["series"].str() == "t{room=\"a\"}");
  CHECK(reply["series"][0]["ts"].integer() == t + 30);
  CHECK(reply["series"][0]["value"].number() == 3);
  CHECK(reply["series"][0]["labels"]["room"].str() == "a");
  CHECK(reply["series"][1]["ts"].integer() == t + 5);
  CHECK(query(host, storage, R"({"op":"latest","match":"t{room=\"b\"}"})")["series"].size() == 1);
}

TEST_CASE("downsampled queries: at most `points` per series, first and last kept by lttb") {
  vitals::testing::Host host;
  auto storage = host.create_started(vitals_plugin());
  auto id = host.intern("wave");
  int64_t start = (now_ns() / hour - 2) * hour;
  std::vector<Row> rows;
  for (int i = 0; i < 3600; ++i) rows.push_back({id, start + i * second, std::sin(i / 100.0) * 10 + (i % 7)});
  REQUIRE(consume(storage, rows, 1) == VITALS_PENDING);
  REQUIRE(storage.flush() == VITALS_OK);
  std::string r = range(start, start + hour - 1);

  auto lttb = query(host, storage, R"({"op":"query","match":"wave","method":"lttb","points":200)" + r + "}");
  CHECK(lttb["tier"].str() == "raw");  // 18 s buckets
  const Json &lp = lttb["series"][0]["points"];
  CHECK(lp.size() == 200);
  CHECK(lp[0][0].integer() == start);
  CHECK(lp[199][0].integer() == start + 3599 * second);

  auto avg = query(host, storage, R"({"op":"query","match":"wave","method":"avg","points":360)" + r + "}");
  CHECK(avg["tier"].str() == "raw");  // 10 s buckets
  const Json &ap = avg["series"][0]["points"];
  REQUIRE(ap.size() == 360);
  double first = 0;
  for (int i = 0; i < 10; ++i) first += rows[i].value;
  CHECK(ap[0][0].integer() == start);
  CHECK(ap[0][1].number() == doctest::Approx(first / 10));

  std::string whole_hour = range(start, start + hour);  // 60 buckets of exactly a minute
  auto mm = query(host, storage, R"({"op":"query","match":"wave","method":"minmax","points":120)" + whole_hour + "}");
  CHECK(mm["tier"].str() == "1m");  // 60 buckets of 60 s
  const Json &mp = mm["series"][0]["points"];
  CHECK(mp.size() == 120);
  double lo = 1e9, hi = -1e9;
  for (int i = 0; i < 60; ++i) lo = std::min(lo, rows[i].value), hi = std::max(hi, rows[i].value);
  CHECK(std::min(mp[0][1].number(), mp[1][1].number()) == lo);
  CHECK(std::max(mp[0][1].number(), mp[1][1].number()) == hi);

  auto rawmm = query(host, storage, R"({"op":"query","match":"wave","method":"minmax","points":1200)" + r + "}");
  CHECK(rawmm["tier"].str() == "raw");  // 600 buckets of 6 s: real timestamps of the extremes
  CHECK(rawmm["series"][0]["points"].size() <= 1200);

  auto per_minute =
      query(host, storage, R"({"op":"query","match":"wave","method":"avg","points":60)" + whole_hour + "}");
  CHECK(per_minute["tier"].str() == "1m");
  const Json &mpts = per_minute["series"][0]["points"];
  REQUIRE(mpts.size() == 60);
  double sum = 0;
  for (int i = 60; i < 120; ++i) sum += rows[i].value;
  CHECK(mpts[1][0].integer() == start + minute);
  CHECK(mpts[1][1].number() == doctest::Approx(sum / 60));

  auto hourly = query(
      host, storage,
      R"({"op":"query","match":"wave","method":"lttb","points":2)" + range(start - 24 * hour, start + hour) + "}");
  CHECK(hourly["tier"].str() == "1h");
  CHECK(hourly["series"][0]["points"].size() == 1);  // one hour of data: one hourly bucket
}

TEST_CASE("a closed range is answered from the cache until a late write touches it") {
  vitals::testing::Host host;
  auto storage = host.create_started(vitals_plugin());
  auto id = host.intern("c");
  int64_t start = now_ns() - hour;
  REQUIRE(consume(storage, {{id, start, 1}, {id, start + minute, 2}}, 1) == VITALS_PENDING);
  REQUIRE(storage.flush() == VITALS_OK);
  std::string q = R"({"op":"query","match":"c","method":"raw")" + range(start, start + 10 * minute) + "}";
  auto stats = [&] { return query(host, storage, R"({"op":"stats"})"); };

  auto first = query(host, storage, q);
  CHECK(stats()["query_cache_misses"].integer() == 1);
  auto second = query(host, storage, q);
  CHECK(stats()["query_cache_hits"].integer() == 1);
  CHECK(second["series"][0]["points"].size() == 2);
  CHECK(storage.stats()["query_cache_entries"] == 1);

  // A write after the range's end leaves the entry alone...
  REQUIRE(consume(storage, {{id, start + 20 * minute, 3}}, 2) == VITALS_PENDING);
  REQUIRE(storage.flush() == VITALS_OK);
  query(host, storage, q);
  CHECK(stats()["query_cache_hits"].integer() == 2);
  // ...a late one inside it drops the entry, and the next answer has it.
  REQUIRE(consume(storage, {{id, start + 5 * minute, 4}}, 3) == VITALS_PENDING);
  REQUIRE(storage.flush() == VITALS_OK);
  auto third = query(host, storage, q);
  CHECK(stats()["query_cache_hits"].integer() == 2);
  REQUIRE(third["series"][0]["points"].size() == 3);
  CHECK(third["series"][0]["points"][1][1].number() == 2);
  CHECK(third["series"][0]["points"][2][1].number() == 4);
  query(host, storage, q);
  CHECK(stats()["query_cache_hits"].integer() == 3);

  // A range still open (ending now) is never cached.
  std::string open = R"({"op":"query","match":"c","method":"raw","from":"-2h"})";
  query(host, storage, open);
  query(host, storage, open);
  CHECK(stats()["query_cache_hits"].integer() == 3);
}

TEST_CASE("bad requests get 400 and a reason") {
  vitals::testing::Host host;
  auto storage = host.create_started(vitals_plugin());
  auto reason = [&](const std::string &request) { return query(host, storage, request, 400)["error"].str(); };
  CHECK(reason("not json").find("invalid JSON") != std::string::npos);
  CHECK(reason(R"({"op":"drop"})").find("unknown op \"drop\"") != std::string::npos);
  CHECK(reason(R"({})").find("\"op\" is required") != std::string::npos);
  CHECK(reason(R"({"op":"query","from":10,"to":9})").find("after") != std::string::npos);
  CHECK(reason(R"({"op":"query","points":0})").find("at least 1") != std::string::npos);
  CHECK(reason(R"({"op":"query","method":"median"})").find("unknown method") != std::string::npos);
  CHECK(reason(R"({"op":"query","match":"a{"})").find("selector") != std::string::npos);
  CHECK(reason(R"({"op":"backup"})").find("absolute path") != std::string::npos);
  CHECK(reason(R"({"op":"backup","to":"relative.db"})").find("absolute path") != std::string::npos);
  CHECK(storage.stats()["query_errors"] == 9);
}

TEST_CASE("backup copies the live database to a readable file with the same rows") {
  vitals::testing::Host host;
  auto storage = host.create_started(vitals_plugin(), "layout = \"v2\"\nflush_interval = \"1h\"");
  auto id = host.intern("b");
  std::vector<Row> rows;
  int64_t t0 = now_ns() - hour;
  for (int64_t i = 0; i < 20000; ++i) rows.push_back({id, t0 + i * 100'000'000, 1.0 * i});
  REQUIRE(consume(storage, rows, 1) == VITALS_PENDING);
  REQUIRE(storage.flush() == VITALS_OK);
  // A transaction left open by the writer is not in the copy.
  REQUIRE(consume(storage, {{id, now_ns(), -1}}, 2) == VITALS_PENDING);

  std::string to = host.data_dir() + "/copy.db";
  auto reply = query(host, storage, R"({"op":"backup","to":")" + to + "\"}");
  CHECK(reply["path"].str() == to);
  CHECK(reply["bytes"].integer() == static_cast<int64_t>(std::filesystem::file_size(to)));
  CHECK_FALSE(std::filesystem::exists(to + ".partial"));
  {
    Db copy(to);
    CHECK(copy.integer("SELECT count(*) FROM samples") == 20000);
    CHECK(copy.integer("PRAGMA user_version") == vitals::sqlite::schema_version);
    CHECK(copy.rows("PRAGMA integrity_check")[0][0] == "ok");
    CHECK(copy.rows("PRAGMA journal_mode")[0][0] == "delete");
  }
  // It opens as a vitals database.
  auto restored = host.create_started(vitals_plugin(), "layout = \"v2\"\npath = \"copy.db\"");
  CHECK(query(host, restored, R"({"op":"stats"})")["samples"].integer() == 20000);
  // Never over an existing file.
  CHECK(query(host, storage, R"({"op":"backup","to":")" + to + "\"}", 400)["error"].str().find("already exists") !=
        std::string::npos);
  REQUIRE(storage.flush() == VITALS_OK);
}

TEST_CASE("stats: database figures and counters") {
  vitals::testing::Host host;
  auto storage = host.create_started(vitals_plugin());
  auto a = host.intern("a"), b = host.intern("b");
  int64_t t = now_ns();
  REQUIRE(consume(storage, {{a, t + 1, 1}, {a, t + 2, 2}, {b, t + 1, 3}}, 1) == VITALS_PENDING);
  REQUIRE(storage.flush() == VITALS_OK);
  REQUIRE(consume(storage, {{a, t + 2, 5}}, 2) == VITALS_PENDING);  // a replacement: written, not stored again
  REQUIRE(storage.flush() == VITALS_OK);
  auto s = query(host, storage, R"({"op":"stats"})");
  CHECK(s["path"].str() == host.data_dir() + "/metrics.db");
  CHECK(s["schema_version"].integer() == vitals::sqlite::schema_version);
  CHECK(s["file_bytes"].integer() > 0);
  CHECK(s["wal_bytes"].integer() > 0);
  CHECK(s["page_size"].integer() == 4096);
  CHECK(s["page_count"].integer() > 0);
  CHECK(s["series"].integer() == 2);
  CHECK(s["samples"].integer() == 3);
  CHECK(s["rows_written"].integer() == 4);
  CHECK(s["commits"].integer() == 2);
  CHECK(s["last_commit_ms"].number() >= 0);
  CHECK(s.has("query_cache_hits"));
  CHECK(s.has("query_cache_misses"));
  auto st = storage.stats();
  for (const char *name : {"samples_written", "samples_stored", "series", "commits", "commit_errors", "batches_failed",
                           "last_commit_seconds", "query_cache_hits", "query_cache_misses", "query_cache_entries",
                           "db_bytes", "wal_bytes", "retention_deleted", "queries"})
    CHECK_MESSAGE(st.count(name), name);
  CHECK(st["samples_written"] == 4);
  CHECK(st["samples_stored"] == 3);
}

TEST_CASE("queries run while the writer thread writes, and see whole commits only") {
  vitals::testing::Host host;
  auto storage = host.create_started(vitals_plugin(), "flush_interval = \"1h\"");
  std::vector<vitals_series_id_t> ids{host.intern("w", {{"n", "1"}}), host.intern("w", {{"n", "2"}})};
  int64_t t0 = now_ns() - hour;
  std::atomic<bool> done{false};
  std::thread writer([&] {
    // Each commit adds 100 samples to each series: a reader never sees the two differ.
    for (int commit = 0; commit < 60; ++commit) {
      for (int part = 0; part < 2; ++part) {
        std::vector<Row> rows;
        for (int i = 0; i < 50; ++i)
          for (auto id : ids) rows.push_back({id, t0 + (commit * 100 + part * 50 + i) * 1'000'000LL, 1.0 * i});
        consume(storage, rows, static_cast<uintptr_t>(commit * 2 + part + 1));
      }
      storage.flush();
    }
    done = true;
  });
  int checks = 0;
  while (!done || checks == 0) {
    auto [status, body] = host.query(storage, R"({"op":"query","match":"w","method":"raw","from":"-2h"})");
    REQUIRE(status == 200);
    auto reply = Json::parse(body);
    if (reply["series"].size() == 2) {
      CHECK(reply["series"][0]["points"].size() == reply["series"][1]["points"].size());
      CHECK(reply["series"][0]["points"].size() % 100 == 0);
    }
    auto latest = Json::parse(host.query(storage, R"({"op":"latest","match":"w"})").second);
    CHECK(latest["series"].size() != 1);
    ++checks;
  }
  writer.join();
  CHECK(host.completions().size() == 120);
  auto reply = query(host, storage, R"({"op":"query","match":"w","method":"raw","from":"-2h"})");
  CHECK(reply["series"][0]["points"].size() == 6000);
}

TEST_CASE("backup of a file larger than one step, while the writer commits, is one consistent snapshot") {
  vitals::testing::Host host;
  auto storage = host.create_started(vitals_plugin(), "layout = \"v2\"\nflush_interval = \"1h\"");
  auto id = host.intern("big");
  int64_t t0 = now_ns() - 10 * hour;
  int64_t next = 0;
  auto write_batch = [&](uintptr_t ack) {
    std::vector<Row> rows;
    for (int i = 0; i < 1000; ++i, ++next) rows.push_back({id, t0 + next * 100'000'000, 1.0 * next});
    REQUIRE(consume(storage, rows, ack) == VITALS_PENDING);
    REQUIRE(storage.flush() == VITALS_OK);
  };
  for (uintptr_t b = 1; b <= 250; ++b) write_batch(b);  // about 8 MB: several backup steps
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (uintptr_t b = 1000; !done; ++b) write_batch(b);
  });
  std::string to = host.data_dir() + "/snapshot.db";
  auto reply = query(host, storage, R"({"op":"backup","to":")" + to + "\"}");
  done = true;
  writer.join();
  Db copy(to);
  int64_t rows = copy.integer("SELECT count(*) FROM samples");
  CHECK(rows >= 250'000);
  CHECK(rows % 1000 == 0);  // whole commits only
  CHECK(copy.integer("SELECT sum(count) FROM rollup_1m") == rows);
  CHECK(copy.rows("PRAGMA integrity_check")[0][0] == "ok");
  CHECK(reply["bytes"].integer() > 4 * 1024 * 1024);
}
