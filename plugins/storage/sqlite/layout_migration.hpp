// Moving a file's v2 rows into layout v3, on a thread of its own with a
// connection of its own, while the agent writes (new samples go to the v3
// head from the start) and answers everything but range queries (refused
// with 503 and the progress until it is done).
//
// Resumable by construction: each step is one transaction that writes some
// chunks and deletes the v2 rows they hold, so what is left in the v2
// tables is what is left to move, whenever the agent stops. Rollups move
// first (a v2 file keeps rollups of raw rows retention already deleted),
// then samples, a series' windows at a time. Before a step commits, every
// chunk it wrote is read back and checked against what was meant (count
// and a checksum of every timestamp and value bit), and the v2 rows it
// deletes must be exactly those it read; a mismatch rolls the step back and
// stops the migration with an error, the file untouched by it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "config.hpp"
#include "counters.hpp"
#include "db.hpp"
#include "v3_store.hpp"
#include "vitals/plugin.hpp"

namespace vitals::sqlite {

class LayoutMigration {
 public:
  // Whether a file of layout 3 still holds v2 rows (samples or rollups).
  static bool pending(Database &db);

  LayoutMigration(const Settings &settings, const v3::Options &options, Host host, Counters &counters);
  ~LayoutMigration();
  LayoutMigration(const LayoutMigration &) = delete;
  LayoutMigration &operator=(const LayoutMigration &) = delete;

  void start();
  // Stops after the step in progress (the rest waits for the next open).
  void stop();
  bool done() const { return done_.load(std::memory_order_acquire); }
  // "moving ... : 40% (4,000,000 of 10,000,000 v2 rows)", for a refusal.
  std::string progress() const;

  // Rows per step; exposed for tests. Small enough that the writer, which
  // waits for a step's lock up to busy_timeout, is never refused on a Pi.
  int64_t rows_per_step = 50'000;

 private:
  void run();
  // One transaction each; false when nothing of their kind is left.
  bool move_rollups(Database &db, const char *table, v3::RollupTier tier);
  bool move_samples(Database &db);
  void report(bool force);

  const Settings &settings_;
  const v3::Options &options_;
  Host host_;
  Counters &counters_;
  std::atomic<bool> stop_{false}, done_{false};
  std::atomic<int64_t> total_{0}, moved_{0};
  std::chrono::steady_clock::time_point last_report_{};
  std::thread thread_;
};

}  // namespace vitals::sqlite
