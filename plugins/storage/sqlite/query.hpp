// The query engine behind the storage `query` entry: series listing, range
// queries downsampled server-side from the right tier, latest values. Runs on
// its own read connection (WAL lets it read while the writer writes), one
// query at a time, under its own mutex.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>

#include "cache.hpp"
#include "catalog.hpp"
#include "config.hpp"
#include "counters.hpp"
#include "db.hpp"
#include "downsample.hpp"
#include "request.hpp"
#include "tier.hpp"
#include "vitals/selector.hpp"

namespace vitals::sqlite {

struct QueryReplyText {
  int status = 200;
  std::string body;
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
  QueryEngine(Database &reader, Catalog &catalog, QueryCache &cache, const Settings &settings, Counters &counters);

  QueryReplyText series(const Request &req);
  QueryReplyText query(const Request &req, int64_t now_ns);
  QueryReplyText latest(const Request &req);

  struct Figures {
    int64_t page_size = 0, page_count = 0, freelist_count = 0;
  };
  Figures figures();

 private:
  Selector selector(const std::string &text);
  std::string run(const RangeQuery &q, const Selector &sel, Tier tier);
  // Appends the rows of series in [from, to] as [ts,value] pairs; false if none.
  bool append_raw(int64_t series, int64_t from, int64_t to, std::string &out, int64_t &budget);
  // Reads the non-null rows of series in [from, to].
  void read_raw(int64_t series, int64_t from, int64_t to, std::vector<Point> &out);
  void read_rollup(Tier tier, int64_t series, int64_t from, int64_t to, std::vector<RollupRow> &out);

  std::mutex mutex_;  // the read connection and its statements
  Database &db_;
  Catalog &catalog_;
  QueryCache &cache_;
  const Settings &settings_;
  Counters &counters_;
  Statement begin_, end_, raw_, minute_, hour_;
};

}  // namespace vitals::sqlite
