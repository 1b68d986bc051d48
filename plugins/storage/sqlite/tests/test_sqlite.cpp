// The plugin as the agent sees it: descriptor, config checking, file
// placement, shutdown, and a throughput figure (run with --no-skip).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "config.hpp"
#include "support.hpp"

using namespace test;

TEST_CASE("the descriptor: a storage consumed on its own thread, providing vitals.storage and tunables") {
  const vitals_plugin_t *p = vitals_plugin();
  CHECK(std::string(p->name) == "sqlite");
  CHECK(p->kind == VITALS_KIND_STORAGE);
  CHECK((p->flags & VITALS_FLAG_CONSUME_ON_THREAD) != 0);
  CHECK(static_cast<bool>(p->consume));
  auto *storage =
      static_cast<const vitals_storage_service_t *>(vitals::testing::provided_service(p, VITALS_SERVICE_STORAGE));
  REQUIRE(storage);
  CHECK(static_cast<bool>(storage->query));
  CHECK(vitals::testing::provided_service(p, VITALS_SERVICE_TUNABLES) != nullptr);
  CHECK(static_cast<bool>(p->flush));
  CHECK(std::string(p->sample_config).find("plugin = \"sqlite\"") != std::string::npos);
}

TEST_CASE("config: defaults, and refusals naming the key") {
  vitals::testing::Host host;
  auto refused = [&](const std::string &toml, const std::string &why) {
    CAPTURE(toml);
    CHECK_THROWS_WITH(host.create_started(vitals_plugin(), toml), doctest::Contains(why.c_str()));
  };
  // Bounds and choices are the schema's: the host refuses them with the line, as `vitals check` does.
  refused("synchronous = \"off\"", "line 1: 'synchronous' must be one of \"normal\", \"full\" (got \"off\")");
  refused("journal_mode = \"wal2\"", "'journal_mode' must be one of");
  refused("temp_store = \"disk\"", "'temp_store' must be one of");
  refused("retention = \"2d\"\nrollup_retention = \"1d\"", "rollup_retention: must be at least retention");
  refused("retention = \"0s\"", "'retention' must be at least \"1ns\" (got \"0s\")");
  refused("max_batch_samples = 0", "'max_batch_samples' must be at least 1 (got 0)");
  refused("busy_timeout = \"30d\"", "'busy_timeout' must be at most \"24d\"");
  refused("wal_autocheckpoint = 1000001", "'wal_autocheckpoint' must be at most 1000000");
  refused("query_cache_entries = -1", "query_cache_entries");
  refused("retention = \"soon\"", "'retention' must be a duration");
  refused("nonsense = 1", "nonsense");
  refused("path = \"\"", "path: must not be empty");

  auto storage = host.create_started(vitals_plugin(), "synchronous = \"full\"\npath = \"sub/dir/m.db\"");
  CHECK(std::filesystem::exists(host.data_dir() + "/sub/dir/m.db"));
  Db db(host.data_dir() + "/sub/dir/m.db");
  CHECK(db.rows("PRAGMA journal_mode")[0][0] == "wal");
}

TEST_CASE("config: each key reaches its own setting, the path under the data directory") {
  auto settings = [](const std::string &toml) {
    std::string json = vitals::testing::Host::check_config(vitals_plugin(), toml);
    return vitals::sqlite::parse_settings(vitals::Config(json.c_str()), "/data");
  };
  // Every key set, each to a value that is neither its default nor another
  // key's, so a setting read from the wrong key shows.
  vitals::sqlite::Settings s = settings(
      "path = \"db/../m.db\"\nretention = \"2h\"\nrollup_retention = \"3h\"\nmax_batch_samples = 7\n"
      "flush_interval = \"4s\"\nsynchronous = \"normal\"\njournal_mode = \"truncate\"\ncache_size = \"5KiB\"\n"
      "mmap_size = \"6KiB\"\nwal_autocheckpoint = 8\ntemp_store = \"file\"\nbusy_timeout = \"9ms\"\n"
      "query_cache_entries = 10\nread_only = true\nmaintenance_interval = \"11s\"\n");
  constexpr int64_t ms = 1'000'000, second = 1000 * ms, hour = 3600 * second;
  CHECK(s.path == "/data/m.db");
  CHECK(s.retention_ns == 2 * hour);
  CHECK(s.rollup_retention_ns == 3 * hour);
  CHECK(s.hourly_retention_ns() == 15 * hour);
  CHECK(s.max_batch_samples == 7);
  CHECK(s.flush_interval_ns == 4 * second);
  CHECK(s.synchronous == "normal");
  CHECK(s.journal_mode == "truncate");
  CHECK(s.cache_size_bytes == 5 * 1024);
  CHECK(s.mmap_size_bytes == 6 * 1024);
  CHECK(s.wal_autocheckpoint_pages == 8);
  CHECK(s.temp_store == "file");
  CHECK(s.busy_timeout_ns == 9 * ms);
  CHECK(s.query_cache_entries == 10);
  CHECK(s.read_only);
  CHECK(s.maintenance_interval_ns == 11 * second);
  CHECK(settings("path = \"/abs/x.db\"").path == "/abs/x.db");
}

TEST_CASE("destroying the storage commits what it holds and completes the acks") {
  vitals::testing::Host host;
  auto id = host.intern("m");
  {
    auto storage = host.create_started(vitals_plugin(), "layout = \"v2\"\nflush_interval = \"1h\"");
    REQUIRE(consume(storage, {{id, 1, 1}, {id, 2, 2}}, 9) == VITALS_PENDING);
    CHECK(host.completions().empty());
  }
  CHECK(host.completions() == std::vector<std::pair<uintptr_t, int>>{{9, VITALS_OK}});
  Db db(host.data_dir() + "/metrics.db");
  CHECK(db.integer("SELECT count(*) FROM samples") == 2);
}

TEST_CASE("tunables: batch size and flush interval") {
  vitals::testing::Host host;
  auto storage = host.create_started(vitals_plugin(), "flush_interval = \"1h\"");
  auto t = storage.tunables();
  REQUIRE(t.size() == 2);
  CHECK(t[0].name == "max_batch_samples");
  CHECK(t[0].value == 50000);
  CHECK(t[1].name == "flush_interval_ms");
  CHECK(t[1].value == 3600000);
  REQUIRE(storage.set_tunable("max_batch_samples", 2) == VITALS_OK);
  CHECK(storage.set_tunable("max_batch_samples", 0) == VITALS_ERROR);
  CHECK(storage.set_tunable("page_size", 1) == VITALS_ERROR);
  auto id = host.intern("m");
  REQUIRE(consume(storage, {{id, 1, 1}, {id, 2, 2}}, 1) == VITALS_PENDING);
  CHECK(host.completions().size() == 1);  // committed at 2 samples
}

TEST_CASE("throughput: samples per second into the plugin, batches of 1000" * doctest::skip()) {
  for (const char *sync : {"normal", "full"}) {
    vitals::testing::Host host;
    // VITALS_SQLITE_BENCH_CONFIG adds TOML lines, e.g. 'cache_size = "8MiB"'.
    const char *extra = std::getenv("VITALS_SQLITE_BENCH_CONFIG");
    auto storage =
        host.create_started(vitals_plugin(), std::string("synchronous = \"") + sync + "\"\n" + (extra ? extra : ""));
    std::vector<vitals_series_id_t> ids;
    for (int i = 0; i < 100; ++i) ids.push_back(host.intern("bench", {{"n", std::to_string(i)}}));
    const int batches = 2000;
    int64_t t0 = now_ns() - hour;
    auto start = std::chrono::steady_clock::now();
    for (int b = 0; b < batches; ++b) {
      std::vector<Row> rows;
      rows.reserve(1000);
      for (int i = 0; i < 1000; ++i) rows.push_back({ids[i % 100], t0 + (b * 10 + i / 100) * 100'000'000LL, 1.0 * i});
      consume(storage, rows, static_cast<uintptr_t>(b + 1));
      if (b % 8 == 7) storage.flush();  // the core flushes whenever its queue runs dry
    }
    storage.flush();
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("synchronous=%s: %d samples in %.2f s: %.0f samples/s (%zu acks)\n", sync, batches * 1000, seconds,
                batches * 1000 / seconds, host.completions().size());
  }
}

TEST_CASE("query latency: 10 series at 1 Hz, the bench/query shapes" * doctest::skip()) {
  vitals::testing::Host host;
  auto storage = host.create_started(vitals_plugin());
  std::vector<vitals_series_id_t> ids;
  for (int i = 0; i < 10; ++i) ids.push_back(host.intern("sensor", {{"n", std::to_string(i)}}));
  int64_t now = now_ns() / second * second;
  // One day of raw samples through the plugin (rollups kept as it goes).
  int64_t start = now - day;
  std::vector<Row> rows;
  for (int64_t ts = start; ts < now; ts += second) {
    for (auto id : ids) rows.push_back({id, ts, std::sin(static_cast<double>(ts / second) / 300.0) * 50});
    if (rows.size() >= 10000) {
      consume(storage, rows, 1);
      rows.clear();
    }
  }
  consume(storage, rows, 1);
  storage.flush();
  {
    // 29 more days of minute and hour rollups, written directly.
    Db db(host.data_dir() + "/metrics.db");
    db.exec("WITH RECURSIVE m(b) AS (SELECT " + std::to_string((start - 29 * day) / minute * minute) +
            " UNION ALL SELECT b + 60000000000 FROM m WHERE b + 60000000000 < " +
            std::to_string(start / minute * minute) +
            ") INSERT INTO rollup_1m SELECT s.id, m.b, -1, 1, 0, 60 FROM series s, m");
    db.exec(
        "INSERT OR REPLACE INTO rollup_1h SELECT series_id, bucket_ts - bucket_ts % 3600000000000, min(min), "
        "max(max), sum(sum), sum(count) FROM rollup_1m GROUP BY 1, 2");
  }
  auto time_query = [&](const std::string &label, const std::string &request) {
    std::vector<double> ms;
    std::string body;
    for (int i = 0; i < 21; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      body = host.query(storage, request).second;
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    auto reply = Json::parse(body);
    size_t points = 0;
    for (const auto &s : reply["series"].items) points += s["points"].size();
    std::printf("%-32s tier %-3s %7zu points  p50 %7.2f ms  (%zu bytes)\n", label.c_str(), reply["tier"].str().c_str(),
                points, ms[ms.size() / 2], body.size());
  };
  time_query("last hour raw", R"({"op":"query","match":"sensor","method":"raw","from":"-1h"})");
  if (std::getenv("VITALS_LATENCY_ONLY_RAW")) {
    for (int i = 0; i < 300; ++i) host.query(storage, R"({"op":"query","match":"sensor","method":"raw","from":"-1h"})");
    return;
  }
  time_query("one day lttb 1000", R"({"op":"query","match":"sensor","method":"lttb","points":1000,"from":"-1d"})");
  time_query("30 days lttb 1000", R"({"op":"query","match":"sensor","method":"lttb","points":1000,"from":"-30d"})");
  time_query("30 days avg 1000", R"({"op":"query","match":"sensor","method":"avg","points":1000,"from":"-30d"})");
  time_query("30 days minmax 1000", R"({"op":"query","match":"sensor","method":"minmax","points":1000,"from":"-30d"})");
  time_query("30 days avg 500", R"({"op":"query","match":"sensor","method":"avg","points":500,"from":"-30d"})");
  time_query("30 days avg 100", R"({"op":"query","match":"sensor","method":"avg","points":100,"from":"-30d"})");
}

TEST_CASE("by default a commit is on disk before its acks: synchronous = full (power-cut safe)") {
  const vitals_plugin_t *p = vitals_plugin();
  std::string found;
  for (uint32_t i = 0; i < p->n_config_fields; ++i)
    if (std::string(p->config_fields[i].key) == "synchronous") found = p->config_fields[i].default_value;
  CHECK(found == "\"full\"");
}
