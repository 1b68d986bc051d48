// The plugin's own figures, written by the writer thread and read by stats()
// and the "stats" query from other threads: atomics only.
#pragma once

#include <atomic>
#include <cstdint>

namespace vitals::sqlite {

struct Counters {
  std::atomic<uint64_t> samples_written{0};  // rows handed to SQLite and committed (replacements included)
  std::atomic<uint64_t> events_written{0};
  std::atomic<int64_t> samples_stored{0};  // exact count of raw samples in the database (v3: counted once sealed)
  std::atomic<uint64_t> series{0};
  std::atomic<uint64_t> commits{0};
  std::atomic<uint64_t> commit_errors{0};
  std::atomic<uint64_t> batches_failed{0};
  std::atomic<int64_t> last_commit_ns{0};
  std::atomic<int64_t> last_commit_samples{0};
  std::atomic<uint64_t> rollup_recomputes{0};  // rollup buckets rebuilt after late or duplicate writes
  std::atomic<uint64_t> retention_deleted{0};  // rows removed by retention, all tables
  std::atomic<uint64_t> series_removed{0};     // layout v3: series retention left with no data
  std::atomic<uint64_t> pages_vacuumed{0};     // free pages given back to the file system
  std::atomic<uint64_t> head_rows_sealed{0};   // layout v3: head rows sealed into chunks
  std::atomic<uint64_t> chunks_written{0};     // layout v3: partial chunks written by sealing
  std::atomic<uint64_t> windows_pending{0};    // layout v3: chunk windows written since last finalized
  std::atomic<uint64_t> windows_finalized{0};  // layout v3: windows merged into one chunk with their rollups
  // Pages the writer's connection wrote to the WAL (or the file): all of
  // them, and those of sealing and of finalizing (layout v3): where an SD
  // card's writes go. Checkpoints copy them into the file once more.
  std::atomic<uint64_t> pages_written{0};
  std::atomic<uint64_t> pages_written_sealing{0};
  std::atomic<uint64_t> pages_written_finalizing{0};
  std::atomic<uint64_t> queries{0};
  std::atomic<uint64_t> query_errors{0};
};

}  // namespace vitals::sqlite
