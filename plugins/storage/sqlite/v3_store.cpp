// The v3 tables (v3_store.hpp).
#include "v3_store.hpp"

#include <algorithm>
#include <limits>
#include <map>
#include <numeric>
#include <stdexcept>
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

chunk::Samples decode_chunk(std::string_view blob, int64_t series, int64_t start) {
  chunk::Samples samples;
  std::string error;
  if (!chunk::decode(blob, samples, error))
    throw std::runtime_error("chunk of series " + std::to_string(series) + " at " + std::to_string(start) + ": " +
                             error);
  return samples;
}

}  // namespace

bool minute_rollup_pays(size_t samples, size_t buckets) {
  return buckets > 0 && static_cast<double>(samples) >= kMinSamplesPerMinuteBucket * static_cast<double>(buckets);
}

namespace {

void write_window(Database &db, int64_t series, int64_t start, const chunk::Samples &samples, const Options &options) {
  auto put_chunk = db.prepare("INSERT OR REPLACE INTO chunks(series, start, n, data) VALUES(?, ?, ?, ?)");
  put_chunk.bind(1, series).bind(2, start).bind(3, static_cast<int64_t>(samples.ts.size()));
  put_chunk.bind_blob(4, chunk::encode(samples.ts, samples.values, {options.zstd_level}));
  put_chunk.run();
  // The window's buckets, from all of its samples: exact under late writes.
  auto put_rollup = db.prepare("INSERT OR REPLACE INTO rollup_chunks(tier, series, start, data) VALUES(?, ?, ?, ?)");
  auto drop_rollup = db.prepare("DELETE FROM rollup_chunks WHERE tier = ? AND series = ? AND start = ?");
  for (auto [tier, width] : {std::pair{RollupTier::minute, minute_ns}, std::pair{RollupTier::hour, hour_ns}}) {
    const auto buckets = compaction::rollup(samples, width);
    if (tier == RollupTier::minute && !minute_rollup_pays(samples.ts.size(), buckets.size())) {
      drop_rollup.bind(1, static_cast<int64_t>(tier)).bind(2, series).bind(3, start).run();
      continue;
    }
    put_rollup.bind(1, static_cast<int64_t>(tier)).bind(2, series).bind(3, start);
    put_rollup.bind_blob(4, rollup_chunk::encode(buckets, options.zstd_level));
    put_rollup.run();
  }
}

}  // namespace

void append_head(Database &db, const head::Rows &rows, const Options &options) {
  if (rows.size() == 0) return;
  const auto [lo, hi] = std::minmax_element(rows.ts.begin(), rows.ts.end());
  auto insert = db.prepare("INSERT INTO head(min_ts, max_ts, rows) VALUES(?, ?, ?)");
  insert.bind(1, *lo).bind(2, *hi).bind_blob(3, head::encode(rows, options.zstd_level));
  insert.run();
}

SealStats seal(Database &db, int64_t now_ns, const Options &options) {
  if (options.span_ns <= 0 || options.span_ns % hour_ns != 0)
    throw std::invalid_argument("v3: the chunk span must be a whole number of hours");
  const int64_t open_window = bucket_start(now_ns, options.span_ns);
  const int64_t too_far = now_ns > std::numeric_limits<int64_t>::max() - options.future_ns
                              ? std::numeric_limits<int64_t>::max()
                              : now_ns + options.future_ns;
  SealStats stats;
  Transaction tx(db);
  // Every sealed row's samples, per series, in commit order.
  std::map<int64_t, chunk::Samples> arrivals;
  std::vector<int64_t> sealed;
  // Oldest first, and only while each row can go: a row left in the head
  // must not be older than one sealed, or its sample would override a later
  // write of the same (series, timestamp) when it is sealed in its turn.
  auto rows = db.prepare("SELECT seq, max_ts, rows FROM head ORDER BY seq");
  while (rows.step()) {
    const int64_t max_ts = rows.column_int(1);
    if (max_ts >= open_window && max_ts <= too_far) break;
    const int64_t seq = rows.column_int(0);
    const head::Rows decoded = decode_head(rows.column_blob(2), seq);
    for (size_t i = 0; i < decoded.size(); ++i) {
      auto &s = arrivals[decoded.series[i]];
      s.ts.push_back(decoded.ts[i]);
      s.values.push_back(decoded.values[i]);
    }
    sealed.push_back(seq);
    stats.samples += static_cast<int64_t>(decoded.size());
  }
  rows.reset();

  auto get_chunk = db.prepare("SELECT data FROM chunks WHERE series = ? AND start = ?");
  for (const auto &[series, arrival] : arrivals) {
    for (const auto &[start, newer] : compaction::split(in_time_order(arrival), options.span_ns)) {
      chunk::Samples older;
      get_chunk.bind(1, series).bind(2, start);
      if (get_chunk.step()) older = decode_chunk(get_chunk.column_blob(0), series, start);
      get_chunk.reset();
      write_window(db, series, start, compaction::overlay(older, newer), options);
      ++stats.chunks;
    }
  }
  auto drop = db.prepare("DELETE FROM head WHERE seq = ?");
  for (int64_t seq : sealed) drop.bind(1, seq).run();
  stats.head_rows = static_cast<int64_t>(sealed.size());
  tx.commit();
  return stats;
}

chunk::Samples read(Database &db, int64_t series, int64_t from, int64_t to, const Options &options) {
  chunk::Samples sealed;
  if (from > to) return sealed;
  auto chunks = db.prepare("SELECT start, data FROM chunks WHERE series = ? AND start BETWEEN ? AND ? ORDER BY start");
  chunks.bind(1, series).bind(2, bucket_start(from, options.span_ns)).bind(3, to);
  while (chunks.step()) {
    const chunk::Samples part = decode_chunk(chunks.column_blob(1), series, chunks.column_int(0));
    for (size_t i = 0; i < part.ts.size(); ++i)
      if (part.ts[i] >= from && part.ts[i] <= to) {
        sealed.ts.push_back(part.ts[i]);
        sealed.values.push_back(part.values[i]);
      }
  }
  chunk::Samples arrival;
  auto head_rows = db.prepare("SELECT seq, rows FROM head WHERE max_ts >= ? AND min_ts <= ? ORDER BY seq");
  head_rows.bind(1, from).bind(2, to);
  while (head_rows.step()) {
    const head::Rows decoded = decode_head(head_rows.column_blob(1), head_rows.column_int(0));
    // Sorted by series: this one's samples are one run.
    auto first = std::lower_bound(decoded.series.begin(), decoded.series.end(), series);
    for (auto i = static_cast<size_t>(first - decoded.series.begin());
         i < decoded.size() && decoded.series[i] == series; ++i)
      if (decoded.ts[i] >= from && decoded.ts[i] <= to) {
        arrival.ts.push_back(decoded.ts[i]);
        arrival.values.push_back(decoded.values[i]);
      }
  }
  return compaction::overlay(sealed, in_time_order(arrival));
}

}  // namespace vitals::sqlite::v3
