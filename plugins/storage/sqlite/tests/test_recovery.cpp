// A batch that fails halfway, without a savepoint per batch: the transaction
// is rolled back and the batches before the failed one are written again
// from the writer's copy (tx_log.hpp). They must commit exactly as if
// nothing had happened: rows, replacements, new series, events, rollups,
// the sample count and the latest values.
#include "support.hpp"

using namespace test;
using Completions = std::vector<std::pair<uintptr_t, int>>;

TEST_CASE("the batches before a failed one are written again exactly, with their series, events and rollups") {
  vitals::testing::Host host;
  auto storage = host.create_started(vitals_plugin(), "layout = \"v2\"\nflush_interval = \"1h\"");
  Db db(host.data_dir() + "/metrics.db");
  db.refuse_value_666();
  auto a = host.intern("a"), b = host.intern("b"), c = host.intern("c_only_in_the_failed_batch");
  const int64_t t = (now_ns() - 2 * hour) / minute * minute;

  // 1: a minute of `a`, and an event.
  std::vector<Row> first;
  for (int i = 0; i < 60; ++i) first.push_back({a, t + i * second, 1.0 * i});
  REQUIRE(consume(storage, first, 1) == VITALS_PENDING);
  vitals::Batch event;
  event.add_event(t, VITALS_SEVERITY_WARNING, "probe", "door open", {{"room", "hall"}});
  REQUIRE(storage.plugin()->consume(storage.raw(), &event.view(), reinterpret_cast<vitals_ack_t *>(2)) ==
          VITALS_PENDING);
  // 3: a new series, a replacement of one of a's rows (late), and a NaN.
  REQUIRE(consume(storage, {{b, t, 7}, {a, t + 5 * second, 500}, {b, t + second, NAN}}, 3) == VITALS_PENDING);
  // 4: a new series and good rows first, then a refused one: out whole.
  CHECK(consume(storage, {{c, t, 1}, {a, t + 2 * minute, 2}, {b, t + 2 * minute, 666}}, 4) == VITALS_ERROR);
  CHECK(storage.last_error().find("injected failure") != std::string::npos);
  // 5: the transaction goes on after it.
  REQUIRE(consume(storage, {{a, t + 3 * minute, 3}}, 5) == VITALS_PENDING);
  REQUIRE(storage.flush() == VITALS_OK);

  CHECK(host.completions() == Completions{{1, VITALS_OK}, {2, VITALS_OK}, {3, VITALS_OK}, {5, VITALS_OK}});
  CHECK(storage.stats()["batches_failed"] == 1);
  CHECK(storage.stats()["commits"] == 1);
  // a: 60 rows (one replaced), then t + 3 min; b: two rows; no c.
  CHECK(db.integer("SELECT count(*) FROM samples") == 63);
  CHECK(db.integer("SELECT value FROM meta WHERE key = 'sample_count'") == 63);
  CHECK(storage.stats()["samples_stored"] == 63);
  CHECK(db.integer("SELECT count(*) FROM samples WHERE ts = " + std::to_string(t + 2 * minute)) == 0);
  CHECK(db.rows("SELECT value FROM samples WHERE ts = " + std::to_string(t + 5 * second) +
                " AND series_id = (SELECT id FROM series WHERE text = 'a')") ==
        std::vector<std::vector<std::string>>{{"500"}});
  CHECK(db.rows("SELECT text FROM series ORDER BY text") == std::vector<std::vector<std::string>>{{"a"}, {"b"}});
  CHECK(db.rows("SELECT source, message, labels FROM events") ==
        std::vector<std::vector<std::string>>{{"probe", "door open", R"({"room":"hall"})"}});
  CHECK(db.rows("SELECT series_id, bucket_ts, min, max, sum, count FROM rollup_1m ORDER BY 1, 2") ==
        db.rows("SELECT series_id, ts - ts % 60000000000 AS m, min(value), max(value), sum(value), count(value) "
                "FROM samples GROUP BY 1, 2 HAVING count(value) > 0 ORDER BY 1, 2"));
  CHECK(db.rows("SELECT series_id, bucket_ts, min, max, sum, count FROM rollup_1h ORDER BY 1, 2") ==
        db.rows("SELECT series_id, ts - ts % 3600000000000 AS h, min(value), max(value), sum(value), count(value) "
                "FROM samples GROUP BY 1, 2 HAVING count(value) > 0 ORDER BY 1, 2"));
  auto latest = query(host, storage, R"({"op":"latest","match":"*"})")["series"];
  REQUIRE(latest.size() == 2);
  CHECK(latest[0]["ts"].integer() == t + 3 * minute);
  CHECK(latest[1]["ts"].integer() == t + second);

  // The series of the failed batch is not remembered as stored: it comes back.
  db.exec("DROP TRIGGER refuse");
  REQUIRE(consume(storage, {{c, t, 9}}, 6) == VITALS_PENDING);
  REQUIRE(storage.flush() == VITALS_OK);
  CHECK(query(host, storage, R"({"op":"latest","match":"c_*"})")["series"][0]["value"].number() == 9);
}

TEST_CASE("a failed first batch leaves no transaction behind") {
  vitals::testing::Host host;
  auto storage = host.create_started(vitals_plugin(), "layout = \"v2\"\nflush_interval = \"1h\"");
  Db db(host.data_dir() + "/metrics.db");
  db.refuse_value_666();
  auto a = host.intern("a");
  int64_t t = now_ns();
  CHECK(consume(storage, {{a, t, 1}, {a, t + 1, 666}}, 1) == VITALS_ERROR);
  CHECK(storage.flush() == VITALS_OK);
  CHECK(host.completions().empty());
  // Another connection can write: the writer holds no lock.
  db.exec("INSERT INTO meta(key, value) VALUES('probe', 1)");
  CHECK(db.integer("SELECT count(*) FROM samples") == 0);
  CHECK(db.integer("SELECT count(*) FROM series") == 0);
}
