// The v3 tables (v3_store.hpp).
#include "v3_store.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <map>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <unordered_set>
#include <vector>

#include "compaction.hpp"
#include "rollup_codec.hpp"
#include "tier.hpp"

namespace vitals::sqlite::v3 {

namespace {

// One series' samples gathered from head rows in commit order, then sorted
// by timestamp keeping that order among equal ones: overlay()'s `newer`.
chunk::Samples in_time_order(const chunk::Samples &arrival) {
  std::vector<size_t> order(arrival.ts.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return arrival.ts[a] < arrival.ts[b]; });
  chunk::Samples out;
  out.ts.reserve(order.size());
  out.values.reserve(order.size());
  for (size_t i : order) {
    out.ts.push_back(arrival.ts[i]);
    out.values.push_back(arrival.values[i]);
  }
  return out;
}

head::Rows decode_head(std::string_view blob, int64_t seq) {
  head::Rows rows;
  std::string error;
  if (!head::decode(blob, rows, error)) throw std::runtime_error("head row " + std::to_string(seq) + ": " + error);
  return rows;
}

}  // namespace

chunk::Samples decode_chunk(std::string_view blob, int64_t series, int64_t start) {
  chunk::Samples samples;
  std::string error;
  if (!chunk::decode(blob, samples, error))
    throw std::runtime_error("chunk of series " + std::to_string(series) + " at " + std::to_string(start) + ": " +
                             error);
  return samples;
}

bool minute_rollup_pays(size_t samples, size_t buckets) {
  return buckets > 0 && static_cast<double>(samples) >= kMinSamplesPerMinuteBucket * static_cast<double>(buckets);
}

std::string write_chunk(Database &db, int64_t series, int64_t start, const chunk::Samples &samples,
                        const Options &options, int64_t merged_seal) {
  // A plain INSERT: a chunk in the way is a broken invariant, which must
  // fail the seal or the finalizing rather than replace samples.
  auto &put_chunk = db.cached("INSERT INTO chunks(series, start, n, data, merged_seal) VALUES(?1, ?2, ?3, ?4, ?5)");
  put_chunk.bind(1, series).bind(2, start).bind(3, static_cast<int64_t>(samples.ts.size()));
  std::string blob = chunk::encode(samples.ts, samples.values, {options.zstd_level});
  put_chunk.bind_blob(4, blob).bind(5, merged_seal);
  put_chunk.run();
  return blob;
}

void put_rollup(Database &db, RollupTier tier, int64_t series, int64_t start,
                const std::vector<compaction::Bucket> &buckets, const Options &options) {
  auto &put = db.cached("INSERT OR REPLACE INTO rollup_chunks(tier, start, series, data) VALUES(?1, ?2, ?3, ?4)");
  put.bind(1, static_cast<int64_t>(tier)).bind(2, start).bind(3, series);
  put.bind_blob(4, rollup_chunk::encode(buckets, options.zstd_level));
  put.run();
}

namespace {

std::vector<compaction::Bucket> decode_rollup(std::string_view blob, int64_t series, int64_t start) {
  std::vector<compaction::Bucket> buckets;
  std::string error;
  if (!rollup_chunk::decode(blob, buckets, error))
    throw std::runtime_error("rollup chunk of series " + std::to_string(series) + " at " + std::to_string(start) +
                             ": " + error);
  return buckets;
}

// The stored row of `tier` keyed by `start`, decoded, if there is one.
std::optional<std::vector<compaction::Bucket>> rollup_row(Database &db, RollupTier tier, int64_t series,
                                                          int64_t start) {
  auto &get = db.cached("SELECT data FROM rollup_chunks WHERE tier = ?1 AND start = ?2 AND series = ?3");
  get.bind(1, static_cast<int64_t>(tier)).bind(2, start).bind(3, series);
  ResetOnExit reset{get};
  if (!get.step()) return std::nullopt;
  return decode_rollup(get.column_blob(0), series, start);
}

// Appends to `out` each window's hours held in a day row (sorted by start),
// as (window start, buckets), for the windows starting in [lo, hi].
void split_day(const std::vector<compaction::Bucket> &day, int64_t lo, int64_t hi, const Options &options,
               std::vector<std::pair<int64_t, std::vector<compaction::Bucket>>> &out) {
  for (const compaction::Bucket &b : day) {
    const int64_t window = bucket_start(b.start, options.span_ns);
    if (window < lo || window > hi) continue;
    if (out.empty() || out.back().first != window) out.emplace_back(window, std::vector<compaction::Bucket>{});
    out.back().second.push_back(b);
  }
}

constexpr std::pair<RollupTier, int64_t> kTiers[] = {{RollupTier::minute, minute_ns}, {RollupTier::hour, hour_ns}};

}  // namespace

std::optional<std::vector<compaction::Bucket>> stored_rollup(Database &db, RollupTier tier, int64_t series,
                                                             int64_t start, const Options &options) {
  if (auto row = rollup_row(db, tier, series, start)) return row;
  if (tier != RollupTier::hour) return std::nullopt;
  const auto day = rollup_row(db, RollupTier::day, series, day_of(start));
  if (!day) return std::nullopt;
  std::vector<std::pair<int64_t, std::vector<compaction::Bucket>>> windows;
  split_day(*day, start, start, options, windows);
  if (windows.empty()) return std::nullopt;
  return std::move(windows.front().second);
}

int64_t day_of(int64_t start) { return bucket_start(start, kDayNs); }

int64_t day_last(int64_t day) {
  // The earliest day is cut short at the int64 limit: it ends where the
  // first whole one starts.
  if (day == std::numeric_limits<int64_t>::min()) return day_of(day + kDayNs) - 1;
  return day > std::numeric_limits<int64_t>::max() - (kDayNs - 1) ? std::numeric_limits<int64_t>::max()
                                                                  : day + (kDayNs - 1);
}

int64_t window_last(int64_t start, const Options &options) {
  return start > std::numeric_limits<int64_t>::max() - options.span_ns ? std::numeric_limits<int64_t>::max()
                                                                       : start + (options.span_ns - 1);
}

void write_rollups(Database &db, int64_t series, int64_t start, const chunk::Samples &samples, const Options &options) {
  auto &drop_rollup = db.cached("DELETE FROM rollup_chunks WHERE tier = ?1 AND start = ?2 AND series = ?3");
  for (auto [tier, width] : kTiers) {
    const auto buckets = compaction::rollup(samples, width);
    if (tier == RollupTier::minute && !minute_rollup_pays(samples.ts.size(), buckets.size())) {
      drop_rollup.bind(1, static_cast<int64_t>(tier)).bind(2, start).bind(3, series).run();
      continue;
    }
    put_rollup(db, tier, series, start, buckets, options);
  }
}

int64_t expired_before(int64_t cutoff_ns, const Options &options) { return bucket_start(cutoff_ns, options.span_ns); }

int64_t append_head(Database &db, const head::Rows &rows, const Options &options) {
  if (rows.size() == 0) return 0;
  const auto [lo, hi] = std::minmax_element(rows.ts.begin(), rows.ts.end());
  // Past every seq used before, also once sealing emptied the table (a
  // reader following the head relies on it: `vitals query --db`).
  auto &insert = db.cached(
      "INSERT INTO head(seq, min_ts, max_ts, rows) VALUES(max(coalesce((SELECT max(seq) FROM head), 0), "
      "coalesce((SELECT value FROM meta WHERE key = 'head_sealed_through'), 0)) + 1, ?, ?, ?)");
  insert.bind(1, *lo).bind(2, *hi).bind_blob(3, head::encode(rows, options.zstd_level));
  insert.run();
  return db.last_insert_rowid();
}

bool sealable(int64_t max_ts, int64_t now_ns, const Options &options) {
  const int64_t open_window = bucket_start(now_ns, options.span_ns);
  const int64_t too_far = now_ns > std::numeric_limits<int64_t>::max() - options.future_ns
                              ? std::numeric_limits<int64_t>::max()
                              : now_ns + options.future_ns;
  return max_ts < open_window || max_ts > too_far;
}

namespace {

// The window's raw samples are gone to retention (or would be at once):
// only its rollups are kept.
bool raw_expired(int64_t window, int64_t now_ns, const Options &options) {
  if (options.raw_retention_ns <= 0) return false;
  const int64_t cutoff = now_ns < std::numeric_limits<int64_t>::min() + options.raw_retention_ns
                             ? std::numeric_limits<int64_t>::min()
                             : now_ns - options.raw_retention_ns;
  return window < expired_before(cutoff, options);
}

// The seals (oldest first) that wrote partial chunks of windows in [lo, hi].
std::vector<int64_t> seals_over(Statement &seals, int64_t lo, int64_t hi) {
  std::vector<int64_t> out;
  seals.bind(1, lo).bind(2, hi);
  while (seals.step()) out.push_back(seals.column_int(0));
  seals.reset();
  return out;
}
constexpr const char *kSealsOver =
    "SELECT seal FROM seals WHERE last_window >= ?1 AND first_window <= ?2 ORDER BY seal";
constexpr const char *kPartsOf =
    "SELECT start, data FROM partial_chunks WHERE seal = ?1 AND series = ?2 AND start BETWEEN ?3 AND ?4 ORDER BY start";

// Appends the partial chunks of `series` in windows [lo, hi] that their
// window's chunk does not hold yet (merged(start) gives the newest seal it
// holds) to `arrival` if given, oldest seal first (overlay()'s `newer` once
// in_time_order), and the windows they are in to `windows` if given.
void gather_partials(Statement &seals, Statement &parts, int64_t series, int64_t lo, int64_t hi,
                     const std::function<int64_t(int64_t)> &merged, chunk::Samples *arrival,
                     std::vector<int64_t> *windows, std::vector<int64_t> *from_seals = nullptr) {
  for (int64_t seal : seals_over(seals, lo, hi)) {
    parts.bind(1, seal).bind(2, series).bind(3, lo).bind(4, hi);
    ResetOnExit reset{parts};
    while (parts.step()) {
      if (seal <= merged(parts.column_int(0))) continue;
      if (windows) windows->push_back(parts.column_int(0));
      if (from_seals) from_seals->push_back(seal);
      if (!arrival) continue;
      const chunk::Samples part = decode_chunk(parts.column_blob(1), series, parts.column_int(0));
      arrival->ts.insert(arrival->ts.end(), part.ts.begin(), part.ts.end());
      arrival->values.insert(arrival->values.end(), part.values.begin(), part.values.end());
    }
  }
}

// Each row's start after the one before (KeyWalk's order).
void in_window_order(int64_t &last, int64_t start) {
  if (start <= last) throw std::logic_error("v3: windows read out of order");
  last = start;
}

// The merged seal of each chunk read, by window start (added in order):
// gather_partials()' `merged` for the windows of one read.
struct MergedSeals {
  std::vector<std::pair<int64_t, int64_t>> by_start;
  void add(int64_t start, int64_t seal) {
    in_window_order(last, start);
    by_start.emplace_back(start, seal);
  }
  int64_t operator()(int64_t start) const {
    auto it = std::lower_bound(by_start.begin(), by_start.end(), std::pair{start, std::numeric_limits<int64_t>::min()});
    return it != by_start.end() && it->first == start ? it->second : 0;
  }
  int64_t last = std::numeric_limits<int64_t>::min();
};

}  // namespace

namespace {

// The newest seal whose partial chunks the window's chunk holds (0: none,
// or no chunk).
int64_t merged_seal(Database &db, Window window) {
  auto &probe = db.cached("SELECT merged_seal FROM chunks WHERE start = ?1 AND series = ?2");
  probe.bind(1, window.start).bind(2, window.series);
  const int64_t out = probe.step() ? probe.column_int(0) : 0;
  probe.reset();
  return out;
}

// Partial chunks a window's chunk does not hold yet.
constexpr const char *kUnmerged =
    "FROM partial_chunks p LEFT JOIN chunks c ON c.start = p.start AND c.series = p.series "
    "WHERE p.seal > coalesce(c.merged_seal, 0)";

}  // namespace

namespace {

// Whether the window has a partial chunk of a seal after `after`.
bool partials_after(Database &db, Window window, int64_t after) {
  auto &probe = db.cached("SELECT 1 FROM partial_chunks WHERE seal = ?1 AND series = ?2 AND start = ?3");
  for (int64_t seal : seals_over(db.cached(kSealsOver), window.start, window.start)) {
    if (seal <= after) continue;
    probe.bind(1, seal).bind(2, window.series).bind(3, window.start);
    const bool found = probe.step();
    probe.reset();
    if (found) return true;
  }
  return false;
}

}  // namespace

bool is_pending(Database &db, Window window) { return partials_after(db, window, merged_seal(db, window)); }

bool has_partials(Database &db, Window window) { return partials_after(db, window, 0); }

namespace {

bool holds_raw(Database &db, Window window) {
  auto &probe = db.cached("SELECT 1 FROM chunks WHERE start = ?1 AND series = ?2");
  probe.bind(1, window.start).bind(2, window.series);
  const bool found = probe.step();
  probe.reset();
  return found || has_partials(db, window);
}

// A seal's samples for one window (sorted, arrival order among equal
// timestamps): a partial chunk of this seal, or for a window retention
// emptied of raw samples, more in its rollups.
void seal_window(Database &db, int64_t seal, Window window, const chunk::Samples &newer, int64_t now_ns,
                 const Options &options, SealStats &stats) {
  const chunk::Samples samples = compaction::overlay({}, newer);  // the last write of each timestamp
  if (raw_expired(window.start, now_ns, options) && !holds_raw(db, window)) {
    // Retention dropped this window's raw samples and kept its rollups:
    // these go there too (rewriting its rollups from these alone would
    // lose the rest).
    for (auto [tier, width] : kTiers) {
      const auto held = stored_rollup(db, tier, window.series, window.start, options);
      put_rollup(
          db, tier, window.series, window.start,
          compaction::merge(held ? *held : std::vector<compaction::Bucket>{}, compaction::rollup(samples, width)),
          options);
    }
    return;
  }
  auto &put = db.cached("INSERT INTO partial_chunks(seal, series, start, n, data) VALUES(?1, ?2, ?3, ?4, ?5)");
  put.bind(1, seal).bind(2, window.series).bind(3, window.start).bind(4, static_cast<int64_t>(samples.ts.size()));
  put.bind_blob(5, chunk::encode(samples.ts, samples.values, {options.zstd_level}));
  put.run();
  stats.stored_delta += static_cast<int64_t>(samples.ts.size());
  ++stats.chunks;
  stats.pending.push_back(window);
}

}  // namespace

std::vector<Window> pending_windows(Database &db) {
  std::vector<Window> out;
  auto &all = db.cached(std::string("SELECT DISTINCT p.series, p.start ") + kUnmerged + " ORDER BY 1, 2");
  while (all.step()) out.push_back({all.column_int(0), all.column_int(1)});
  all.reset();
  return out;
}

Finalized finalize(Database &db, Window window, const Options &options) {
  // A window's chunk starts at the window's start (every writer's invariant).
  auto &chunks = db.cached("SELECT id, start, data, merged_seal FROM chunks WHERE start = ?1 AND series = ?2");
  chunks.bind(1, window.start).bind(2, window.series);
  chunk::Samples sealed;
  std::vector<int64_t> ids;
  int64_t merged = 0;
  {
    // Reset also when a chunk does not decode: the caller rolls this
    // window back and goes on with others.
    ResetOnExit reset{chunks};
    while (chunks.step()) {
      const chunk::Samples part = decode_chunk(chunks.column_blob(2), window.series, chunks.column_int(1));
      sealed.ts.insert(sealed.ts.end(), part.ts.begin(), part.ts.end());
      sealed.values.insert(sealed.values.end(), part.values.begin(), part.values.end());
      ids.push_back(chunks.column_int(0));
      merged = std::max(merged, chunks.column_int(3));
    }
  }
  chunk::Samples arrival;
  Finalized out;
  gather_partials(
      db.cached(kSealsOver), db.cached(kPartsOf), window.series, window.start, window.start,
      [merged](int64_t) { return merged; }, &arrival, nullptr, &out.seals);
  if (ids.empty() && arrival.ts.empty()) return out;
  const chunk::Samples all = compaction::overlay(sealed, in_time_order(arrival));
  auto &drop_chunk = db.cached("DELETE FROM chunks WHERE id = ?1");
  for (int64_t id : ids) drop_chunk.bind(1, id).run();
  // The partial chunks stay (deleting them row by row rewrote each seal's
  // pages at every finalizing that touched it): the chunk says it holds
  // them, and a seal goes whole once every chunk of its windows does.
  for (int64_t seal : out.seals) merged = std::max(merged, seal);
  write_chunk(db, window.series, window.start, all, options, merged);
  // Its rollups from all of its samples, exact, unless they hold more than
  // its chunk did: samples whose raw rows retention dropped (before
  // `retention` was raised, or the clock stepped back) or a v2 retention cut
  // part way. Those stay, with what is new added (approximately: a sample
  // written again over a dropped one counts twice in them).
  const auto hours = stored_rollup(db, RollupTier::hour, window.series, window.start, options);
  int64_t in_rollups = 0, in_chunk = 0;
  if (hours)
    for (const auto &b : *hours) in_rollups += b.count;
  for (double v : sealed.values) in_chunk += std::isnan(v) ? 0 : 1;
  if (in_rollups > in_chunk) {
    chunk::Samples added;
    const chunk::Samples newer = compaction::overlay({}, in_time_order(arrival));  // the last write of each
    for (size_t i = 0; i < newer.ts.size(); ++i)
      if (!std::binary_search(sealed.ts.begin(), sealed.ts.end(), newer.ts[i])) {
        added.ts.push_back(newer.ts[i]);
        added.values.push_back(newer.values[i]);
      }
    for (auto [tier, width] : kTiers)
      if (const auto held = stored_rollup(db, tier, window.series, window.start, options))
        put_rollup(db, tier, window.series, window.start, compaction::merge(*held, compaction::rollup(added, width)),
                   options);
  } else {
    write_rollups(db, window.series, window.start, all, options);
  }
  out.samples = static_cast<int64_t>(all.ts.size());
  out.stored_delta = out.samples - static_cast<int64_t>(sealed.ts.size() + arrival.ts.size());
  return out;
}

bool retire_seal(Database &db, int64_t seal) {
  // Checked here, not only by the caller's count: a partial chunk deleted
  // before its window's chunk holds it would be a sample lost.
  auto &drop = db.cached(std::string("DELETE FROM partial_chunks WHERE seal = ?1 AND NOT EXISTS (SELECT 1 ") +
                         kUnmerged + " AND p.seal = ?1)");
  drop.bind(1, seal).run();
  auto &forget =
      db.cached("DELETE FROM seals WHERE seal = ?1 AND NOT EXISTS (SELECT 1 FROM partial_chunks WHERE seal = ?1)");
  forget.bind(1, seal).run();
  return db.changes() > 0;
}

std::map<int64_t, int64_t> unmerged_by_seal(Database &db) {
  std::map<int64_t, int64_t> out;
  auto &count = db.cached(std::string("SELECT p.seal, count(*) ") + kUnmerged + " GROUP BY p.seal");
  while (count.step()) out[count.column_int(0)] = count.column_int(1);
  count.reset();
  return out;
}

int64_t unmerged_samples(Database &db) {
  return db.query_int(std::string("SELECT coalesce(sum(p.n), 0) ") + kUnmerged).value_or(0);
}

void forget_finalized_seals(Database &db) {
  auto &seals = db.cached("SELECT seal FROM seals ORDER BY seal");
  std::vector<int64_t> all;
  while (seals.step()) all.push_back(seals.column_int(0));
  seals.reset();
  const auto unmerged = unmerged_by_seal(db);
  for (int64_t seal : all)
    if (!unmerged.count(seal)) retire_seal(db, seal);
}

SealStats seal(Database &db, int64_t now_ns, const Options &options) {
  Transaction tx(db);
  SealStats stats = seal_into(db, now_ns, options);
  tx.commit();
  return stats;
}

SealStats seal_into(Database &db, int64_t now_ns, const Options &options, int64_t max_samples, bool force) {
  if (options.span_ns <= 0 || options.span_ns % hour_ns != 0)
    throw std::invalid_argument("v3: the chunk span must be a whole number of hours");
  SealStats stats;
  // Every sealed row's samples, per series, in commit order.
  std::map<int64_t, chunk::Samples> arrivals;
  std::vector<int64_t> sealed;
  // Oldest first, and only while each row can go: a row left in the head
  // must not be older than one sealed, or its sample would override a later
  // write of the same (series, timestamp) when it is sealed in its turn.
  auto &rows = db.cached("SELECT seq, max_ts, rows FROM head ORDER BY seq");
  while (stats.samples < max_samples && rows.step()) {
    if (!force && !sealable(rows.column_int(1), now_ns, options)) break;
    const int64_t seq = rows.column_int(0);
    const head::Rows decoded = decode_head(rows.column_blob(2), seq);
    for (size_t i = 0; i < decoded.size(); ++i) {
      auto &s = arrivals[decoded.series[i]];
      s.ts.push_back(decoded.ts[i]);
      s.values.push_back(decoded.values[i]);
    }
    sealed.push_back(seq);
    stats.last_seq = seq;
    stats.samples += static_cast<int64_t>(decoded.size());
  }
  rows.reset();

  // Later seals are newer: a reader lays their partial chunks over older
  // ones, and skips those of seals up to its chunk's merged_seal, so a
  // number is never used again, also once its seal is retired.
  const int64_t seal = db.query_int(
                             "SELECT max(coalesce((SELECT max(seal) FROM seals), 0), coalesce((SELECT value "
                             "FROM meta WHERE key = 'last_seal'), 0)) + 1")
                           .value_or(1);
  for (const auto &[series, arrival] : arrivals)
    for (const auto &[start, newer] : compaction::split(in_time_order(arrival), options.span_ns))
      seal_window(db, seal, {series, start}, newer, now_ns, options, stats);
  stats.seal = seal;
  if (!stats.pending.empty()) {
    const auto [lo, hi] = std::minmax_element(stats.pending.begin(), stats.pending.end(),
                                              [](const Window &a, const Window &b) { return a.start < b.start; });
    auto &record = db.cached("INSERT INTO seals(seal, first_window, last_window) VALUES(?1, ?2, ?3)");
    record.bind(1, seal).bind(2, lo->start).bind(3, hi->start).run();
  }
  auto &drop = db.cached("DELETE FROM head WHERE seq = ?");
  for (int64_t seq : sealed) drop.bind(1, seq).run();
  if (!sealed.empty()) {
    auto &mark = db.cached("INSERT OR REPLACE INTO meta(key, value) VALUES('head_sealed_through', ?1)");
    mark.bind(1, stats.last_seq).run();
  }
  if (!stats.pending.empty()) {
    auto &numbered = db.cached("INSERT OR REPLACE INTO meta(key, value) VALUES('last_seal', ?1)");
    numbered.bind(1, seal).run();
  }
  stats.head_rows = static_cast<int64_t>(sealed.size());
  return stats;
}

chunk::Samples read(Database &db, int64_t series, int64_t from, int64_t to, const Options &options) {
  chunk::Samples sealed;
  if (from > to) return sealed;
  KeyWalk chunks(db, "start, data, merged_seal", "chunks", "start", false);
  const int64_t lo = bucket_start(from, options.span_ns);
  MergedSeals merged;
  chunks.run(series, lo, to, lo, to, 0, [&](Statement &chunk) {
    merged.add(chunk.column_int(0), chunk.column_int(2));
    const chunk::Samples part = decode_chunk(chunk.column_blob(1), series, chunk.column_int(0));
    for (size_t i = 0; i < part.ts.size(); ++i)
      if (part.ts[i] >= from && part.ts[i] <= to) {
        sealed.ts.push_back(part.ts[i]);
        sealed.values.push_back(part.values[i]);
      }
  });
  chunk::Samples arrival;
  gather_partials(db.cached(kSealsOver), db.cached(kPartsOf), series, bucket_start(from, options.span_ns),
                  bucket_start(to, options.span_ns), merged, &arrival, nullptr);
  auto &head_rows = db.cached("SELECT seq, rows FROM head WHERE max_ts >= ? AND min_ts <= ? ORDER BY seq");
  head_rows.bind(1, from).bind(2, to);
  while (head_rows.step()) {
    const head::Rows decoded = decode_head(head_rows.column_blob(1), head_rows.column_int(0));
    // Sorted by series: this one's samples are one run.
    auto first = std::lower_bound(decoded.series.begin(), decoded.series.end(), series);
    for (auto i = static_cast<size_t>(first - decoded.series.begin());
         i < decoded.size() && decoded.series[i] == series; ++i) {
      arrival.ts.push_back(decoded.ts[i]);
      arrival.values.push_back(decoded.values[i]);
    }
  }
  chunk::Samples in_range;
  for (size_t i = 0; i < arrival.ts.size(); ++i)
    if (arrival.ts[i] >= from && arrival.ts[i] <= to) {
      in_range.ts.push_back(arrival.ts[i]);
      in_range.values.push_back(arrival.values[i]);
    }
  return compaction::overlay(sealed, in_time_order(in_range));
}

Expired expire_chunks(Database &db, int64_t cutoff_ns, int64_t limit, const Options &options) {
  Expired out;
  // Window by window, as the unique index holds them. A pending window
  // waits to be finalized first: its rollups come from its chunk and its
  // partial chunks together. Partial chunks its chunk merged go with it
  // (their seal may wait for another window): left behind, they would read
  // as pending once the chunk holding them is gone.
  auto &due = db.cached("SELECT id, series, start, n, data FROM chunks WHERE start < ?1 ORDER BY start, series");
  auto &drop = db.cached("DELETE FROM chunks WHERE id = ?1");
  std::optional<Window> window;
  bool skip = false;
  chunk::Samples all;  // the window's samples so far
  std::vector<int64_t> ids;
  std::vector<Window> dropped;
  // Before its chunks go, the window's tiers it has no rollup of (minutes
  // that did not pay) are stored from all of them.
  auto close_window = [&] {
    if (!window || skip) return;
    dropped.push_back(*window);
    for (auto [tier, width] : kTiers) {
      if (stored_rollup(db, tier, window->series, window->start, options)) continue;
      const auto buckets = compaction::rollup(all, width);
      if (!buckets.empty()) put_rollup(db, tier, window->series, window->start, buckets, options);
    }
    all = {};
  };
  due.bind(1, expired_before(cutoff_ns, options));
  while (due.step()) {
    const int64_t series = due.column_int(1), start = due.column_int(2);
    const Window at{series, bucket_start(start, options.span_ns)};
    if (at != window) {
      if (out.chunks >= limit) break;
      close_window();
      window = at;
      skip = is_pending(db, at);
    }
    if (skip) continue;
    const chunk::Samples part = decode_chunk(due.column_blob(4), series, start);
    all.ts.insert(all.ts.end(), part.ts.begin(), part.ts.end());
    all.values.insert(all.values.end(), part.values.begin(), part.values.end());
    ids.push_back(due.column_int(0));
    out.samples += due.column_int(3);
    ++out.chunks;
  }
  due.reset();
  close_window();
  for (int64_t id : ids) drop.bind(1, id).run();
  auto &drop_merged = db.cached("DELETE FROM partial_chunks WHERE seal = ?1 AND series = ?2 AND start = ?3");
  for (const Window &w : dropped)
    for (int64_t seal : seals_over(db.cached(kSealsOver), w.start, w.start))
      drop_merged.bind(1, seal).bind(2, w.series).bind(3, w.start).run();
  return out;
}

int64_t expire_rollups(Database &db, RollupTier tier, int64_t cutoff_ns, int64_t limit, const Options &options) {
  auto &drop = db.cached(
      "DELETE FROM rollup_chunks WHERE (tier, start, series) IN (SELECT tier, start, series FROM rollup_chunks "
      "WHERE tier = ?1 AND start < ?2 LIMIT ?3)");
  const int64_t before = expired_before(cutoff_ns, options);
  if (tier != RollupTier::hour) {
    drop.bind(1, static_cast<int64_t>(tier)).bind(2, before).bind(3, limit).run();
    return db.changes();
  }
  // Hours go a day at a time, the windows' rows with their day's row: a
  // window's row deleted first would let the older hours of that window in
  // the day row show again. A day goes once every window starting in it
  // started before `before` (and so ended by cutoff_ns).
  const int64_t whole_days = day_of(before);
  drop.bind(1, static_cast<int64_t>(RollupTier::hour)).bind(2, whole_days).bind(3, limit).run();
  int64_t dropped = db.changes();
  if (dropped < limit) {
    drop.bind(1, static_cast<int64_t>(RollupTier::day)).bind(2, whole_days).bind(3, limit - dropped).run();
    dropped += db.changes();
  }
  return dropped;
}

std::optional<int64_t> next_day_to_gather(Database &db, int64_t from, int64_t before) {
  if (before == std::numeric_limits<int64_t>::min()) return std::nullopt;
  KeyWalk hours(db, "", "rollup_chunks", "start", true);
  const std::optional<int64_t> window = hours.next_key(from, before - 1, static_cast<int64_t>(RollupTier::hour));
  return window ? std::optional<int64_t>(day_of(*window)) : std::nullopt;
}

std::optional<int64_t> compact_day(Database &db, int64_t day, int64_t from_series, int64_t limit,
                                   const Options &options) {
  if (limit <= 0) throw std::invalid_argument("v3: gathering needs a positive number of series");
  const auto hour = static_cast<int64_t>(RollupTier::hour);
  auto &first_series = db.cached(
      "SELECT series FROM rollup_chunks WHERE tier = ?1 AND start = ?2 AND series >= ?3 ORDER BY series LIMIT 1");
  auto &rows =
      db.cached("SELECT series, data FROM rollup_chunks WHERE tier = ?1 AND start = ?2 AND series BETWEEN ?3 AND ?4");
  // The day's windows with rows, a seek each (the key's order).
  std::vector<int64_t> windows;
  KeyWalk(db, "", "rollup_chunks", "start", true).keys(day, day_last(day), hour, [&](int64_t window) {
    windows.push_back(window);
  });
  // The first series at or after `from` with a row in any of them.
  auto first_from = [&](int64_t from) {
    std::optional<int64_t> first;
    for (int64_t window : windows) {
      first_series.bind(1, hour).bind(2, window).bind(3, from);
      ResetOnExit reset{first_series};
      if (first_series.step())
        first = std::min(first.value_or(std::numeric_limits<int64_t>::max()), first_series.column_int(0));
    }
    return first;
  };
  const std::optional<int64_t> lo = first_from(from_series);
  if (!lo) return std::nullopt;
  const int64_t hi =
      *lo > std::numeric_limits<int64_t>::max() - (limit - 1) ? std::numeric_limits<int64_t>::max() : *lo + (limit - 1);
  std::map<int64_t, std::vector<std::pair<int64_t, std::vector<compaction::Bucket>>>> by_series;
  for (int64_t window : windows) {
    rows.bind(1, hour).bind(2, window).bind(3, *lo).bind(4, hi);
    ResetOnExit reset{rows};
    while (rows.step()) {
      const int64_t series = rows.column_int(0);
      by_series[series].emplace_back(window, decode_rollup(rows.column_blob(1), series, window));
    }
  }
  auto &drop = db.cached("DELETE FROM rollup_chunks WHERE tier = ?1 AND start = ?2 AND series = ?3");
  for (const auto &[series, own] : by_series) {
    // The day row's hours of the windows without a row of their own, and
    // the rows of the others.
    std::vector<compaction::Bucket> merged;
    if (const auto held = rollup_row(db, RollupTier::day, series, day))
      for (const compaction::Bucket &b : *held) {
        const int64_t window = bucket_start(b.start, options.span_ns);
        if (std::none_of(own.begin(), own.end(), [&](const auto &w) { return w.first == window; })) merged.push_back(b);
      }
    for (const auto &[window, buckets] : own) {
      merged.insert(merged.end(), buckets.begin(), buckets.end());
      drop.bind(1, hour).bind(2, window).bind(3, series).run();
    }
    std::sort(merged.begin(), merged.end(), [](const auto &a, const auto &b) { return a.start < b.start; });
    put_rollup(db, RollupTier::day, series, day, merged, options);
  }
  if (hi == std::numeric_limits<int64_t>::max()) return std::nullopt;
  return first_from(hi + 1);
}

std::vector<int64_t> remove_empty_series(Database &db, const std::function<bool(int64_t)> &in_head) {
  std::vector<int64_t> empty;
  // Each table read once (series is not first in any of their keys).
  auto &candidates = db.cached(
      "SELECT id FROM series WHERE id NOT IN (SELECT series FROM chunks) "
      "AND id NOT IN (SELECT series FROM rollup_chunks) AND id NOT IN (SELECT series FROM partial_chunks)");
  while (candidates.step())
    if (!in_head(candidates.column_int(0))) empty.push_back(candidates.column_int(0));
  candidates.reset();
  auto &drop = db.cached("DELETE FROM series WHERE id = ?1");
  for (int64_t id : empty) drop.bind(1, id).run();
  return empty;
}

std::vector<HeadRow> load_head(Database &db, const std::function<void(const head::Rows &, int64_t)> &add) {
  std::vector<HeadRow> out;
  auto &rows = db.cached("SELECT seq, max_ts, rows FROM head ORDER BY seq");
  while (rows.step()) {
    const int64_t seq = rows.column_int(0);
    add(decode_head(rows.column_blob(2), seq), seq);
    out.push_back({seq, rows.column_int(1)});
  }
  return out;
}

KeyWalk::KeyWalk(Database &db, const std::string &columns, const std::string &table, const std::string &key,
                 bool tiered)
    : next_(db.prepare("SELECT " + key + " FROM " + table + " WHERE " + (tiered ? "tier = ?3 AND " : "") + key +
                       " BETWEEN ?1 AND ?2 ORDER BY " + key + " LIMIT 1")),
      rows_(columns.empty()
                ? Statement()
                : db.prepare("SELECT " + columns + " FROM " + table + " WHERE " + (tiered ? "tier = ?5 AND " : "") +
                             key + " = ?1 AND series = ?2 AND start BETWEEN ?3 AND ?4")),
      tiered_(tiered) {}

std::optional<int64_t> KeyWalk::next_key(int64_t from, int64_t to, int64_t tier) {
  next_.bind(1, from).bind(2, to);
  if (tiered_) next_.bind(3, tier);
  ResetOnExit reset{next_};
  if (!next_.step()) return std::nullopt;
  return next_.column_int(0);
}

void KeyWalk::keys(int64_t key_lo, int64_t key_hi, int64_t tier, const std::function<void(int64_t)> &key) {
  for (int64_t from = key_lo; from <= key_hi;) {
    const std::optional<int64_t> next = next_key(from, key_hi, tier);
    if (!next) return;
    key(*next);
    if (*next == std::numeric_limits<int64_t>::max()) return;
    from = *next + 1;
  }
}

void KeyWalk::run(int64_t series, int64_t key_lo, int64_t key_hi, int64_t start_lo, int64_t start_hi, int64_t tier,
                  const std::function<void(Statement &)> &row) {
  if (!rows_) throw std::logic_error("KeyWalk: made for keys only, without columns");
  keys(key_lo, key_hi, tier, [&](int64_t key) {
    rows_.bind(1, key).bind(2, series).bind(3, start_lo).bind(4, start_hi);
    if (tiered_) rows_.bind(5, tier);
    ResetOnExit reset{rows_};
    while (rows_.step()) row(rows_);
  });
}

ChunkReader::ChunkReader(Database &db, const Options &options)
    : options_(options),
      chunks_(db, "start, data, merged_seal", "chunks", "start", false),
      windows_(db, "start, merged_seal", "chunks", "start", false),
      rollups_(db, "start, data", "rollup_chunks", "start", true),
      chunk_at_(db.prepare("SELECT merged_seal FROM chunks WHERE start = ?1 AND series = ?2")),
      seals_(db.prepare(kSealsOver)),
      parts_(db.prepare(kPartsOf)) {}

void ChunkReader::samples(int64_t series, int64_t from, int64_t to, chunk::Samples &out) {
  if (from > to) return;
  const int64_t lo = bucket_start(from, options_.span_ns);
  chunk::Samples part;
  auto keep = [&](const chunk::Samples &samples, chunk::Samples &into) {
    const auto [first, last] = samples.range(from, to);
    into.append(samples, first, last);
  };
  const size_t base = out.ts.size();
  MergedSeals merged;
  chunks_.run(series, lo, to, lo, to, 0, [&](Statement &chunk) {
    merged.add(chunk.column_int(0), chunk.column_int(2));
    keep(decode_chunk(chunk.column_blob(1), series, chunk.column_int(0)), out);
  });
  chunk::Samples arrival;
  gather_partials(seals_, parts_, series, lo, bucket_start(to, options_.span_ns), merged, &arrival, nullptr);
  if (arrival.ts.empty()) return;
  // Partial chunks are newer than the windows' chunks, and later seals
  // newer than earlier ones.
  chunk::Samples newer, sealed;
  keep(in_time_order(arrival), newer);
  sealed.append(out, base, out.ts.size());
  chunk::Samples all = compaction::overlay(sealed, newer);
  out.ts.resize(base);
  out.values.resize(base);
  out.ts.insert(out.ts.end(), all.ts.begin(), all.ts.end());
  out.values.insert(out.values.end(), all.values.begin(), all.values.end());
}

std::optional<int64_t> ChunkReader::chunk_at(int64_t series, int64_t start) {
  chunk_at_.bind(1, start).bind(2, series);
  std::optional<int64_t> merged;
  if (chunk_at_.step()) merged = chunk_at_.column_int(0);
  chunk_at_.reset();
  return merged;
}

bool ChunkReader::has_chunk(int64_t series, int64_t start) { return chunk_at(series, start).has_value(); }

ChunkReader::Windows ChunkReader::windows(int64_t series, int64_t from, int64_t to, bool chunks) {
  Windows out;
  if (from > to) return out;
  const int64_t lo = bucket_start(from, options_.span_ns);
  MergedSeals merged;
  if (chunks) {
    windows_.run(series, lo, to, lo, to, 0, [&](Statement &chunk) {
      out.raw.push_back(chunk.column_int(0));
      merged.add(chunk.column_int(0), chunk.column_int(1));
    });
  }
  // Without the chunks walked, a window's chunk is looked up when it has
  // partial chunks.
  auto merged_of = [&](int64_t start) { return chunks ? merged(start) : chunk_at(series, start).value_or(0); };
  gather_partials(seals_, parts_, series, lo, bucket_start(to, options_.span_ns), merged_of, nullptr, &out.pending);
  auto sorted_unique = [](std::vector<int64_t> &v) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
  };
  sorted_unique(out.pending);
  out.raw.insert(out.raw.end(), out.pending.begin(), out.pending.end());
  sorted_unique(out.raw);
  return out;
}

std::vector<std::pair<int64_t, std::vector<compaction::Bucket>>> ChunkReader::rollups(RollupTier tier, int64_t series,
                                                                                      int64_t from, int64_t to) {
  std::vector<std::pair<int64_t, std::vector<compaction::Bucket>>> out;
  if (from > to) return out;
  // Windows starting in [lo, to].
  const int64_t lo = bucket_start(from, options_.span_ns);
  auto window_row = [&](Statement &rollup) {
    out.emplace_back(rollup.column_int(0), decode_rollup(rollup.column_blob(1), series, rollup.column_int(0)));
  };
  if (tier != RollupTier::hour) {
    rollups_.run(series, lo, to, lo, to, static_cast<int64_t>(tier), window_row);
    return out;
  }
  // The days' rows, then the windows' rows, which override their hours.
  rollups_.run(series, day_of(lo), to, day_of(lo), to, static_cast<int64_t>(RollupTier::day), [&](Statement &day) {
    split_day(decode_rollup(day.column_blob(1), series, day.column_int(0)), lo, to, options_, out);
  });
  const size_t from_days = out.size();
  rollups_.run(series, lo, to, lo, to, static_cast<int64_t>(RollupTier::hour), window_row);
  if (from_days == 0 || from_days == out.size()) return out;
  // Equal starts: the day row's first, the window row's after it (stable).
  std::stable_sort(out.begin(), out.end(), [](const auto &a, const auto &b) { return a.first < b.first; });
  std::vector<std::pair<int64_t, std::vector<compaction::Bucket>>> unique;
  for (auto &w : out) {
    if (!unique.empty() && unique.back().first == w.first)
      unique.back() = std::move(w);
    else
      unique.push_back(std::move(w));
  }
  return unique;
}

std::unordered_map<int64_t, std::pair<int64_t, double>> newest_sealed(Database &db, size_t series_count) {
  std::unordered_map<int64_t, std::pair<int64_t, double>> out;
  // From the newest window back: a series' first chunk met is its newest.
  auto &windows = db.cached("SELECT start, series FROM chunks ORDER BY start DESC");
  auto &chunk = db.cached("SELECT data FROM chunks WHERE start = ?1 AND series = ?2");
  std::unordered_set<int64_t> seen;
  while (seen.size() < series_count && windows.step()) {
    const int64_t start = windows.column_int(0), series = windows.column_int(1);
    if (!seen.insert(series).second) continue;
    chunk.bind(1, start).bind(2, series);
    if (chunk.step()) {
      const chunk::Samples samples = decode_chunk(chunk.column_blob(0), series, start);
      if (!samples.ts.empty()) out[series] = {samples.ts.back(), samples.values.back()};
    }
    chunk.reset();
  }
  windows.reset();
  // A partial chunk its chunk does not hold yet may hold later samples, or
  // a later write of the newest; later seals are newer.
  auto &parts = db.cached(std::string("SELECT p.series, p.start, p.data ") + kUnmerged + " ORDER BY p.seal");
  while (parts.step()) {
    const int64_t series = parts.column_int(0);
    const chunk::Samples samples = decode_chunk(parts.column_blob(2), series, parts.column_int(1));
    if (samples.ts.empty()) continue;
    auto it = out.find(series);
    if (it == out.end() || samples.ts.back() >= it->second.first)
      out[series] = {samples.ts.back(), samples.values.back()};
  }
  parts.reset();
  return out;
}

}  // namespace vitals::sqlite::v3
