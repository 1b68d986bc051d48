// Layout v3 through the plugin: recent samples answered from the head and
// kept across a restart, old ones sealed into chunks, late writes over
// sealed chunks, rollups from head and chunks, retention by whole chunks,
// and a file keeping the layout it was created with.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <thread>

#include "../db.hpp"
#include "../schema.hpp"
#include "../v3_store.hpp"
#include "support.hpp"

using namespace test;

namespace {

// Sealing as soon as rows can go, so that a flush shows its effect.
const char *kV3 = "layout = \"v3\"\nseal_after = \"0s\"\n";

std::string raw_query(int64_t from, int64_t to) {
  return R"({"op":"query","match":"m","method":"raw","from":)" + std::to_string(from) + R"(,"to":)" +
         std::to_string(to) + "}";
}

// t, or the start of the chunk window open now (2 h from the epoch) if t is
// before it: samples from there stay in the head, while those of a window
// that just closed are sealed at once (within minutes of an even hour).
int64_t in_open_window(int64_t t) { return std::max(t, now_ns() / (2 * hour) * (2 * hour)); }

int64_t stat(vitals::testing::Host &host, vitals::testing::Instance &storage, const std::string &name) {
  return query(host, storage, R"({"op":"stats"})")[name].integer();
}

// Waits up to 3 s for a counter the writer's timer moves to leave 0 (the
// counters follow the commit they count).
void wait_for_stat(vitals::testing::Host &host, vitals::testing::Instance &storage, const std::string &name) {
  for (int i = 0; i < 300 && stat(host, storage, name) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

}  // namespace

TEST_CASE("v3: recent samples come from the head, and survive a restart through the head rows") {
  vitals::testing::Host host;
  auto id = host.intern("m");
  const int64_t t0 = in_open_window(now_ns() - 10 * second);
  {
    auto storage = host.create_started(vitals_plugin(), kV3);
    REQUIRE(consume(storage, {{id, t0, 1.5}, {id, t0 + second, 2.5}, {id, t0 + 2 * second, NAN}}, 1) == VITALS_PENDING);
    REQUIRE(storage.flush() == VITALS_OK);
    CHECK(stat(host, storage, "layout") == 3);
    CHECK(stat(host, storage, "head_samples") == 3);
    CHECK(stat(host, storage, "samples") == 3);
    auto reply = query(host, storage, raw_query(t0, t0 + 2 * second));
    REQUIRE(reply["series"][0]["points"].size() == 3);
    CHECK(reply["series"][0]["points"][1][1].number() == 2.5);
    CHECK(reply["series"][0]["points"][2][1].is_null());
    Db db(host.data_dir() + "/metrics.db");
    CHECK(db.integer("SELECT count(*) FROM head") == 1);
    CHECK(db.integer("SELECT count(*) FROM samples") == 0);
  }
  // Reopened without the layout key: the file keeps its own.
  auto storage = host.create_started(vitals_plugin(), "");
  CHECK(stat(host, storage, "layout") == 3);
  CHECK(stat(host, storage, "samples") == 3);
  auto reply = query(host, storage, raw_query(t0, t0 + 2 * second));
  REQUIRE(reply["series"][0]["points"].size() == 3);
  CHECK(reply["series"][0]["points"][0][1].number() == 1.5);
  CHECK(query(host, storage, R"({"op":"latest","match":"m"})")["series"][0]["ts"].integer() == t0 + 2 * second);
}

TEST_CASE("v3: old samples are sealed into chunks; a late write over them wins, in raw and rollups") {
  vitals::testing::Host host;
  auto id = host.intern("m");
  auto storage = host.create_started(vitals_plugin(), kV3);
  // A day ago, every 10 s for an hour: windows long closed, sealed at once.
  const int64_t t0 = (now_ns() - day) / hour * hour;
  std::vector<Row> rows;
  for (int i = 0; i < 360; ++i) rows.push_back({id, t0 + i * 10 * second, static_cast<double>(i % 7)});
  REQUIRE(consume(storage, rows, 1) == VITALS_PENDING);
  REQUIRE(storage.flush() == VITALS_OK);
  CHECK(stat(host, storage, "head_samples") == 0);
  CHECK(stat(host, storage, "chunks_written") == 1);
  CHECK(stat(host, storage, "samples") == 360);
  Db db(host.data_dir() + "/metrics.db");
  CHECK(db.integer("SELECT count(*) FROM head") == 0);
  CHECK(db.integer("SELECT sum(n) FROM chunks") == 360);
  // Where the pages went: a head row committed, then sealed and finalized.
  const int64_t sealing = stat(host, storage, "pages_written_sealing"),
                finalizing = stat(host, storage, "pages_written_finalizing");
  CHECK(sealing > 0);
  CHECK(finalizing > 0);
  CHECK(stat(host, storage, "pages_written") > sealing + finalizing);

  // The same timestamp again, and a new one, late: the value written last wins.
  REQUIRE(consume(storage, {{id, t0 + 10 * second, 100.0}, {id, t0 + 5 * second, 50.0}}, 2) == VITALS_PENDING);
  REQUIRE(storage.flush() == VITALS_OK);
  CHECK(stat(host, storage, "samples") == 361);
  auto points = query(host, storage, raw_query(t0, t0 + 10 * second))["series"][0]["points"];
  REQUIRE(points.size() == 3);
  CHECK(points[1][0].integer() == t0 + 5 * second);
  CHECK(points[1][1].number() == 50.0);
  CHECK(points[2][1].number() == 100.0);
  CHECK(db.integer("SELECT sum(n) FROM chunks") == 361);

  // The first minute's average over its samples as they are now.
  double sum = 50.0 + 100.0;
  int count = 2;
  for (int i = 0; i < 6; ++i)
    if (i != 1) sum += i % 7, ++count;
  for (const char *tier : {"1m", "1h"}) {
    auto reply =
        query(host, storage,
              R"({"op":"query","match":"m","method":"avg","tier":")" + std::string(tier) + R"(","points":60,"from":)" +
                  std::to_string(t0) + R"(,"to":)" + std::to_string(t0 + hour - 1) + "}");
    REQUIRE(reply["series"][0]["points"].size() > 0);
    if (std::string(tier) == "1m") CHECK(reply["series"][0]["points"][0][1].number() == doctest::Approx(sum / count));
  }
}

TEST_CASE("v3: a rollup query sees samples still in the head") {
  vitals::testing::Host host;
  auto id = host.intern("m");
  auto storage = host.create_started(vitals_plugin(), kV3);
  const int64_t t0 = in_open_window(now_ns() / minute * minute - 5 * minute);
  std::vector<Row> rows;
  for (int i = 0; i < 30; ++i) rows.push_back({id, t0 + i * 10 * second, 2.0});
  REQUIRE(consume(storage, rows, 1) == VITALS_PENDING);
  REQUIRE(storage.flush() == VITALS_OK);
  REQUIRE(stat(host, storage, "head_samples") == 30);
  auto reply = query(host, storage,
                     R"({"op":"query","match":"m","method":"avg","tier":"1m","points":5,"from":)" + std::to_string(t0) +
                         R"(,"to":)" + std::to_string(t0 + 5 * minute - 1) + "}");
  const Json &points = reply["series"][0]["points"];
  REQUIRE(points.size() == 5);
  for (size_t i = 0; i < points.size(); ++i) CHECK(points[i][1].number() == 2.0);
}

TEST_CASE(
    "v3: a window's sealed buckets are kept, the head added to them exactly; a later write of a sealed sample wins") {
  vitals::testing::Host host;
  auto id = host.intern("m");
  auto storage = host.create_started(vitals_plugin(), kV3);
  const int64_t w = now_ns() / (2 * hour) * (2 * hour);  // the open window
  std::map<int64_t, double> model;
  auto write = [&](const std::vector<std::pair<int64_t, double>> &samples, uintptr_t token) {
    std::vector<Row> rows;
    for (auto [ts, v] : samples) {
      rows.push_back({id, ts, v});
      if (ts < w + 2 * hour) model[ts] = v;
    }
    REQUIRE(consume(storage, rows, token) == VITALS_PENDING);
    REQUIRE(storage.flush() == VITALS_OK);
  };
  // A row holding a sample far ahead (past now + 1 h) is sealed at once, so
  // the open window's first samples go to a partial chunk...
  std::vector<std::pair<int64_t, double>> sealed, in_head;
  for (int i = 0; i < 45; ++i) sealed.push_back({w + i * 7 * second, 0.1 * i});
  sealed.push_back({now_ns() + 3 * hour, 1.0});
  write(sealed, 1);
  CHECK(stat(host, storage, "head_samples") == 0);
  // ...while the next ones stay in the head; minute 5 holds both.
  for (int i = 45; i < 90; ++i) in_head.push_back({w + i * 7 * second, 0.1 * i});
  write(in_head, 2);
  CHECK(stat(host, storage, "head_samples") == 45);

  // Each minute's average, its sum taken in time order as a rollup does.
  auto expected = [&] {
    std::map<int64_t, std::pair<double, int>> minutes;
    for (auto [ts, v] : model) {
      auto &m = minutes[(ts - w) / minute];
      m.first += v;
      ++m.second;
    }
    std::vector<double> out;
    for (auto [m, sum_count] : minutes) out.push_back(sum_count.first / sum_count.second);
    return out;
  };
  auto averages = [&] {
    auto reply = query(host, storage,
                       R"({"op":"query","match":"m","method":"avg","tier":"1m","points":120,"from":)" +
                           std::to_string(w) + R"(,"to":)" + std::to_string(w + 2 * hour - 1) + "}");
    std::vector<double> out;
    const Json &points = reply["series"][0]["points"];
    for (size_t i = 0; i < points.size(); ++i) out.push_back(points[i][1].number());
    return out;
  };
  CHECK(averages() == expected());
  CHECK(stat(host, storage, "window_rollup_cache_bytes") > 0);
  const double hits = stat(host, storage, "window_rollup_cache_hits");
  CHECK(averages() == expected());  // the sealed part from the cache
  CHECK(stat(host, storage, "window_rollup_cache_hits") == hits + 1);
  // A later write of a sealed timestamp, and of a new one: the last write wins.
  write({{w + 7 * second, 100.0}, {w + 630 * second, 5.0}}, 3);
  CHECK(averages() == expected());
}

TEST_CASE("v3: retention drops whole chunks and keeps their minutes") {
  vitals::testing::Host host;
  auto id = host.intern("m");
  // Three days ago, 10 s apart: one chunk, too sparse for stored minutes.
  const int64_t t0 = (now_ns() - 3 * day) / hour * hour;
  std::vector<Row> rows;
  for (int i = 0; i < 60; ++i) rows.push_back({id, t0 + i * 10 * second, static_cast<double>(i)});
  {
    auto storage = host.create_started(vitals_plugin(), kV3);
    REQUIRE(consume(storage, rows, 1) == VITALS_PENDING);
    REQUIRE(storage.flush() == VITALS_OK);  // sealed
    CHECK(stat(host, storage, "samples") == 60);
  }
  // Kept a day from now on: the next commit's maintenance drops that chunk.
  auto storage = host.create_started(vitals_plugin(), std::string(kV3) + "retention = \"1d\"\n");
  // Three hours ago: a closed window, sealed at once (a sample in the open
  // window would hold back every later head row).
  REQUIRE(consume(storage, {{id, now_ns() - 3 * hour, 1.0}}, 1) == VITALS_PENDING);
  REQUIRE(storage.flush() == VITALS_OK);
  Db db(host.data_dir() + "/metrics.db");
  const std::string old_chunks = "SELECT count(*) FROM chunks WHERE start < " + std::to_string(now_ns() - day);
  CHECK(db.integer(old_chunks) == 0);
  CHECK(stat(host, storage, "samples") == 1);  // the new sample
  CHECK(stat(host, storage, "retention_deleted") > 0);
  CHECK(query(host, storage, raw_query(t0, t0 + hour))["series"].size() == 0);  // series without points are left out
  auto minutes = query(host, storage,
                       R"({"op":"query","match":"m","method":"avg","tier":"1m","points":10,"from":)" +
                           std::to_string(t0) + R"(,"to":)" + std::to_string(t0 + 10 * minute - 1) + "}");
  REQUIRE(minutes["series"][0]["points"].size() == 10);
  CHECK(minutes["series"][0]["points"][0][1].number() == 2.5);  // the average of 0..5

  // A write older than retention (a spool replayed late) goes into the
  // window's rollups, beside what they held: its raw sample is not kept.
  REQUIRE(consume(storage, {{id, t0 + 5 * second, 100.0}}, 2) == VITALS_PENDING);
  REQUIRE(storage.flush() == VITALS_OK);
  CHECK(stat(host, storage, "head_samples") == 0);  // sealed: into the rollups
  CHECK(db.integer(old_chunks) == 0);
  minutes = query(host, storage,
                  R"({"op":"query","match":"m","method":"avg","tier":"1m","points":10,"from":)" + std::to_string(t0) +
                      R"(,"to":)" + std::to_string(t0 + 10 * minute - 1) + "}");
  REQUIRE(minutes["series"][0]["points"].size() == 10);
  CHECK(minutes["series"][0]["points"][0][1].number() == 115.0 / 7);  // 0..5 and 100
  CHECK(minutes["series"][0]["points"][1][1].number() == 8.5);        // the next minute unchanged
}

TEST_CASE("v3: read_only opens a v3 file with its head") {
  vitals::testing::Host host;
  auto id = host.intern("m");
  const int64_t recent = in_open_window(now_ns() - second), old = (now_ns() - day) / hour * hour;
  {
    auto storage = host.create_started(vitals_plugin(), kV3);
    REQUIRE(consume(storage, {{id, old, 1.0}, {id, recent, 2.0}}, 1) == VITALS_PENDING);
    REQUIRE(storage.flush() == VITALS_OK);
  }
  auto reader = host.create_started(vitals_plugin(), "read_only = true");
  auto points = query(host, reader, raw_query(old, recent))["series"][0]["points"];
  REQUIRE(points.size() == 2);
  CHECK(points[0][1].number() == 1.0);
  CHECK(points[1][1].number() == 2.0);
}

// The runs of whole seconds from t0 missing from a raw reply's points.
std::string gaps(const Json &points, int64_t t0) {
  std::string out;
  int64_t expect = t0;
  for (size_t i = 0; i < points.size(); ++i) {
    if (points[i][0].integer() != expect)
      out += "missing " + std::to_string((expect - t0) / second) + ".." +
             std::to_string((points[i][0].integer() - t0) / second - 1) + "; ";
    expect = points[i][0].integer() + second;
  }
  return out + "last " + std::to_string((expect - t0) / second - 1);
}

TEST_CASE("v3: queries racing sealing never miss a sample") {
  // Each batch is old enough to be sealed at its flush: its samples move
  // from the head to a chunk while queries read. A query must see every
  // sample acknowledged before it began, whichever side holds it.
  vitals::testing::Host host;
  auto id = host.intern("m");
  auto storage = host.create_started(vitals_plugin(), kV3);
  const int64_t t0 = (now_ns() - day) / hour * hour;
  constexpr int batches = 60, per_batch = 50;
  std::atomic<int> acknowledged{0};
  std::atomic<bool> done{false};
  int64_t shortfalls = 0, queries = 0;
  std::thread reader([&] {
    while (!done) {
      const int before = acknowledged.load();
      auto [code, body] = host.query(storage, raw_query(t0, t0 + day));
      if (code != 200) continue;
      const Json reply = Json::parse(body);
      const size_t seen = reply["series"].size() ? reply["series"][0]["points"].size() : 0;
      if (seen < static_cast<size_t>(before)) {
        // Which samples a short reply lacks, for the first few.
        if (++shortfalls < 4 && reply["series"].size())
          MESSAGE("acknowledged " << before << ", seen " << seen << ": " << gaps(reply["series"][0]["points"], t0));
      }
      ++queries;
    }
  });
  for (int b = 0; b < batches; ++b) {
    std::vector<Row> rows;
    for (int i = 0; i < per_batch; ++i) {
      const int n = b * per_batch + i;
      rows.push_back({id, t0 + n * second, static_cast<double>(n)});
    }
    REQUIRE(consume(storage, rows, static_cast<uintptr_t>(b + 1)) == VITALS_PENDING);
    REQUIRE(storage.flush() == VITALS_OK);
    acknowledged = (b + 1) * per_batch;
  }
  done = true;
  reader.join();
  CHECK(shortfalls == 0);
  CHECK(queries > 0);
  CHECK(stat(host, storage, "head_rows_sealed") == batches);
  const Json points = query(host, storage, raw_query(t0, t0 + day))["series"][0]["points"];
  INFO(gaps(points, t0));
  CHECK(points.size() == batches * per_batch);
}

namespace {

using Model = std::map<std::string, std::map<int64_t, double>>;  // series name -> ts -> value

// A v2 file written by this code: 12 series over three days at 10 s with
// late and repeated writes and NaN, in several commits; returns the model.
Model write_v2_file(vitals::testing::Host &host, int64_t t0) {
  Model model;
  auto storage = host.create_started(vitals_plugin(), "layout = \"v2\"\nmax_batch_samples = 5000\n");
  std::mt19937_64 rng(7);
  uintptr_t ack = 1;
  for (int round = 0; round < 6; ++round) {
    std::vector<Row> rows;
    for (int s = 0; s < 12; ++s) {
      const std::string name = "m" + std::to_string(s);
      auto id = host.intern(name);
      for (int i = 0; i < 500; ++i) {
        int64_t ts = t0 + (round * 500 + i) * 10 * second;
        if (rng() % 20 == 0) ts = t0 + static_cast<int64_t>(rng() % (round * 500 + i + 1)) * 10 * second;  // late
        const double value = rng() % 50 == 0 ? NAN : static_cast<double>(rng() % 10000) / 100;
        rows.push_back({id, ts, value});
        model[name][ts] = value;
      }
    }
    REQUIRE(consume(storage, rows, ack++) == VITALS_PENDING);
    REQUIRE(storage.flush() == VITALS_OK);
  }
  return model;
}

// Waits until the stats stop reporting a migration in progress.
bool migrated(vitals::testing::Host &host, vitals::testing::Instance &storage) {
  for (int i = 0; i < 600; ++i) {
    if (!query(host, storage, R"({"op":"stats"})").has("migration")) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// Every raw point of every series equals the model, NaN as null.
void check_against(vitals::testing::Host &host, vitals::testing::Instance &storage, const Model &model, int64_t from,
                   int64_t to) {
  for (const auto &[name, samples] : model) {
    auto reply = query(host, storage,
                       R"({"op":"query","match":")" + name + R"(","method":"raw","from":)" + std::to_string(from) +
                           R"(,"to":)" + std::to_string(to) + "}");
    REQUIRE(reply["series"].size() == 1);
    const Json &points = reply["series"][0]["points"];
    REQUIRE(points.size() == samples.size());
    size_t i = 0;
    for (const auto &[ts, value] : samples) {
      CHECK(points[i][0].integer() == ts);
      if (std::isnan(value))
        CHECK(points[i][1].is_null());
      else
        CHECK(points[i][1].number() == value);
      ++i;
    }
  }
}

}  // namespace

TEST_CASE("v3: a v2 file migrates on open: every sample and rollup moved, checked, and the v2 rows gone") {
  vitals::testing::Host host;
  const int64_t t0 = (now_ns() - 4 * day) / hour * hour;
  const Model model = write_v2_file(host, t0);
  std::string minutes_before;
  size_t total = 0;
  for (const auto &[name, samples] : model) total += samples.size();
  {
    auto v2 = host.create_started(vitals_plugin(), "layout = \"v2\"");
    minutes_before = host.query(v2, R"({"op":"query","match":"m3","method":"avg","tier":"1m","points":500,"from":)" +
                                        std::to_string(t0) + R"(,"to":)" + std::to_string(t0 + day) + "}")
                         .second;
  }
  auto storage = host.create_started(vitals_plugin(), kV3);
  // A new sample meanwhile goes to the head, and wins over the v2 row it repeats.
  const int64_t repeated = model.at("m0").begin()->first;
  REQUIRE(consume(storage, {{host.intern("m0"), repeated, 1234.5}}, 99) == VITALS_PENDING);
  REQUIRE(storage.flush() == VITALS_OK);
  REQUIRE(migrated(host, storage));
  Model expected = model;
  expected["m0"][repeated] = 1234.5;
  check_against(host, storage, expected, t0, now_ns());
  CHECK(stat(host, storage, "samples") == static_cast<int64_t>(total));
  CHECK(stat(host, storage, "layout") == 3);
  // The rollups moved as v2 kept them.
  CHECK(host.query(storage, R"({"op":"query","match":"m3","method":"avg","tier":"1m","points":500,"from":)" +
                                std::to_string(t0) + R"(,"to":)" + std::to_string(t0 + day) + "}")
            .second == minutes_before);
  Db db(host.data_dir() + "/metrics.db");
  CHECK(db.integer("SELECT count(*) FROM samples") == 0);
  CHECK(db.integer("SELECT count(*) FROM rollup_1m") == 0);
  CHECK(db.integer("SELECT count(*) FROM rollup_1h") == 0);
  CHECK(db.integer("SELECT value FROM meta WHERE key = 'layout'") == 3);
  bool logged = false;
  for (const auto &line : host.logs()) logged |= line.message.find("layout v3 migration done") != std::string::npos;
  CHECK(logged);
}

TEST_CASE("v3: a migration that fails part way leaves the file whole, refuses range queries, and resumes") {
  vitals::testing::Host host;
  const int64_t t0 = (now_ns() - 4 * day) / hour * hour;
  const Model model = write_v2_file(host, t0);
  {
    // The 7th series' rows cannot be deleted: its step rolls back and the
    // migration stops there.
    Db db(host.data_dir() + "/metrics.db");
    db.exec(
        "CREATE TRIGGER refuse_move BEFORE DELETE ON samples WHEN OLD.series_id = 7 "
        "BEGIN SELECT RAISE(ABORT, 'injected failure'); END");
  }
  {
    auto storage = host.create_started(vitals_plugin(), kV3);
    bool stopped = false;
    for (int i = 0; i < 600 && !stopped; ++i) {
      for (const auto &line : host.logs())
        stopped |= line.message.find("layout v3 migration stopped") != std::string::npos &&
                   line.message.find("injected failure") != std::string::npos;
      if (!stopped) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    REQUIRE(stopped);
    auto [code, body] = host.query(storage, raw_query(t0, now_ns()));
    CHECK(code == 503);
    CHECK(body.find("layout v3") != std::string::npos);
    CHECK(query(host, storage, R"({"op":"series","match":"m7"})")["series"].size() == 1);  // the rest answers
  }
  Db db(host.data_dir() + "/metrics.db");
  CHECK(db.integer("SELECT count(*) FROM samples WHERE series_id = 7") == static_cast<int64_t>(model.at("m6").size()));
  CHECK(db.integer("SELECT count(*) FROM samples WHERE series_id < 7") == 0);
  db.exec("DROP TRIGGER refuse_move");
  auto storage = host.create_started(vitals_plugin(), kV3);
  REQUIRE(migrated(host, storage));
  check_against(host, storage, model, t0, now_ns());
  CHECK(db.integer("SELECT count(*) FROM samples") == 0);
}

TEST_CASE("v3: once retention leaves a series nothing, it goes from the file and the indexes, and the file shrinks") {
  vitals::testing::Host host;
  const int64_t t0 = (now_ns() - 10 * day) / hour * hour;
  std::mt19937_64 rng(3);
  int64_t before = 0;
  {
    auto storage = host.create_started(vitals_plugin(), kV3);
    for (int s = 0; s < 10; ++s) {
      auto id = host.intern("old" + std::to_string(s));
      std::vector<Row> rows;
      // Random doubles do not compress: about 8 bytes a sample on disk.
      for (int i = 0; i < 30'000; ++i)
        rows.push_back({id, t0 + i * second, std::bit_cast<double>((rng() >> 12) | 0x3ff0000000000000ull)});
      REQUIRE(consume(storage, rows, static_cast<uintptr_t>(s + 1)) == VITALS_PENDING);
      REQUIRE(storage.flush() == VITALS_OK);
    }
    for (int i = 0; i < 100 && stat(host, storage, "head_samples") > 0; ++i) REQUIRE(storage.flush() == VITALS_OK);
    REQUIRE(stat(host, storage, "head_samples") == 0);
  }
  const std::string path = host.data_dir() + "/metrics.db";
  before = static_cast<int64_t>(std::filesystem::file_size(path));  // closed: the WAL is folded in
  CHECK(before > 2'000'000);
  // Raw, minutes and hours all younger than ten days: nothing of them stays.
  {
    auto storage = host.create_started(
        vitals_plugin(),
        std::string(kV3) + "retention = \"1d\"\nrollup_retention = \"1d\"\nmaintenance_interval = \"1ms\"\n");
    auto keep = host.intern("recent");
    for (int i = 0; i < 200 && stat(host, storage, "series") > 1; ++i) {
      REQUIRE(consume(storage, {{keep, now_ns(), 1.0}}, static_cast<uintptr_t>(100 + i)) == VITALS_PENDING);
      REQUIRE(storage.flush() == VITALS_OK);
    }
    CHECK(stat(host, storage, "series") == 1);
    CHECK(stat(host, storage, "series_removed") == 10);
    CHECK(query(host, storage, R"({"op":"series","match":"old*"})")["series"].size() == 0);
    CHECK(query(host, storage, R"({"op":"latest","match":"*"})")["series"].size() == 1);
    for (int i = 0; i < 100 && stat(host, storage, "pages_vacuumed") == 0; ++i) {
      REQUIRE(consume(storage, {{keep, now_ns(), 2.0}}, static_cast<uintptr_t>(400 + i)) == VITALS_PENDING);
      REQUIRE(storage.flush() == VITALS_OK);
    }
    CHECK(stat(host, storage, "pages_vacuumed") > 0);
    Db db(path);
    CHECK(db.integer("SELECT count(*) FROM series") == 1);
    // A removed series written again comes back.
    auto again = host.intern("old3");
    REQUIRE(consume(storage, {{again, now_ns(), 3.0}}, 999) == VITALS_PENDING);
    REQUIRE(storage.flush() == VITALS_OK);
    CHECK(query(host, storage, R"({"op":"latest","match":"old3"})")["series"].size() == 1);
  }
  CHECK(static_cast<int64_t>(std::filesystem::file_size(path)) * 2 < before);
}

TEST_CASE("v3: what writes leave in the head is sealed after seal_after even when no write follows") {
  vitals::testing::Host host;
  auto id = host.intern("m");
  auto storage = host.create_started(vitals_plugin(), "layout = \"v3\"\nseal_after = \"200ms\"\n");
  const int64_t t0 = (now_ns() - day) / hour * hour;
  REQUIRE(consume(storage, {{id, t0, 1.0}, {id, t0 + second, 2.0}}, 1) == VITALS_PENDING);
  REQUIRE(storage.flush() == VITALS_OK);
  CHECK(stat(host, storage, "head_samples") == 2);  // not yet: it waits for more to seal with
  // The counters follow the seal's commit: wait for the last of them.
  wait_for_stat(host, storage, "chunks_written");
  CHECK(stat(host, storage, "chunks_written") == 1);
  CHECK(stat(host, storage, "head_samples") == 0);
  CHECK(query(host, storage, raw_query(t0, t0 + second))["series"][0]["points"].size() == 2);
  // And its window, quiet for seal_after, is finalized by the same timer.
  wait_for_stat(host, storage, "windows_finalized");
  CHECK(stat(host, storage, "windows_finalized") == 1);
  CHECK(stat(host, storage, "windows_pending") == 0);
  CHECK(stat(host, storage, "samples") == 2);
  Db db(host.data_dir() + "/metrics.db");
  CHECK(db.integer("SELECT count(*) FROM partial_chunks") == 0);
  CHECK(db.integer("SELECT sum(n) FROM chunks") == 2);
}

TEST_CASE("v3: partial chunks found at open count as stored and are finalized") {
  vitals::testing::Host host;
  auto id = host.intern("m");
  const int64_t t0 = (now_ns() - day) / hour * hour;
  const char *config = "layout = \"v3\"\nseal_after = \"1h\"\n";  // nothing sealed on its own here
  {
    auto storage = host.create_started(vitals_plugin(), config);
    REQUIRE(consume(storage, {{id, t0, 1.0}, {id, t0 + second, 2.0}, {id, t0 + 2 * second, 3.0}}, 1) == VITALS_PENDING);
    REQUIRE(storage.flush() == VITALS_OK);
    CHECK(stat(host, storage, "head_samples") == 3);
  }
  {
    // Sealed by hand: what an agent stopped between a seal and finalizing leaves.
    vitals::sqlite::Database db(host.data_dir() + "/metrics.db", vitals::sqlite::Database::Open::read_write);
    CHECK(vitals::sqlite::v3::seal(db, now_ns(), vitals::sqlite::v3::Options{}).head_rows == 1);
    CHECK(db.query_int("SELECT count(*) FROM partial_chunks") == 1);
  }
  auto storage = host.create_started(vitals_plugin(), config);
  CHECK(stat(host, storage, "samples") == 3);
  CHECK(query(host, storage, raw_query(t0, t0 + 2 * second))["series"][0]["points"].size() == 3);
  // Found pending, its window long over: finalized by the timer at once.
  wait_for_stat(host, storage, "windows_finalized");
  CHECK(stat(host, storage, "windows_finalized") == 1);
  CHECK(stat(host, storage, "samples") == 3);
  CHECK(query(host, storage, raw_query(t0, t0 + 2 * second))["series"][0]["points"].size() == 3);
}

TEST_CASE("v3: stored rollups are kept per window, equal to reading them, and dropped when finalizing rewrites them") {
  vitals::testing::Host host;
  auto id = host.intern("m");
  // Sealed a second after a commit, finalized a second after that: a
  // query between them reads the window's old stored rollups, which
  // finalizing replaces.
  auto storage = host.create_started(vitals_plugin(), "layout = \"v3\"\nseal_after = \"1s\"\n");
  // Eight hours in four closed windows, ending hours ago: 10 s apart (its
  // minutes too sparse to be stored), and a series at 1 Hz (stored).
  const int64_t t0 = (now_ns() - 14 * hour) / (2 * hour) * (2 * hour);
  const auto dense = host.intern("m", {{"rate", "1Hz"}});
  std::vector<Row> rows;
  for (int64_t ts = t0; ts < t0 + 8 * hour; ts += second) {
    const double v = static_cast<double>((ts - t0) / second % 97) / 4;
    if ((ts - t0) % (10 * second) == 0) rows.push_back({id, ts, v});
    rows.push_back({dense, ts, v + 1});
  }
  REQUIRE(consume(storage, rows, 1) == VITALS_PENDING);
  REQUIRE(storage.flush() == VITALS_OK);
  for (int i = 0; i < 1000 && stat(host, storage, "windows_finalized") < 8; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  REQUIRE(stat(host, storage, "windows_finalized") == 8);
  auto reference = host.create_started(vitals_plugin(), "read_only = true");
  auto rollup_query = [&](const char *tier, int64_t from, int64_t to) {
    return R"({"op":"query","match":"m","method":"minmax","points":200,"tier":")" + std::string(tier) + R"(","from":)" +
           std::to_string(from) + R"(,"to":)" + std::to_string(to) + "}";
  };
  // Ranges moving as a refreshing chart's, each a new reply.
  // And one starting before them: windows not seen yet, then kept ones.
  auto check_ranges = [&](int first_shift, std::vector<const char *> tiers = {"1m", "1h"}) {
    for (const char *tier : tiers) {
      for (int shift = first_shift; shift < first_shift + 4; ++shift)
        check_same_reply(host, storage, reference,
                         rollup_query(tier, t0 - hour + shift * 7 * minute, t0 + 7 * hour + shift * 7 * minute));
      check_same_reply(host, storage, reference,
                       rollup_query(tier, t0 - 5 * hour - first_shift * minute, t0 + 3 * hour));
    }
  };
  check_ranges(0);
  CHECK(stat(host, storage, "stored_rollup_cache_bytes") > 0);
  CHECK(stat(host, storage, "stored_rollup_cache_hits") > 0);
  const int64_t hits = stat(host, storage, "stored_rollup_cache_hits");
  check_ranges(4);
  CHECK(stat(host, storage, "stored_rollup_cache_hits") > hits);

  // A late write over a sample of the third window of each: sealed,
  // queried while the window waits (its old rollups kept again), then
  // finalized with new rollups, which the next replies show.
  const int64_t sealed = stat(host, storage, "head_rows_sealed");
  REQUIRE(consume(storage, {{id, t0 + 5 * hour, 1000.0}, {dense, t0 + 5 * hour, 1000.0}}, 2) == VITALS_PENDING);
  REQUIRE(storage.flush() == VITALS_OK);
  for (int i = 0; i < 1000 && stat(host, storage, "head_rows_sealed") == sealed; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  REQUIRE(stat(host, storage, "head_rows_sealed") > sealed);
  check_ranges(8);
  for (int i = 0; i < 1000 && stat(host, storage, "windows_finalized") < 10; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  REQUIRE(stat(host, storage, "windows_finalized") == 10);
  check_ranges(12);
  // Finalized, its hours are answered from its stored rollups again, not
  // computed from raw samples (a window still taken as pending would be,
  // from the window rollups kept while it was). Minutes this sparse are
  // not stored: always computed.
  const int64_t from_raw = stat(host, storage, "window_rollup_cache_hits");
  check_ranges(16, {"1h"});
  CHECK(stat(host, storage, "window_rollup_cache_hits") == from_raw);
  const auto reply = query(host, storage, rollup_query("1m", t0, t0 + 8 * hour - 1));
  REQUIRE(reply["series"].size() == 2);
  for (size_t s = 0; s < 2; ++s) {
    bool seen = false;
    const auto &points = reply["series"][s]["points"];
    for (size_t i = 0; i < points.size(); ++i) seen = seen || points[i][1].number() == 1000.0;
    CHECK(seen);
  }
}

TEST_CASE("v3: an hourly query over a finalized window with a late write in the head adds it, kept or read straight") {
  vitals::testing::Host host;
  auto id = host.intern("m");
  // A window of 1.0 every 10 s, closed hours ago, finalized.
  const int64_t w = (now_ns() - 10 * hour) / (2 * hour) * (2 * hour);
  {
    auto storage = host.create_started(vitals_plugin(), kV3);
    std::vector<Row> rows;
    for (int64_t ts = w; ts < w + 2 * hour; ts += 10 * second) rows.push_back({id, ts, 1.0});
    REQUIRE(consume(storage, rows, 1) == VITALS_PENDING);
    REQUIRE(storage.flush() == VITALS_OK);
    wait_for_stat(host, storage, "windows_finalized");
    REQUIRE(stat(host, storage, "windows_finalized") == 1);
  }
  // Sealed an hour after its write: the late write stays in the head.
  auto storage = host.create_started(vitals_plugin(), "layout = \"v3\"\nseal_after = \"1h\"\n");
  REQUIRE(consume(storage, {{id, w + 30 * minute, 1000.0}}, 1) == VITALS_PENDING);
  REQUIRE(storage.flush() == VITALS_OK);
  REQUIRE(stat(host, storage, "head_samples") == 1);
  auto reference = host.create_started(vitals_plugin(), "read_only = true");
  // A range of a few windows (stored rollups kept) and one of more than
  // 1,024 windows (read straight, its chunks not walked).
  for (int64_t span : {12 * hour, 100 * day}) {
    CAPTURE(span);
    const std::string q = R"({"op":"query","match":"m","method":"avg","tier":"1h","points":100000,"from":)" +
                          std::to_string(w + 2 * hour - span) + R"(,"to":)" + std::to_string(w + 2 * hour - 1) + "}";
    for (int repeat = 0; repeat < 2; ++repeat) {
      auto reply = query(host, storage, q);
      const auto &points = reply["series"][0]["points"];
      REQUIRE(points.size() == 2);
      CHECK(points[0][1].number() == doctest::Approx((359.0 + 1000.0) / 360.0));
      CHECK(points[1][1].number() == 1.0);
      check_same_reply(host, storage, reference, q);
    }
  }
}

TEST_CASE("v3: a rollup query from the earliest window, whose start is off the windows' grid, ends") {
  // bucket_start() of the first 2 hours of int64 time is the int64 limit
  // itself, 1.79 h before the next window starts: stepping by 2 h from it
  // missed every later start and looped (found in review).
  vitals::testing::Host host;
  auto id = host.intern("m");
  auto storage = host.create_started(vitals_plugin(), kV3);
  constexpr int64_t earliest = std::numeric_limits<int64_t>::min();
  REQUIRE(consume(storage, {{id, earliest + 30 * minute, 1.0}, {id, earliest + 5 * hour, 3.0}}, 1) == VITALS_PENDING);
  REQUIRE(storage.flush() == VITALS_OK);
  for (const char *tier : {"1m", "1h"}) {
    CAPTURE(tier);
    const auto reply =
        query(host, storage,
              R"({"op":"query","match":"m","method":"avg","points":100000,"tier":")" + std::string(tier) +
                  R"(","from":)" + std::to_string(earliest) + R"(,"to":)" + std::to_string(earliest + 10 * day) + "}");
    // Retention (these samples are 292 years past it) may have dropped
    // them and their series already on a slow machine: then only that the
    // query ended is checked.
    if (reply["series"].size() == 0) continue;
    const auto &points = reply["series"][0]["points"];
    REQUIRE(points.size() == 2);
    CHECK(points[0][1].number() == 1.0);
    CHECK(points[1][1].number() == 3.0);
  }
}
