// Raw query points from cached blocks and SQLite (raw_reader.hpp).
#include "raw_reader.hpp"

#include <charconv>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "tier.hpp"

namespace vitals::sqlite {

namespace {

constexpr int64_t block_ns = RawBlocks::width_ns;

// The block [start, start + width) ended at or before closed_before.
// (Unsigned difference: no overflow at the ends of the int64 range.)
bool closed(int64_t start, const RawReader::Range &r) {
  return r.use_blocks && start < r.closed_before &&
         static_cast<uint64_t>(r.closed_before) - static_cast<uint64_t>(start) >= static_cast<uint64_t>(block_ns);
}

void take(int64_t &budget, int64_t points) {
  if (points > budget) throw std::length_error("raw sample budget exceeded");
  budget -= points;
}

}  // namespace

size_t render_point(char *buf, int64_t ts, bool is_null, double value) {
  char *p = buf;
  *p++ = '[';
  p = std::to_chars(p, p + 24, ts).ptr;
  *p++ = ',';
  if (is_null || !std::isfinite(value)) {
    std::memcpy(p, "null", 4);
    p += 4;
  } else {
    p = std::to_chars(p, p + 32, value).ptr;
  }
  *p++ = ']';
  *p++ = ',';
  return static_cast<size_t>(p - buf);
}

int64_t RawReader::emit(const BlockText &block, const Range &range, std::string &out, int64_t &budget) {
  auto [first, last] = block.range(range.from, range.to);
  take(budget, static_cast<int64_t>(last - first));
  block.append_slice(out, first, last);
  return static_cast<int64_t>(last - first);
}

int64_t RawReader::finish(int64_t series, int64_t start, std::shared_ptr<BlockText> block, const Range &range,
                          std::string &out, int64_t &budget) {
  int64_t n = emit(*block, range, out, budget);
  expect_points_ = block->ts.size();
  blocks_.put(series, start, std::move(block), range.generation);
  return n;
}

int64_t RawReader::append(int64_t series, const Range &range, std::string &out, int64_t &budget) {
  if (!range.use_blocks) return read(series, range, range.from, range.to, out, budget);
  int64_t appended = 0;
  const int64_t last = bucket_start(range.to, block_ns);
  int64_t b = bucket_start(range.from, block_ns);
  std::shared_ptr<const BlockText> cached = closed(b, range) ? blocks_.get(series, b) : nullptr;
  while (true) {
    if (cached) {
      appended += emit(*cached, range, out, budget);
      if (b == last) break;
      b += block_ns;
      cached = closed(b, range) ? blocks_.get(series, b) : nullptr;
      continue;
    }
    // Read from b up to the next cached block, or to the end of the range.
    int64_t end = b;
    while (end != last) {
      int64_t next = end + block_ns;
      if (closed(next, range) && (cached = blocks_.get(series, next))) break;
      end = next;
    }
    int64_t lo = closed(b, range) ? b : std::max(range.from, b);
    int64_t hi = closed(end, range) ? end + (block_ns - 1) : range.to;
    appended += read(series, range, lo, hi, out, budget);
    if (end == last) break;
    b = end + block_ns;
  }
  return appended;
}

int64_t RawReader::read(int64_t series, const Range &range, int64_t lo, int64_t hi, std::string &out, int64_t &budget) {
  // Each row rendered once, into the closed block it falls in (kept) or
  // straight into the reply.
  struct Sink final : RowSink {
    RawReader &reader;
    int64_t series;
    const Range &range;
    std::string &out;
    int64_t &budget;
    int64_t appended = 0;
    std::shared_ptr<BlockText> block;  // the closed block being filled
    int64_t block_start = 0;
    // Closed blocks without a single row are cached as such too, or a
    // sparse series would read them again every time: `expect` is the
    // first block not stored yet.
    int64_t expect;
    char buf[64];

    Sink(RawReader &r, int64_t s, const Range &rg, std::string &o, int64_t &b, int64_t lo)
        : reader(r), series(s), range(rg), out(o), budget(b), expect(bucket_start(lo, block_ns)) {}

    void store_empty_until(int64_t end) {
      for (; expect < end; expect += block_ns)
        if (closed(expect, range)) reader.blocks_.put(series, expect, std::make_shared<BlockText>(), range.generation);
    }

    void row(int64_t ts, bool is_null, double value) override {
      size_t n = render_point(buf, ts, is_null, value);
      int64_t start = bucket_start(ts, block_ns);
      if (block && block_start != start) {
        appended += reader.finish(series, block_start, std::move(block), range, out, budget);
        block.reset();
      }
      if (closed(start, range)) {
        if (!block) {
          store_empty_until(start);
          expect = start + block_ns;
          block = std::make_shared<BlockText>();
          block_start = start;
          // Sized like the last block read (series mostly keep their rate):
          // no growing, no slack to trim before it is kept.
          block->text.reserve(reader.expect_points_ * 32);
          block->ts.reserve(reader.expect_points_);
          block->offsets.reserve(reader.expect_points_);
        }
        block->offsets.push_back(static_cast<uint32_t>(block->text.size()));
        block->ts.push_back(ts);
        block->text.append(buf, n);
      } else if (ts >= range.from && ts <= range.to) {
        take(budget, 1);
        out.append(buf, n);
        ++appended;
      }
    }
  } sink(*this, series, range, out, budget, lo);
  source_(series, lo, hi, sink);
  if (sink.block) sink.appended += finish(series, sink.block_start, std::move(sink.block), range, out, budget);
  if (closed(bucket_start(hi, block_ns), range)) sink.store_empty_until(bucket_start(hi, block_ns) + block_ns);
  return sink.appended;
}

}  // namespace vitals::sqlite
