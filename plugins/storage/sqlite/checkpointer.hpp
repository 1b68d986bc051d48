// WAL checkpoints off the commit path.
//
// With SQLite's automatic checkpoints, the commit that crosses
// wal_autocheckpoint copies the WAL into the database file and fsyncs both
// before it returns: 45-70 ms every few dozen commits, the whole p99 of an
// acknowledged request, with the writer stalled meanwhile. Here the writer's
// connection only reports the WAL's size after each commit (sqlite3_wal_hook,
// which also turns the automatic checkpoints off), and a thread of this
// class, with a connection of its own, runs PASSIVE checkpoints: they copy
// what no reader still needs while the writer goes on appending.
//
// The WAL only starts over from its beginning (and stops growing) when a
// write transaction begins with every frame copied, which a checkpoint
// racing a busy writer rarely achieves: measured, the WAL then grew to four
// times the threshold and ingest cost 18 % more CPU (a larger WAL index to
// search on every page read). So once the thread has copied all but a small
// rest, the writer copies that rest itself, between two transactions and
// after the acknowledgements of the last one (finish()): a few hundred
// frames instead of ten thousand. Should the thread fall far behind (a
// starved CPU), finish() copies everything, as SQLite would have.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "config.hpp"
#include "db.hpp"

namespace vitals::sqlite {

class Checkpointer {
 public:
  // Opens a connection to settings.path and starts the thread; `pages` is
  // the WAL size (in frames) from which a checkpoint is due.
  Checkpointer(const Settings &settings, int64_t pages);
  ~Checkpointer();
  Checkpointer(const Checkpointer &) = delete;
  Checkpointer &operator=(const Checkpointer &) = delete;

  // Installs the WAL hook on the writer's connection; detach() before
  // destroying either.
  void attach(Database &writer);
  void detach(Database &writer);

  // On the writer's thread, outside any transaction: copies the rest of the
  // WAL when the thread has done the bulk of it, or all of it when the WAL
  // is past four times the threshold.
  void finish(Database &writer);

  uint64_t checkpoints() const { return checkpoints_.load(std::memory_order_relaxed); }
  uint64_t writer_checkpoints() const { return writer_checkpoints_.load(std::memory_order_relaxed); }

 private:
  static int on_commit(void *self, sqlite3 *db, const char *schema, int frames);
  void run();

  Database db_;
  const int64_t pages_;
  const int64_t rest_;                        // what the writer copies itself: a tenth of the threshold
  const int64_t hard_limit_;                  // the writer copies everything past this
  std::atomic<int64_t> frames_{0};            // the WAL's size after the last commit
  std::atomic<bool> writer_finishes_{false};  // the thread left only a rest
  std::mutex mutex_;
  std::condition_variable wake_;
  bool due_ = false, stop_ = false;
  std::atomic<uint64_t> checkpoints_{0}, writer_checkpoints_{0};
  std::thread thread_;
};

}  // namespace vitals::sqlite
