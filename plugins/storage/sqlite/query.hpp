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
#include "downsample.hpp"
#include "raw_reader.hpp"
#include "request.hpp"
#include "tier.hpp"
#include "vitals/selector.hpp"

namespace vitals::sqlite {

struct QueryReplyText {
  QueryReplyText() = default;
  QueryReplyText(int status, std::string body) : status(status), body(std::move(body)) {}
  QueryReplyText(int status, std::shared_ptr<const std::string> shared) : status(status), shared(std::move(shared)) {}

  int status = 200;
  std::string body;
  std::shared_ptr<const std::string> shared;  // the body when it is also in the reply cache

  std::string_view text() const { return shared ? std::string_view(*shared) : std::string_view(body); }
};

// A request the engine refuses (answered with 400).
class BadRequest : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// The parsed form of {"op":"query",...}.
struct RangeQuery {
  std::string match;
  int64_t from = 0, to = 0;
  int64_t points = 0;
  Method method = Method::lttb;
};

// Reads and checks a query's fields; throws BadRequest. Defaults: to = now,
// from = to - 1h, points = 1000, method = lttb.
RangeQuery parse_range_query(const Request &req, int64_t now_ns);

inline constexpr int64_t default_points = 1000;
inline constexpr int64_t max_points = 1'000'000;
// A raw query returning more samples than this (all series together) is
// refused; downsampling methods read what they need.
inline constexpr int64_t max_raw_samples = 1'000'000;

class QueryEngine {
 public:
  QueryEngine(Database &reader, Catalog &catalog, Caches &caches, const Settings &settings, Counters &counters);

  QueryReplyText series(const Request &req);
  QueryReplyText query(const Request &req, int64_t now_ns);
  QueryReplyText latest(const Request &req);

  struct Figures {
    int64_t page_size = 0, page_count = 0, freelist_count = 0;
  };
  Figures figures();

 private:
  Selector selector(const std::string &text);
  std::string run(const RangeQuery &q, const Selector &sel, Tier tier, int64_t now_ns);
  // The "series" of a raw reply; use_blocks: from the raw block cache where it can.
  void append_raw_series(const RangeQuery &q, const std::vector<SeriesPtr> &matched, int64_t now_ns, bool use_blocks,
                         std::string &out);
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
