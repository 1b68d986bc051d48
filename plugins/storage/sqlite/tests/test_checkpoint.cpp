// WAL checkpoints run on the checkpointer's thread (checkpointer.hpp), not in
// the commits, and still keep the WAL bounded while the writer writes.
#include <chrono>
#include <filesystem>
#include <thread>

#include "support.hpp"

using namespace test;

TEST_CASE("checkpoints run off the commit path and keep the WAL bounded") {
  vitals::testing::Host host;
  // A small threshold (100 pages, 400 KiB), one commit per batch.
  auto storage =
      host.create_started(vitals_plugin(), "layout = \"v2\"\nwal_autocheckpoint = 100\nflush_interval = \"0s\"");
  auto id = host.intern("w");
  const int64_t t = now_ns() - day;
  for (int64_t batch = 0; batch < 300; ++batch) {
    std::vector<Row> rows;
    for (int64_t i = 0; i < 1000; ++i) rows.push_back({id, t + (batch * 1000 + i) * 1'000'000, 1.0 * i});
    REQUIRE(consume(storage, rows, static_cast<uintptr_t>(batch + 1)) == VITALS_PENDING);
  }
  REQUIRE(host.completions().size() == 300);
  auto stats = [&] { return query(host, storage, R"({"op":"stats"})"); };
  // 300,000 rows are several MiB of WAL without checkpoints.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (stats()["wal_checkpoints"].integer() == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(stats()["wal_checkpoints"].integer() > 0);
  // At most the writer's own limit (4 x 100 pages) plus one commit, in
  // 4 KiB pages with their 24-byte frame headers.
  CHECK(std::filesystem::file_size(host.data_dir() + "/metrics.db-wal") < 600 * 4120);
  Db db(host.data_dir() + "/metrics.db");
  CHECK(db.integer("SELECT count(*) FROM samples") == 300'000);
  CHECK(db.rows("PRAGMA integrity_check")[0][0] == "ok");
}

TEST_CASE("no checkpointer outside WAL mode") {
  vitals::testing::Host host;
  auto storage = host.create_started(vitals_plugin(), "journal_mode = \"delete\"\nflush_interval = \"0s\"");
  auto id = host.intern("d");
  REQUIRE(consume(storage, {{id, now_ns(), 1}}, 1) == VITALS_PENDING);
  CHECK(query(host, storage, R"({"op":"stats"})")["wal_checkpoints"].integer() == 0);
  CHECK_FALSE(std::filesystem::exists(host.data_dir() + "/metrics.db-wal"));
}
