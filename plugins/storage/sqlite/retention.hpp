// Retention: deletes raw samples older than `retention`, 1m rollups and events
// older than `rollup_retention`, 1h rollups older than 5x that (layout v3:
// whole chunks once their window is that old). Runs on the
// writer thread between commits, in short transactions of a few thousand rows
// and within a time budget, resuming where it stopped, so that a large backlog
// (a shortened retention, a first start on an old file) never stalls writes.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <span>

#include "config.hpp"
#include "db.hpp"
#include "v3_store.hpp"

namespace vitals::sqlite {

class Retention {
 public:
  // Layout v3 (options given): whole chunks and rollup chunks go, table-wide.
  Retention(Database &db, const Settings &settings, const v3::Options *v3_options = nullptr);

  struct Result {
    int64_t samples_deleted = 0;  // raw samples
    int64_t other_deleted = 0;    // rollup rows and events
    bool finished = false;        // the pass is complete; otherwise call again soon
  };
  // Continues the current pass over series_ids until it is done or budget is spent.
  Result run(std::span<const int64_t> series_ids, int64_t now_ns, std::chrono::nanoseconds budget);

  // Rows per transaction; exposed for tests.
  int64_t rows_per_transaction = 5000;
  // Called once each transaction that deleted anything committed: what
  // queries kept of the file may be gone (the plugin drops its caches).
  std::function<void()> on_deleted;

 private:
  enum Step { samples, minutes, hours, events, done };
  // Deletes up to `limit` rows of `step`; returns them, and adds the raw
  // samples among them to `samples`.
  int64_t delete_chunk(Step step, int64_t series, int64_t cutoff, int64_t limit, int64_t &samples);
  int64_t cutoff(Step step, int64_t now_ns) const;

  Database &db_;
  const Settings &settings_;
  const v3::Options *v3_;
  Statement delete_samples_, delete_minutes_, delete_hours_, delete_events_, subtract_count_;
  Step step_ = samples;
  size_t series_index_ = 0;
};

}  // namespace vitals::sqlite
