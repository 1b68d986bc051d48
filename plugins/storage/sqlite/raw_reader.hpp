// The points of a raw query, as reply text: from the closed blocks already
// cached (raw_blocks.hpp) and from SQLite for the rest, reading each missing
// closed block whole so that it can be cached, and the open tail as is.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "db.hpp"
#include "raw_blocks.hpp"

namespace vitals::sqlite {

// "[ts,value]," into buf (at least 64 bytes); NaN, infinities and NULL as
// null, numbers exactly as json::append_int and append_double write them.
// Returns the length.
size_t render_point(char *buf, int64_t ts, bool is_null, double value);

// Where a raw read's rows come from: the samples table (layout v2), or
// chunks and the head (v3). Calls sink.row() for every sample of `series`
// in [lo, hi], in timestamp order.
class RowSink {
 public:
  virtual void row(int64_t ts, bool is_null, double value) = 0;

 protected:
  ~RowSink() = default;
};
using RowSource = std::function<void(int64_t series, int64_t lo, int64_t hi, RowSink &sink)>;

class RawReader {
 public:
  RawReader(RowSource source, RawBlocks &blocks) : source_(std::move(source)), blocks_(blocks) {}

  // What one call needs besides the series.
  struct Range {
    int64_t from = 0, to = 0;
    int64_t closed_before = 0;  // blocks ending at or before this time may be cached
    uint64_t generation = 0;    // blocks.generation() taken before the read transaction began
    bool use_blocks = false;
  };

  // Appends every point of series in [from, to] to out, each followed by a
  // comma. Takes budget down by the points appended and throws
  // std::length_error, appending nothing more, once it would go below zero.
  // Returns the number of points appended.
  int64_t append(int64_t series, const Range &range, std::string &out, int64_t &budget);

 private:
  // Reads [lo, hi] from SQLite; rows of the closed blocks from first_block on
  // go into cached blocks, the others straight into out.
  int64_t read(int64_t series, const Range &range, int64_t lo, int64_t hi, std::string &out, int64_t &budget);
  // Stores a finished block and appends its part in [from, to] to out.
  int64_t finish(int64_t series, int64_t start, std::shared_ptr<BlockText> block, const Range &range, std::string &out,
                 int64_t &budget);
  static int64_t emit(const BlockText &block, const Range &range, std::string &out, int64_t &budget);

  RowSource source_;
  RawBlocks &blocks_;
  size_t expect_points_ = 64;  // points in the last block read
};

}  // namespace vitals::sqlite
