// Range queries: tier choice, reading, downsampling and the JSON reply.
#include "query.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <set>

namespace vitals::sqlite {

QueryEngine::QueryEngine(Database &reader, Catalog &catalog, Caches &caches, const Settings &settings,
                         Counters &counters, HeadIndex *head, const v3::Options *options)
    : db_(reader),
      catalog_(catalog),
      cache_(caches.replies),
      blocks_(caches.blocks),
      windows_(caches.windows),
      stored_(caches.stored),
      settings_(settings),
      counters_(counters),
      head_(head),
      v3_options_(options),
      raw_reader_([this](int64_t series, int64_t lo, int64_t hi, RowSink &sink) { source_(series, lo, hi, sink); },
                  blocks_) {
  if (head_) {
    chunks_.emplace(db_, *v3_options_);
    snapshot_ = db_.prepare("SELECT 1 FROM chunks LIMIT 1");
    source_ = [this](int64_t series, int64_t lo, int64_t hi, RowSink &sink) {
      // Retention drops whole chunks: what is older than retention and not
      // dropped yet is not shown either.
      const chunk::Samples samples = samples_v3(series, std::max(lo, raw_floor_), hi);
      for (size_t i = 0; i < samples.ts.size(); ++i) sink.row(samples.ts[i], false, samples.values[i]);
    };
  } else {
    source_ = [this](int64_t series, int64_t lo, int64_t hi, RowSink &sink) {
      raw_.bind(1, series).bind(2, lo).bind(3, hi);
      ResetOnExit reset{raw_};
      sqlite3_stmt *s = raw_.get();
      while (raw_.step()) {
        const bool is_null = sqlite3_column_type(s, 1) == SQLITE_NULL;
        sink.row(sqlite3_column_int64(s, 0), is_null, is_null ? 0.0 : sqlite3_column_double(s, 1));
      }
    };
  }
  begin_ = db_.prepare("BEGIN");
  end_ = db_.prepare("COMMIT");
  raw_ = db_.prepare("SELECT ts, value FROM samples WHERE series_id = ?1 AND ts >= ?2 AND ts <= ?3 ORDER BY ts");
  const char *rollup =
      "SELECT bucket_ts, min, max, sum, count FROM %s WHERE series_id = ?1 AND bucket_ts >= ?2 AND bucket_ts <= ?3 "
      "ORDER BY bucket_ts";
  char sql[256];
  std::snprintf(sql, sizeof sql, rollup, "rollup_1m");
  minute_ = db_.prepare(sql);
  std::snprintf(sql, sizeof sql, rollup, "rollup_1h");
  hour_ = db_.prepare(sql);
}

Answer QueryEngine::series(const storage::SeriesQuery &q) {
  storage::SeriesList list;
  for (const auto &s : catalog_.match(q.selector)) list.add(s->text, s->name, s->labels);
  return list.finish();
}

Answer QueryEngine::latest(const storage::LatestQuery &q) {
  storage::SeriesList list;
  for (const auto &[s, l] : catalog_.latest(q.selector)) list.add_latest(s->text, s->name, s->labels, l.ts, l.value);
  return list.finish();
}

Answer QueryEngine::range(const storage::RangeQuery &q, int64_t now_ns) {
  Tier tier = q.tier ? *q.tier
                     : choose_tier(q.method, q.from, q.to, q.points, now_ns, settings_.retention_ns,
                                   settings_.rollup_retention_ns);
  // A range that ended more than flush_interval ago is closed: only a late
  // write can change its answer, and such a write drops the entry.
  bool closed = q.to < now_ns - settings_.flush_interval_ns;
  std::string key;
  uint64_t generation = cache_.generation();
  if (closed) {
    key = q.match + '\n' + std::to_string(q.from) + '\n' + std::to_string(q.to) + '\n' + std::to_string(q.points) +
          '\n' + method_name(q.method) + '\n' + tier_name(tier);
    if (auto hit = cache_.get(key)) return {200, std::move(hit)};
  }
  Answer answer = run(q, tier, now_ns);
  if (!closed) return answer;
  auto shared = std::make_shared<const std::string>(std::move(answer.body));
  cache_.put(key, shared, q.to, generation);
  return {200, std::move(shared)};
}

void QueryEngine::read_raw(int64_t series, int64_t from, int64_t to, std::vector<Point> &out) {
  // NaN (stored as NULL in v2) is no point to draw.
  struct Collect final : RowSink {
    std::vector<Point> &out;
    explicit Collect(std::vector<Point> &o) : out(o) {}
    void row(int64_t ts, bool is_null, double value) override {
      if (!is_null && !std::isnan(value)) out.push_back({ts, value});
    }
  } collect(out);
  source_(series, from, to, collect);
}

void QueryEngine::follow_head(int64_t last_seq) {
  follow_head_ = true;
  head_seq_ = last_seq;
}

void QueryEngine::take_snapshot(const std::vector<SeriesPtr> &matched, int64_t from, int64_t to) {
  head_copy_.clear();
  const int64_t span = v3_options_->span_ns;
  const int64_t lo = bucket_start(from, span);
  const int64_t hi = v3::window_last(bucket_start(to, span), *v3_options_);
  if (follow_head_) {
    snapshot_.step();
    snapshot_.reset();
    auto guard = head_->seal_guard();
    const auto oldest = db_.query_int("SELECT min(seq) FROM head");
    head_->drop_through_locked(oldest ? *oldest - 1 : std::numeric_limits<int64_t>::max());
    auto &added = db_.cached("SELECT seq, rows FROM head WHERE seq > ?1 ORDER BY seq");
    added.bind(1, head_seq_);
    while (added.step()) {
      head::Rows rows;
      std::string error;
      if (!head::decode(added.column_blob(1), rows, error))
        throw std::runtime_error("head row " + std::to_string(added.column_int(0)) + ": " + error);
      head_seq_ = added.column_int(0);
      head_->add_locked(rows, head_seq_);
    }
    added.reset();
  }
  auto view = head_->view();
  if (!follow_head_) {
    snapshot_.step();
    snapshot_.reset();
  }
  for (const auto &s : matched) {
    chunk::Samples part;
    head_->read_locked(s->id, lo, hi, part);
    if (!part.ts.empty()) head_copy_.emplace(s->id, std::move(part));
  }
}

chunk::Samples QueryEngine::samples_v3(int64_t series, int64_t from, int64_t to) {
  chunk::Samples sealed;
  chunks_->samples(series, from, to, sealed);
  auto it = head_copy_.find(series);
  if (it == head_copy_.end()) return sealed;
  const auto [first, last] = it->second.range(from, to);
  if (first == last) return sealed;
  chunk::Samples newer;
  newer.append(it->second, first, last);
  return compaction::overlay(sealed, newer);
}

std::vector<compaction::Bucket> QueryEngine::window_rollup(Tier tier, int64_t series, int64_t start) {
  const int64_t width = tier_resolution_ns(tier), last = v3::window_last(start, *v3_options_);
  std::shared_ptr<const SealedRollup> sealed = windows_.get(series, static_cast<int>(tier), start);
  if (!sealed) {
    chunk::Samples samples;
    chunks_->samples(series, start, last, samples);
    auto made = std::make_shared<SealedRollup>();
    made->buckets = compaction::rollup(samples, width);
    if (!samples.ts.empty()) {
      made->last_ts = samples.ts.back();
      const auto [tail, end] = samples.range(bucket_start(made->last_ts, width), made->last_ts);
      made->tail.append(samples, tail, end);
    }
    windows_.put(series, static_cast<int>(tier), start, made, windows_generation_);
    sealed = std::move(made);
  }
  // The head's samples in the window: [first, end) of its copy.
  auto it = head_copy_.find(series);
  if (it == head_copy_.end()) return sealed->buckets;
  const chunk::Samples &copy = it->second;
  const auto [first, end] = copy.range(start, last);
  if (first == end) return sealed->buckets;
  // A head sample at or before the newest sealed one may be a later write of
  // a sealed timestamp (which wins): the window is read whole.
  if (copy.ts[first] <= sealed->last_ts) return compaction::rollup(samples_v3(series, start, last), width);
  // The sealed samples of the last bucket, then the head's: the buckets from
  // there on are what a read of all samples in time order gives.
  chunk::Samples joined = sealed->tail;
  joined.append(copy, first, end);
  std::vector<compaction::Bucket> out = sealed->buckets;
  // (The tail's bucket is missing when all its samples are NaN.)
  if (!sealed->tail.ts.empty() && !out.empty() && out.back().start == bucket_start(sealed->last_ts, width))
    out.pop_back();
  const auto added = compaction::rollup(joined, width);
  out.insert(out.end(), added.begin(), added.end());
  return out;
}

QueryEngine::WindowList QueryEngine::stored_rollups(v3::RollupTier tier, int64_t series, int64_t from, int64_t to,
                                                    bool &raw_exact) {
  WindowList out;
  if (from > to) return out;
  // Windows [first, last] as rows stored and raw samples held tell.
  auto read = [&](int64_t first, int64_t last, bool chunks, const std::function<void(int64_t, StoredRollup &&)> &each) {
    auto rows = chunks_->rollups(tier, series, first, last);
    const v3::ChunkReader::Windows held = chunks_->windows(series, first, last, chunks);
    auto row = rows.begin();
    auto raw = held.raw.begin(), pending = held.pending.begin();
    // Every window start in [first, last] that any of them names, in order.
    for (int64_t at = first;;) {
      StoredRollup window;
      if (row != rows.end() && row->first == at) {
        window.buckets = std::move(row->second);
        window.stored = true;
        ++row;
      }
      if (raw != held.raw.end() && *raw == at) window.raw = true, ++raw;
      if (pending != held.pending.end() && *pending == at) window.pending = true, ++pending;
      each(at, std::move(window));
      const int64_t next = std::min({row != rows.end() ? row->first : std::numeric_limits<int64_t>::max(),
                                     raw != held.raw.end() ? *raw : std::numeric_limits<int64_t>::max(),
                                     pending != held.pending.end() ? *pending : std::numeric_limits<int64_t>::max()});
      if (next == std::numeric_limits<int64_t>::max() || next > last) break;
      at = next;
    }
  };
  // Past this many windows (a year at the hourly tier is 4,380) the range
  // is read straight: one walk, no entries for windows seen once, and at
  // the hourly tier its chunks are not walked.
  constexpr uint64_t max_windows = 1024;
  const int64_t span = v3_options_->span_ns;
  const int64_t first = bucket_start(from, span);
  // The earliest window starts at the int64 limit, off the windows' grid:
  // stepping by span from it would miss every later start (read straight).
  if (!stored_.enabled() || first == std::numeric_limits<int64_t>::min() ||
      (static_cast<uint64_t>(to) - static_cast<uint64_t>(first)) / static_cast<uint64_t>(span) >= max_windows) {
    raw_exact = tier != v3::RollupTier::hour;
    read(first, to, raw_exact, [&](int64_t at, StoredRollup &&window) {
      if (window.stored || window.raw) out.emplace_back(at, std::make_shared<StoredRollup>(std::move(window)));
    });
    return out;
  }
  raw_exact = true;
  // (Unsigned differences: no overflow at the ends of the int64 range.)
  auto another_after = [&](int64_t window) {
    return static_cast<uint64_t>(to) - static_cast<uint64_t>(window) >= static_cast<uint64_t>(span);
  };
  const int tag = static_cast<int>(tier);
  std::shared_ptr<const StoredRollup> next = stored_.get(series, tag, first);
  for (int64_t window = first;;) {
    if (next) {
      if (next->stored || next->raw) out.emplace_back(window, std::move(next));
      if (!another_after(window)) break;
      window += span;
      next = stored_.get(series, tag, window);
      continue;
    }
    // The windows up to the next one cached (or the last), read at once;
    // those with nothing are kept as such too.
    int64_t last = window;
    while (another_after(last) && !(next = stored_.get(series, tag, last + span))) last += span;
    auto keep = [&](int64_t start, std::shared_ptr<const StoredRollup> kept) {
      stored_.put(series, tag, start, kept, stored_generation_);
      if (kept->stored || kept->raw) out.emplace_back(start, std::move(kept));
    };
    // The next window of the run not kept yet (none once `last` is).
    std::optional<int64_t> at = window;
    auto advance = [&](int64_t kept) { at = kept == last ? std::nullopt : std::optional<int64_t>(kept + span); };
    auto keep_empty_before = [&](int64_t end) {
      for (; at && *at < end; advance(*at)) keep(*at, std::make_shared<StoredRollup>());
    };
    read(window, last, true, [&](int64_t start, StoredRollup &&found) {
      keep_empty_before(start);
      keep(start, std::make_shared<StoredRollup>(std::move(found)));
      advance(start);
    });
    // The rest of the run (a window start is never the int64 limit itself).
    keep_empty_before(std::numeric_limits<int64_t>::max());
    if (!next) break;  // the last window read
    window = last + span;
  }
  return out;
}

void QueryEngine::read_rollup_v3(Tier tier, int64_t series, int64_t from, int64_t to, std::vector<RollupRow> &out) {
  const int64_t width = tier_resolution_ns(tier), span = v3_options_->span_ns;
  const int64_t lo = bucket_start(from, width);
  // Windows the head touches: their stored rollups (if any) miss it.
  std::set<int64_t> in_head;
  if (auto it = head_copy_.find(series); it != head_copy_.end()) {
    // Sorted: a window's samples are one run, skipped in one search.
    const std::vector<int64_t> &ts = it->second.ts;
    for (auto at = std::lower_bound(ts.begin(), ts.end(), bucket_start(lo, span)); at != ts.end() && *at <= to;) {
      const int64_t window = bucket_start(*at, span), last = v3::window_last(window, *v3_options_);
      in_head.insert(window);
      at = last == std::numeric_limits<int64_t>::max() ? ts.end() : std::upper_bound(at, ts.end(), last);
    }
  }
  // Every finalized window has its hourly rollups: a long range at that
  // tier needs its pending windows only, and which windows the head
  // touches have raw samples; minutes not worth storing are computed from
  // every window's raw samples.
  const bool hours = tier == Tier::hour;
  const auto stored_tier = hours ? v3::RollupTier::hour : v3::RollupTier::minute;
  bool raw_exact = true;
  const WindowList windows = stored_rollups(stored_tier, series, lo, to, raw_exact);
  std::vector<int64_t> raw, pending;  // sorted
  for (const auto &[start, window] : windows) {
    if (window->raw) raw.push_back(start);
    if (window->pending) pending.push_back(start);
  }
  auto in = [](const std::vector<int64_t> &sorted, int64_t start) {
    return std::binary_search(sorted.begin(), sorted.end(), start);
  };
  auto holds_raw = [&](int64_t start) { return in(raw, start) || (!raw_exact && chunks_->has_chunk(series, start)); };
  auto window_end = [&](int64_t start) { return v3::window_last(start, *v3_options_); };
  std::set<int64_t> answered;
  std::vector<compaction::Bucket> buckets;
  auto keep = [&](const std::vector<compaction::Bucket> &window) {
    for (const auto &b : window)
      if (b.start >= lo && b.start <= to) buckets.push_back(b);
  };
  for (const auto &[start, window] : windows) {
    if (!window->stored || window->pending) continue;  // a pending one's stored rollups miss its partial chunks
    if (!in_head.count(start)) {
      keep(window->buckets);
    } else if (!holds_raw(start)) {
      // Retention dropped its raw samples: what the head holds adds to its
      // rollups, as sealing will store them.
      keep(compaction::merge(window->buckets, compaction::rollup(samples_v3(series, start, window_end(start)), width)));
    } else {
      continue;  // computed from its chunk and the head below
    }
    answered.insert(start);
  }
  // The rest from raw samples: windows the head touches, pending ones, and
  // for minutes those stored without them (not worth it at a low rate).
  std::set<int64_t> computed(in_head);
  const std::vector<int64_t> &from_raw = hours ? pending : raw;
  computed.insert(from_raw.begin(), from_raw.end());
  for (int64_t start : computed)
    if (!answered.count(start)) keep(window_rollup(tier, series, start));
  const auto by_start = [](const auto &a, const auto &b) { return a.start < b.start; };
  if (!std::is_sorted(buckets.begin(), buckets.end(), by_start)) std::sort(buckets.begin(), buckets.end(), by_start);
  for (const auto &b : buckets) out.push_back({b.start, b.min, b.max, b.sum, b.count});
}

void QueryEngine::append_raw_series(const storage::RangeQuery &q, const std::vector<SeriesPtr> &matched, int64_t now_ns,
                                    uint64_t generation, bool use_blocks, storage::RangeReply &out) {
  RawReader::Range range;
  range.from = q.from;
  range.to = q.to;
  range.closed_before = now_ns - settings_.flush_interval_ns;
  range.generation = generation;
  // A long range of a sparse series would walk (and cache) many empty blocks:
  // past a week, read it straight.
  constexpr uint64_t max_blocks = 7 * 24 * 12;
  range.use_blocks = use_blocks && blocks_.enabled() &&
                     (static_cast<uint64_t>(q.to) - static_cast<uint64_t>(q.from)) / RawBlocks::width_ns <= max_blocks;
  int64_t budget = storage::max_raw_samples;
  for (const auto &s : matched) {
    out.begin_series(s->text, s->name, s->labels);
    try {
      out.encoded_added(raw_reader_.append(s->id, range, out.encoded(), budget));
    } catch (const std::length_error &) {
      throw BadRequest("the range holds more than " + std::to_string(storage::max_raw_samples) +
                       " raw samples; ask for a shorter range, fewer series, or a downsampling method");
    }
    out.end_series();
  }
}

void QueryEngine::read_rollup(Tier tier, int64_t series, int64_t from, int64_t to, std::vector<RollupRow> &out) {
  Statement &s = tier == Tier::minute ? minute_ : hour_;
  // The rollup bucket holding `from` counts: it overlaps the range.
  s.bind(1, series).bind(2, bucket_start(from, tier_resolution_ns(tier))).bind(3, to);
  // min, max and sum are NULL only when count is 0 (never stored) or for a
  // sum of +inf and -inf; read as 0 they change nothing that is drawn.
  while (s.step())
    out.push_back({s.column_int(0), s.column_double(1), s.column_double(2), s.column_double(3), s.column_int(4)});
  s.reset();
}

Answer QueryEngine::run(const storage::RangeQuery &q, Tier tier, int64_t now_ns) {
  std::vector<SeriesPtr> matched = catalog_.match(q.selector);
  storage::RangeReply out(q, tier);

  std::lock_guard lock(mutex_);
  if (q.method == Method::raw) out.reserve(raw_reserve_);
  // Taken before the snapshot: a write that commits after it, and so is
  // missing from what this reads, also moves the generation on, so that
  // nothing read here is cached as current (layout v3 takes its snapshot
  // right below; v2's BEGIN takes it at the first read).
  const uint64_t blocks_generation = blocks_.generation();
  windows_generation_ = windows_.generation();
  stored_generation_ = stored_.generation();
  // One snapshot for every series of the reply.
  begin_.run();
  struct EndRead {
    Statement &end;
    ~EndRead() {
      try {
        end.run();
      } catch (...) {
      }
    }
  } end_read{end_};
  if (head_) {
    take_snapshot(matched, q.from, q.to);
    raw_floor_ = now_ns < std::numeric_limits<int64_t>::min() + settings_.retention_ns
                     ? std::numeric_limits<int64_t>::min()
                     : now_ns - settings_.retention_ns;
  }
  std::vector<Point> points;
  std::vector<RollupRow> rows;
  size_t buckets = static_cast<size_t>(bucket_count(q.method, q.points));
  storage::Buckets b(q.from, q.to, buckets);
  if (q.method == Method::raw) {
    // Streamed straight into the reply: no copy of what may be a million rows.
    append_raw_series(q, matched, now_ns, blocks_generation, true, out);
    // A late write dropped cached blocks while this ran: those taken before
    // may predate the rows read from this snapshot. Read it all again, from
    // the snapshot only, so that the reply is one consistent state.
    if (blocks_.generation() != blocks_generation) {
      out.clear_series();
      append_raw_series(q, matched, now_ns, blocks_generation, false, out);
    }
    // Up to 8 MiB: one huge reply must not make every later one reserve as much.
    raw_reserve_ = std::min<size_t>(out.size() + out.size() / 8, 8u << 20);
    return out.finish();
  }
  for (const auto &s : matched) {
    std::vector<Point> result;
    if (tier == Tier::raw) {
      points.clear();
      read_raw(s->id, q.from, q.to, points);
      result = storage::downsample(q, points);
    } else {
      rows.clear();
      if (head_)
        read_rollup_v3(tier, s->id, q.from, q.to, rows);
      else
        read_rollup(tier, s->id, q.from, q.to, rows);
      switch (q.method) {
        case Method::lttb:
          result = storage::lttb(storage::bucket_means(rows), static_cast<size_t>(q.points));
          break;
        case Method::minmax:
          result = storage::minmax(std::span<const RollupRow>(rows), b);
          break;
        case Method::avg:
        case Method::raw:
          result = storage::average(std::span<const RollupRow>(rows), b);
          break;
      }
    }
    out.begin_series(s->text, s->name, s->labels);
    for (const Point &p : result) out.point(p.ts, p.value);
    out.end_series();
  }
  return out.finish();
}

QueryEngine::Figures QueryEngine::figures() {
  std::lock_guard lock(mutex_);
  Figures f;
  f.page_size = db_.query_int("PRAGMA page_size").value_or(0);
  f.page_count = db_.query_int("PRAGMA page_count").value_or(0);
  f.freelist_count = db_.query_int("PRAGMA freelist_count").value_or(0);
  return f;
}

}  // namespace vitals::sqlite
