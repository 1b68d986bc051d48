// The v3 compactor: seals head rows into chunks (v3_store.hpp), then
// finalizes the windows sealing left pending, on the writer thread between
// commits, in transactions of a bounded number of samples and within a time
// budget, so that a backlog (a restart after a long stop, a bulk import of
// old data) never stalls writes for long nor holds much in memory.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <optional>

#include "counters.hpp"
#include "db.hpp"
#include "head_index.hpp"
#include "pending_queue.hpp"
#include "v3_store.hpp"

namespace vitals::sqlite {

class Compactor {
 public:
  Compactor(Database &db, HeadIndex &head, const v3::Options &options, Counters &counters);

  // A head row committed, in seq order.
  void track(v3::HeadRow row) { rows_.push_back({row, std::chrono::steady_clock::now()}); }
  // A head row found at open: it waited across the restart already.
  void track_found(v3::HeadRow row) { rows_.push_back({row, std::chrono::steady_clock::time_point{}}); }
  // A pending window found at open: it waited across the restart already.
  void track_pending(v3::Window window, int64_t now_ns);
  // A seal found at open with `rows` partial chunks not merged yet.
  void track_seal(int64_t seal, int64_t rows) { unmerged_[seal] += rows; }
  // When sealing, finalizing or gathering is due if no commit comes first
  // (the oldest row's seal_after, after its window closes; a pending
  // window's seal_after after its last write, after it ends; now while
  // days of hourly rollups may wait to be gathered, else when the day in
  // progress ends), for a timer: once writes stop, nothing else seals what
  // they left in the head.
  std::optional<std::chrono::steady_clock::time_point> next_due(int64_t now_ns) const;
  // Whether to seal now: the oldest head row can be sealed at now_ns, and
  // the head holds seal_after_samples or that row waited seal_after. Each
  // seal writes a partial chunk for every window it touches, so sealing a
  // backlog in large steps writes fewer, larger ones.
  bool due(int64_t now_ns) const;
  // Seals while due, until `budget` is spent, and past it while the head
  // holds more than head_limit_samples: the writer (and so the batches
  // waiting for it, and the clients behind them) waits until the head is
  // back under its bound. Then finalizes the windows ready, and gathers
  // the hourly rollups of past days with no pending window into day rows
  // (v3::compact_day()), while the budget lasts. Not inside a transaction.
  // Returns whether it sealed, finalized or gathered anything; throws
  // (after committing the rest) when a window could not be finalized or a
  // day gathered.
  bool run(int64_t now_ns, std::chrono::nanoseconds budget);

  // Called under the seal's lock once a seal committed (the plugin drops its
  // cached replies, window rollups and stored rollups there).
  std::function<void()> on_sealed;
  // Called once finalizing committed: stored rollups changed. (Gathering
  // a day moves its windows' hours into one row unchanged: not called.)
  std::function<void()> on_rollups_stored;

  // Samples gathered per sealing transaction; exposed for tests.
  int64_t samples_per_transaction = 500'000;
  // Series whose hourly rollups of a day are gathered per transaction
  // (twelve rows each read, one written: a few milliseconds).
  int64_t series_per_gathering = 200;
  // When sealing starts (see due()).
  int64_t seal_after_samples = 500'000;
  std::chrono::steady_clock::duration seal_after = std::chrono::seconds(30);
  // The head's bound in memory (about 24 bytes a sample, plus slack):
  // beyond it the oldest rows are sealed whatever their samples, the open
  // window's included (a server writing more series than a window of them
  // fits in it).
  int64_t head_limit_samples = 1'000'000;

 private:
  Database &db_;
  HeadIndex &head_;
  const v3::Options &options_;
  Counters &counters_;
  struct Tracked {
    v3::HeadRow row;
    std::chrono::steady_clock::time_point since;  // committed, or found at open
  };
  std::deque<Tracked> rows_;  // in the head table, oldest first
  PendingQueue pending_;
  // Per seal, its partial chunks not merged into a chunk yet: at 0 it is
  // retired (v3::retire_seal()).
  std::map<int64_t, int64_t> unmerged_;
  // Days whose gathering failed (a corrupt rollup chunk), and when they are
  // tried again; the others go on meanwhile.
  std::map<int64_t, std::chrono::steady_clock::time_point> gather_failed_;
  // When days of hourly rollups may wait to be gathered (wall clock): at
  // the start (a file from before gathering, or a stop in the middle of
  // it) and after finalizing, until a pass finds none left but those held
  // by a pending window; then when the day in progress ends.
  int64_t gather_due_ns_ = std::numeric_limits<int64_t>::min();

  bool finalize_ready(int64_t now_ns, std::chrono::steady_clock::time_point deadline);
  bool gather_days(int64_t now_ns, std::chrono::steady_clock::time_point deadline);
  void queue_pending(v3::Window window, int64_t ready_ns);
  // Adds the pages written since pages_before (a transaction just
  // committed) to counter, one of the per-task page counters.
  void count_pages(std::atomic<uint64_t> &counter, int64_t pages_before);
};

}  // namespace vitals::sqlite
