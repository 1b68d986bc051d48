// Chunked deletes of expired rows, per series along the primary key.
#include "retention.hpp"

#include <limits>
#include <string>

namespace vitals::sqlite {

namespace {

// Deletes at most ?3 rows of series ?1 older than ?2: the bound is the
// timestamp of the (?3+1)-th oldest such row, or the cutoff when there are fewer.
std::string chunk_sql(const char *table, const char *ts) {
  std::string t = table, c = ts;
  return "DELETE FROM " + t + " WHERE series_id = ?1 AND " + c + " < coalesce((SELECT " + c + " FROM " + t +
         " WHERE series_id = ?1 AND " + c + " < ?2 ORDER BY " + c + " LIMIT 1 OFFSET ?3), ?2)";
}

int64_t saturating_sub(int64_t a, int64_t b) {
  if (b > 0 && a < std::numeric_limits<int64_t>::min() + b) return std::numeric_limits<int64_t>::min();
  return a - b;
}

}  // namespace

Retention::Retention(Database &db, const Settings &settings, const v3::Options *v3_options)
    : db_(db), settings_(settings), v3_(v3_options) {
  delete_samples_ = db_.prepare(chunk_sql("samples", "ts"));
  delete_minutes_ = db_.prepare(chunk_sql("rollup_1m", "bucket_ts"));
  delete_hours_ = db_.prepare(chunk_sql("rollup_1h", "bucket_ts"));
  delete_events_ =
      db_.prepare("DELETE FROM events WHERE id IN (SELECT id FROM events WHERE ts < ?2 ORDER BY ts LIMIT ?3)");
  subtract_count_ = db_.prepare("UPDATE meta SET value = value - ?1 WHERE key = 'sample_count'");
}

int64_t Retention::cutoff(Step step, int64_t now_ns) const {
  switch (step) {
    case samples:
      return saturating_sub(now_ns, settings_.retention_ns);
    case minutes:
    case events:
      return saturating_sub(now_ns, settings_.rollup_retention_ns);
    case hours:
      return saturating_sub(now_ns, settings_.hourly_retention_ns());
    case done:
      break;
  }
  return std::numeric_limits<int64_t>::min();
}

int64_t Retention::delete_chunk(Step step, int64_t series, int64_t cut, int64_t limit, int64_t &samples) {
  if (v3_ && step == Step::samples) {
    const v3::Expired expired = v3::expire_chunks(db_, cut, limit, *v3_);
    samples += expired.samples;
    return expired.chunks;
  }
  if (v3_ && step != Step::events)
    return v3::expire_rollups(db_, step == minutes ? v3::RollupTier::minute : v3::RollupTier::hour, cut, limit, *v3_);
  Statement &s = step == samples   ? delete_samples_
                 : step == minutes ? delete_minutes_
                 : step == hours   ? delete_hours_
                                   : delete_events_;
  if (step != events) s.bind(1, series);
  s.bind(2, cut).bind(3, limit);
  s.run();
  const int64_t n = db_.changes();
  if (step == Step::samples) samples += n;
  return n;
}

Retention::Result Retention::run(std::span<const int64_t> series_ids, int64_t now_ns, std::chrono::nanoseconds budget) {
  Result result;
  auto deadline = std::chrono::steady_clock::now() + budget;
  while (step_ != done) {
    Transaction tx(db_);
    int64_t in_tx = 0, samples_in_tx = 0;
    while (step_ != done && in_tx < rows_per_transaction) {
      bool per_series = step_ != events && !v3_;
      if (per_series && series_index_ >= series_ids.size()) {
        step_ = static_cast<Step>(step_ + 1);
        series_index_ = 0;
        continue;
      }
      int64_t limit = rows_per_transaction - in_tx;
      int64_t n =
          delete_chunk(step_, per_series ? series_ids[series_index_] : 0, cutoff(step_, now_ns), limit, samples_in_tx);
      in_tx += n;
      if (n < limit) {
        // This series (or the events table) is clean.
        if (per_series) {
          ++series_index_;
        } else if (step_ == events) {
          step_ = done;
        } else {  // a table-wide step of v3
          step_ = static_cast<Step>(step_ + 1);
        }
      }
      if (std::chrono::steady_clock::now() >= deadline) break;
    }
    if (samples_in_tx && !v3_) {
      subtract_count_.bind(1, samples_in_tx);
      subtract_count_.run();
    }
    tx.commit();
    if (in_tx > 0 && on_deleted) on_deleted();
    result.samples_deleted += samples_in_tx;
    result.other_deleted += v3_ ? in_tx : in_tx - samples_in_tx;
    if (std::chrono::steady_clock::now() >= deadline) break;
  }
  result.finished = step_ == done;
  if (result.finished) {
    step_ = samples;
    series_index_ = 0;
  }
  return result;
}

}  // namespace vitals::sqlite
