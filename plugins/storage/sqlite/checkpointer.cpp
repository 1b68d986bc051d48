// The background checkpoint thread of checkpointer.hpp.
#include "checkpointer.hpp"

#include "schema.hpp"

namespace vitals::sqlite {

Checkpointer::Checkpointer(const Settings &settings, int64_t pages)
    : db_(settings.path, Database::Open::read_write),
      pages_(pages),
      rest_(pages / 10 > 0 ? pages / 10 : 1),
      hard_limit_(4 * pages) {
  set_busy_timeout(db_, settings);
  // It reads WAL frames and writes them into the file: no page cache needed.
  db_.exec("PRAGMA cache_size = -256");
  db_.exec("PRAGMA mmap_size = 0");
  thread_ = std::thread([this] { run(); });
}

Checkpointer::~Checkpointer() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void Checkpointer::attach(Database &writer) { sqlite3_wal_hook(writer.get(), &Checkpointer::on_commit, this); }

void Checkpointer::detach(Database &writer) { sqlite3_wal_hook(writer.get(), nullptr, nullptr); }

// Called by SQLite inside the writer's COMMIT, with the WAL's size in
// frames: only takes note and wakes the thread.
int Checkpointer::on_commit(void *self_ptr, sqlite3 *, const char *, int frames) {
  auto *self = static_cast<Checkpointer *>(self_ptr);
  self->frames_.store(frames, std::memory_order_relaxed);
  if (frames >= self->pages_ && !self->writer_finishes_.load(std::memory_order_relaxed)) {
    {
      std::lock_guard lock(self->mutex_);
      self->due_ = true;
    }
    self->wake_.notify_one();
  }
  return SQLITE_OK;
}

void Checkpointer::finish(Database &writer) {
  int64_t frames = frames_.load(std::memory_order_relaxed);
  if (frames < pages_) return;
  if (!writer_finishes_.load(std::memory_order_acquire) && frames < hard_limit_) return;
  // No transaction is open and this thread is the only writer: PASSIVE
  // copies every frame no reader still needs, and the next transaction
  // starts the WAL over.
  sqlite3_wal_checkpoint_v2(writer.get(), "main", SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  writer_checkpoints_.fetch_add(1, std::memory_order_relaxed);
  frames_.store(0, std::memory_order_relaxed);
  writer_finishes_.store(false, std::memory_order_release);
}

void Checkpointer::run() {
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [this] { return due_ || stop_; });
    if (stop_) return;
    due_ = false;
    lock.unlock();
    // Errors (SQLITE_BUSY while another connection checkpoints, I/O) leave
    // the WAL as it is; the next commit past the threshold asks again.
    int log = 0, copied = 0;
    int rc = sqlite3_wal_checkpoint_v2(db_.get(), "main", SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
    checkpoints_.fetch_add(1, std::memory_order_relaxed);
    bool rest_left = rc == SQLITE_OK && log - copied <= rest_;
    if (rest_left) writer_finishes_.store(true, std::memory_order_release);
    lock.lock();
    // Commits during this round asked for another: the writer's turn now.
    if (rest_left) due_ = false;
  }
}

}  // namespace vitals::sqlite
