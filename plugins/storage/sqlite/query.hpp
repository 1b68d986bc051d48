// The query engine behind the storage `query` entry: series listing, range
// queries downsampled server-side from the right tier, latest values. Runs on
// its own read connection (WAL lets it read while the writer writes), one
// query at a time, under its own mutex.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "cache.hpp"
#include "catalog.hpp"
#include "config.hpp"
#include "counters.hpp"
#include "db.hpp"
#include "raw_reader.hpp"
#include "tier.hpp"
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
  QueryEngine(Database &reader, Catalog &catalog, Caches &caches, const Settings &settings, Counters &counters);

  Answer series(const storage::SeriesQuery &q);
  Answer range(const storage::RangeQuery &q, int64_t now_ns);
  Answer latest(const storage::LatestQuery &q);

  struct Figures {
    int64_t page_size = 0, page_count = 0, freelist_count = 0;
  };
  Figures figures();

 private:
  Answer run(const storage::RangeQuery &q, Tier tier, int64_t now_ns);
  // The "series" of a raw reply; use_blocks: from the raw block cache where it can.
  void append_raw_series(const storage::RangeQuery &q, const std::vector<SeriesPtr> &matched, int64_t now_ns,
                         bool use_blocks, storage::RangeReply &out);
  // Reads the non-null rows of series in [from, to].
  void read_raw(int64_t series, int64_t from, int64_t to, std::vector<Point> &out);
  void read_rollup(Tier tier, int64_t series, int64_t from, int64_t to, std::vector<RollupRow> &out);

  std::mutex mutex_;  // the read connection and its statements
  Database &db_;
  Catalog &catalog_;
  QueryCache &cache_;
  RawBlocks &blocks_;
  const Settings &settings_;
  Counters &counters_;
  Statement begin_, end_, raw_, minute_, hour_;
  RawReader raw_reader_{raw_, blocks_};
  size_t raw_reserve_ = 0;  // the size of the last raw reply: the next one is likely alike
};

}  // namespace vitals::sqlite
