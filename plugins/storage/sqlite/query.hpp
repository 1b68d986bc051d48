// The query engine behind the storage `query` entry: series listing, range
// queries downsampled server-side from the right tier, latest values. Runs on
// its own read connection (WAL lets it read while the writer writes), one
// query at a time, under its own mutex.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "cache.hpp"
#include "catalog.hpp"
#include "config.hpp"
#include "counters.hpp"
#include "db.hpp"
#include "head_index.hpp"
#include "raw_reader.hpp"
#include "tier.hpp"
#include "v3_store.hpp"
#include "vitals/downsample.hpp"
#include "vitals/selector.hpp"
#include "vitals/storage.hpp"

namespace vitals::sqlite {

using storage::Answer;
using storage::BadRequest;
using storage::Point;
using storage::RollupRow;

class QueryEngine {
 public:
  // Layout v3: head and options given; recent samples come from the head.
  QueryEngine(Database &reader, Catalog &catalog, Caches &caches, const Settings &settings, Counters &counters,
              HeadIndex *head = nullptr, const v3::Options *options = nullptr);

  // Layout v3, read_only: another process writes the file, so each range
  // query first brings the head up to its snapshot (rows added since
  // `last_seq`, rows sealed since dropped).
  void follow_head(int64_t last_seq);

  Answer series(const storage::SeriesQuery &q);
  Answer range(const storage::RangeQuery &q, int64_t now_ns);
  Answer latest(const storage::LatestQuery &q);

  struct Figures {
    int64_t page_size = 0, page_count = 0, freelist_count = 0;
  };
  Figures figures();

 private:
  Answer run(const storage::RangeQuery &q, Tier tier, int64_t now_ns);
  // The "series" of a raw reply; use_blocks: from the raw block cache where
  // it can, caching what it reads if the blocks' generation is still
  // `generation` (taken before the read snapshot).
  void append_raw_series(const storage::RangeQuery &q, const std::vector<SeriesPtr> &matched, int64_t now_ns,
                         uint64_t generation, bool use_blocks, storage::RangeReply &out);
  // Reads the non-null rows of series in [from, to].
  void read_raw(int64_t series, int64_t from, int64_t to, std::vector<Point> &out);
  void read_rollup(Tier tier, int64_t series, int64_t from, int64_t to, std::vector<RollupRow> &out);
  // Layout v3: the rollup rows of `tier` from stored rollup chunks, and from
  // the raw samples of windows the head touches (or, for minutes, of
  // windows whose minutes were not stored).
  void read_rollup_v3(Tier tier, int64_t series, int64_t from, int64_t to, std::vector<RollupRow> &out);
  // Layout v3: takes the read snapshot and copies the matched series' head
  // samples in whole windows around [from, to], under the head's lock.
  void take_snapshot(const std::vector<SeriesPtr> &matched, int64_t from, int64_t to);
  // Layout v3: the samples of `series` in [from, to], chunks and head as one.
  chunk::Samples samples_v3(int64_t series, int64_t from, int64_t to);
  // Layout v3: the buckets of `tier` of the window at `start` from its raw
  // samples: its sealed ones' rollup (cached: window_rollups.hpp) with the
  // head's added.
  std::vector<compaction::Bucket> window_rollup(Tier tier, int64_t series, int64_t start);
  // Layout v3: the windows starting in [bucket_start(from), to] with stored
  // rollups of `tier` (as ChunkReader::rollups() reads them) or raw samples
  // (ChunkReader::windows()), in order, those seen before from the cache of
  // stored rollups (window_rollups.hpp). `raw_exact` false: at the hourly
  // tier, a range read straight (a long one, the earliest window, or no
  // cache: read_only, query_cache_entries = 0), where only pending windows
  // count as holding raw samples (its chunks are not walked).
  using WindowList = std::vector<std::pair<int64_t, std::shared_ptr<const StoredRollup>>>;
  WindowList stored_rollups(v3::RollupTier tier, int64_t series, int64_t from, int64_t to, bool &raw_exact);

  std::mutex mutex_;  // the read connection and its statements
  Database &db_;
  Catalog &catalog_;
  QueryCache &cache_;
  RawBlocks &blocks_;
  WindowRollups &windows_;
  StoredRollups &stored_;
  uint64_t windows_generation_ = 0, stored_generation_ = 0;  // this query's, taken before its snapshot
  const Settings &settings_;
  Counters &counters_;
  Statement begin_, end_, raw_, minute_, hour_, snapshot_;
  HeadIndex *head_ = nullptr;
  const v3::Options *v3_options_ = nullptr;
  std::optional<v3::ChunkReader> chunks_;
  std::unordered_map<int64_t, chunk::Samples> head_copy_;  // this query's, by series
  int64_t raw_floor_ = 0;                                  // this query's: raw samples before it are past retention
  bool follow_head_ = false;
  int64_t head_seq_ = 0;  // following: the newest head row added
  RowSource source_;
  RawReader raw_reader_;
  size_t raw_reserve_ = 0;  // the size of the last raw reply: the next one is likely alike
};

}  // namespace vitals::sqlite
