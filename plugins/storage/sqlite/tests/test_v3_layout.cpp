// Layout v3 through the plugin: recent samples answered from the head and
// kept across a restart, old ones sealed into chunks, late writes over
// sealed chunks, rollups from head and chunks, retention by whole chunks,
// and a file keeping the layout it was created with.
#include <doctest/doctest.h>

#include <atomic>
#include <cmath>
#include <string>
#include <thread>

#include "../schema.hpp"
#include "support.hpp"

using namespace test;

namespace {

// Sealing as soon as rows can go, so that a flush shows its effect.
const char *kV3 = "layout = \"v3\"\nseal_after = \"0s\"\n";

std::string raw_query(int64_t from, int64_t to) {
  return R"({"op":"query","match":"m","method":"raw","from":)" + std::to_string(from) + R"(,"to":)" +
         std::to_string(to) + "}";
}

int64_t stat(vitals::testing::Host &host, vitals::testing::Instance &storage, const std::string &name) {
  return query(host, storage, R"({"op":"stats"})")[name].integer();
}

}  // namespace

TEST_CASE("v3: recent samples come from the head, and survive a restart through the head rows") {
  vitals::testing::Host host;
  auto id = host.intern("m");
  const int64_t t0 = now_ns() - 10 * second;
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
  const int64_t t0 = now_ns() / minute * minute - 5 * minute;
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

TEST_CASE("v3: retention drops whole chunks and keeps their minutes") {
  vitals::testing::Host host;
  auto id = host.intern("m");
  auto storage = host.create_started(vitals_plugin(), std::string(kV3) + "retention = \"1d\"\n");
  // Three days ago, 10 s apart: one chunk, too sparse for stored minutes.
  const int64_t t0 = (now_ns() - 3 * day) / hour * hour;
  std::vector<Row> rows;
  for (int i = 0; i < 60; ++i) rows.push_back({id, t0 + i * 10 * second, static_cast<double>(i)});
  REQUIRE(consume(storage, rows, 1) == VITALS_PENDING);
  REQUIRE(storage.flush() == VITALS_OK);  // sealed, then retention runs (the first commit after start)
  Db db(host.data_dir() + "/metrics.db");
  CHECK(db.integer("SELECT count(*) FROM chunks") == 0);
  CHECK(stat(host, storage, "samples") == 0);
  CHECK(stat(host, storage, "retention_deleted") > 0);
  CHECK(query(host, storage, raw_query(t0, t0 + hour))["series"].size() == 0);  // series without points are left out
  auto minutes = query(host, storage,
                       R"({"op":"query","match":"m","method":"avg","tier":"1m","points":10,"from":)" +
                           std::to_string(t0) + R"(,"to":)" + std::to_string(t0 + 10 * minute - 1) + "}");
  REQUIRE(minutes["series"][0]["points"].size() == 10);
  CHECK(minutes["series"][0]["points"][0][1].number() == 2.5);  // the average of 0..5
}

TEST_CASE("v3: a file that holds v2 rows keeps layout v2, saying so") {
  vitals::testing::Host host;
  auto id = host.intern("m");
  {
    auto storage = host.create_started(vitals_plugin(), "");
    REQUIRE(consume(storage, {{id, now_ns(), 1.0}}, 1) == VITALS_PENDING);
    REQUIRE(storage.flush() == VITALS_OK);
  }
  auto storage = host.create_started(vitals_plugin(), kV3);
  CHECK(stat(host, storage, "layout") == 2);
  bool warned = false;
  for (const auto &line : host.logs()) warned |= line.message.find("keeps; layout = \"v3\"") != std::string::npos;
  CHECK(warned);
}

TEST_CASE("v3: read_only opens a v3 file with its head") {
  vitals::testing::Host host;
  auto id = host.intern("m");
  const int64_t recent = now_ns() - second, old = (now_ns() - day) / hour * hour;
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
      if (seen < static_cast<size_t>(before)) ++shortfalls;
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
  CHECK(query(host, storage, raw_query(t0, t0 + day))["series"][0]["points"].size() == batches * per_batch);
}
