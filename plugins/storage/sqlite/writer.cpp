// The write path: samples, events, series rows, rollups, commit and acks.
#include "writer.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "tier.hpp"
#include "vitals/json_writer.hpp"

namespace vitals::sqlite {

namespace {

int64_t wall_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The rollup statements of one tier; `source` is what a rebuild reads.
constexpr const char *upsert_sql =
    "INSERT INTO %T(series_id, bucket_ts, min, max, sum, count) VALUES(?1, ?2, ?3, ?4, ?5, ?6) "
    "ON CONFLICT(series_id, bucket_ts) DO UPDATE SET min = min(min, excluded.min), max = max(max, excluded.max), "
    "sum = sum + excluded.sum, count = count + excluded.count";

std::string for_table(const char *sql, const char *table) {
  std::string s = sql;
  s.replace(s.find("%T"), 2, table);
  return s;
}

}  // namespace

void Writer::Aggregate::add(double v) {
  if (count == 0) {
    min = max = sum = v;
  } else {
    min = v < min ? v : min;
    max = v > max ? v : max;
    sum += v;
  }
  ++count;
}

void Writer::Aggregate::merge(const Aggregate &o) {
  if (o.count == 0) return;
  if (count == 0) {
    *this = o;
    return;
  }
  min = o.min < min ? o.min : min;
  max = o.max > max ? o.max : max;
  sum += o.sum;
  count += o.count;
}

Writer::Writer(Database &db, const Settings &settings, Host host, Catalog &catalog, Caches &caches, Counters &counters)
    : max_batch_samples(settings.max_batch_samples),
      flush_interval_ns(settings.flush_interval_ns),
      db_(db),
      settings_(settings),
      host_(host),
      catalog_(catalog),
      caches_(caches),
      counters_(counters) {
  begin_ = db_.prepare("BEGIN IMMEDIATE");
  commit_ = db_.prepare("COMMIT");
  rollback_ = db_.prepare("ROLLBACK");
  insert_sample_ = db_.prepare("INSERT OR REPLACE INTO samples(series_id, ts, value) VALUES(?1, ?2, ?3)");
  find_sample_ = db_.prepare("SELECT 1 FROM samples WHERE series_id = ?1 AND ts = ?2");
  // A row another writer of this file added (an older agent, or a version
  // without the writer lock) is adopted, not a failure of every later batch.
  insert_series_ = db_.prepare(
      "INSERT INTO series(text, name, labels) VALUES(?1, ?2, ?3) ON CONFLICT(text) DO UPDATE SET text = excluded.text "
      "RETURNING id");
  insert_event_ = db_.prepare("INSERT INTO events(ts, severity, source, message, labels) VALUES(?1, ?2, ?3, ?4, ?5)");
  upsert_minute_ = db_.prepare(for_table(upsert_sql, "rollup_1m"));
  upsert_hour_ = db_.prepare(for_table(upsert_sql, "rollup_1h"));
  delete_minute_ = db_.prepare("DELETE FROM rollup_1m WHERE series_id = ?1 AND bucket_ts = ?2");
  rebuild_minute_ = db_.prepare(
      "INSERT INTO rollup_1m(series_id, bucket_ts, min, max, sum, count) "
      "SELECT ?1, ?2, min(value), max(value), sum(value), count(value) FROM samples "
      "WHERE series_id = ?1 AND ts >= ?2 AND ts < ?2 + 60000000000 HAVING count(value) > 0");
  delete_hour_ = db_.prepare("DELETE FROM rollup_1h WHERE series_id = ?1 AND bucket_ts = ?2");
  rebuild_hour_ = db_.prepare(
      "INSERT INTO rollup_1h(series_id, bucket_ts, min, max, sum, count) "
      "SELECT ?1, ?2, min(min), max(max), sum(sum), sum(count) FROM rollup_1m "
      "WHERE series_id = ?1 AND bucket_ts >= ?2 AND bucket_ts < ?2 + 3600000000000 HAVING count(*) > 0");
  add_count_ = db_.prepare("UPDATE meta SET value = value + ?1 WHERE key = 'sample_count'");
}

void Writer::use_v3(HeadIndex &head, Compactor &compactor, const v3::Options &options) {
  head_ = &head;
  compactor_ = &compactor;
  v3_options_ = &options;
}

void Writer::adopt(Stored stored) {
  text_rows_ = std::move(stored.text_rows);
  committed_latest_ = std::move(stored.latest);
  series_ids_ = std::move(stored.series_ids);
}

const Latest *Writer::current_latest(int64_t series) const {
  if (auto it = tx_.latest.find(series); it != tx_.latest.end()) return &it->second;
  if (auto it = committed_latest_.find(series); it != committed_latest_.end()) return &it->second;
  return nullptr;
}

int64_t Writer::resolve(SeriesId host_id) {
  if (auto it = host_rows_.find(host_id); it != host_rows_.end()) return it->second;
  const vitals_series_t *s = host_.series(host_id);
  if (!s || !s->text || !s->name)
    throw std::invalid_argument("batch refers to unknown series id " + std::to_string(host_id));
  if (auto it = text_rows_.find(s->text); it != text_rows_.end()) {
    host_rows_.emplace(host_id, it->second->id);
    return it->second->id;
  }
  std::vector<Label> labels;
  for (uint32_t i = 0; i < s->n_labels; ++i)
    labels.push_back({s->labels[i].key ? s->labels[i].key : "", s->labels[i].value ? s->labels[i].value : ""});
  SeriesPtr info = make_series_info(0, s->text, s->name, std::move(labels));
  insert_series_.bind(1, std::string_view(info->text)).bind(2, std::string_view(info->name));
  insert_series_.bind(3, std::string_view(labels_json(info->labels)));
  int64_t id = 0;
  if (!insert_series_.step()) throw std::runtime_error("series insert returned no id");
  id = insert_series_.column_int(0);
  insert_series_.reset();
  auto with_id = std::make_shared<SeriesInfo>(*info);
  with_id->id = id;
  host_rows_.emplace(host_id, id);
  text_rows_.emplace(with_id->text, with_id);
  tx_.new_series.push_back({host_id, std::move(with_id)});
  return id;
}

// A sample newer than everything of its series cannot replace a row, so its
// value simply joins the in-memory minute aggregate. An older one (late, or a
// duplicate timestamp) may replace a value the rollups already counted: its
// minute is rebuilt from the raw rows at commit, and the hour from the minutes,
// as long as raw rows still cover that hour (younger than retention). Older
// than that, the raw rows are gone and the value is merged like a new one.
void Writer::add_sample(int64_t series, int64_t ts, double value, int64_t recompute_after_ns) {
  const Latest *cur = current_latest(series);
  const bool late = cur && ts <= cur->ts;
  ++tx_.samples;
  if (ts < tx_.min_ts) tx_.min_ts = ts;
  if (!cur || ts >= cur->ts) tx_.latest[series] = Latest{ts, value};
  if (head_) {
    // v3: the commit's head row; sealing merges it and builds the rollups.
    tx_.rows.add(series, ts, value);
    return;
  }
  bool replaces = false;
  if (late) {
    find_sample_.bind(1, series).bind(2, ts);
    replaces = find_sample_.step();
    find_sample_.reset();
  }
  insert_sample_.bind(1, series).bind(2, ts).bind(3, value);
  insert_sample_.run();
  if (!replaces) ++tx_.added_rows;

  BucketKey minute{series, bucket_start(ts, minute_ns)};
  if (late && bucket_start(ts, hour_ns) >= recompute_after_ns)
    tx_.dirty_minutes.insert(minute);
  else if (!std::isnan(value))
    tx_.minutes[minute].add(value);
}

void Writer::add_event(const vitals_event_t &e) {
  std::string labels = "{";
  for (uint32_t i = 0; i < e.n_labels; ++i) {
    if (i) labels += ',';
    json::append_string(labels, e.labels[i].key ? e.labels[i].key : "");
    labels += ':';
    json::append_string(labels, e.labels[i].value ? e.labels[i].value : "");
  }
  labels += '}';
  insert_event_.bind(1, e.ts_ns).bind(2, std::string_view(vitals::severity_name(e.severity)));
  insert_event_.bind(3, std::string_view(e.source ? e.source : ""))
      .bind(4, std::string_view(e.message ? e.message : ""));
  insert_event_.bind(5, std::string_view(labels));
  insert_event_.run();
}

template <typename Batch>
void Writer::apply(const Batch &batch) {
  const int64_t recompute_after = wall_now_ns() - settings_.retention_ns;
  for (size_t i = 0; i < batch.size(); ++i)
    add_sample(resolve(batch.series(i)), batch.ts_ns(i), batch.value(i), recompute_after);
  for (size_t i = 0; i < batch.event_count(); ++i) add_event(batch.event(i));
  tx_.events += static_cast<int64_t>(batch.event_count());
}

void Writer::add(const BatchView &batch, vitals_ack_t *ack) {
  if (!tx_open_) {
    begin_.run();
    tx_open_ = true;
    tx_started_ = std::chrono::steady_clock::now();
  }
  log_.append(batch);
  try {
    apply(batch);
  } catch (const std::exception &e) {
    counters_.batches_failed.fetch_add(1, std::memory_order_relaxed);
    std::string why = e.what();
    log_.drop_last();
    recover(why);
    throw std::runtime_error(why);
  }
  acks_.push_back(ack);
}

// Some rows of the failed batch may be in the transaction already, and
// SQLite cannot take back only those: the transaction goes, and the batches
// before the failed one are written again from the log, as they were. If
// that fails too, the transaction is gone for good and so are their acks.
void Writer::recover(const std::string &why) {
  if (db_.in_transaction()) {
    try {
      rollback_.run();
    } catch (const std::exception &) {
      // SQLite rolls back on its own when it cannot.
    }
  }
  forget_series(tx_.new_series);
  tx_ = Staging{};
  tx_open_ = false;
  if (log_.batches() == 0) return;
  try {
    begin_.run();
    tx_open_ = true;
    for (size_t i = 0; i < log_.batches(); ++i) apply(log_.batch(i));
  } catch (const std::exception &e) {
    fail_transaction(why + "; the transaction holding the batches before it failed too: " + e.what());
  }
}

bool Writer::commit_due() const {
  if (!tx_open_) return false;
  if (tx_.samples + tx_.events >= max_batch_samples.load(std::memory_order_relaxed)) return true;
  auto age = std::chrono::steady_clock::now() - tx_started_;
  return std::chrono::duration_cast<std::chrono::nanoseconds>(age).count() >=
         flush_interval_ns.load(std::memory_order_relaxed);
}

// Minutes first (merged, then rebuilt), then hours from what the minutes
// became: the merged minutes of untouched hours, or a rebuild from rollup_1m.
void Writer::write_rollups() {
  std::unordered_set<BucketKey, BucketKeyHash> dirty_hours;
  for (const BucketKey &k : tx_.dirty_minutes) dirty_hours.insert({k.series, bucket_start(k.bucket, hour_ns)});
  auto upsert = [](Statement &s, const BucketKey &k, const Aggregate &a) {
    s.bind(1, k.series).bind(2, k.bucket).bind(3, a.min).bind(4, a.max).bind(5, a.sum).bind(6, a.count);
    s.run();
  };
  std::unordered_map<BucketKey, Aggregate, BucketKeyHash> hours;
  for (const auto &[k, agg] : tx_.minutes) {
    if (tx_.dirty_minutes.count(k)) continue;
    upsert(upsert_minute_, k, agg);
    BucketKey hour{k.series, bucket_start(k.bucket, hour_ns)};
    if (!dirty_hours.count(hour)) hours[hour].merge(agg);
  }
  for (const BucketKey &k : tx_.dirty_minutes) {
    delete_minute_.bind(1, k.series).bind(2, k.bucket);
    delete_minute_.run();
    rebuild_minute_.bind(1, k.series).bind(2, k.bucket);
    rebuild_minute_.run();
  }
  for (const auto &[k, agg] : hours) upsert(upsert_hour_, k, agg);
  for (const BucketKey &k : dirty_hours) {
    delete_hour_.bind(1, k.series).bind(2, k.bucket);
    delete_hour_.run();
    rebuild_hour_.bind(1, k.series).bind(2, k.bucket);
    rebuild_hour_.run();
  }
  counters_.rollup_recomputes.fetch_add(tx_.dirty_minutes.size() + dirty_hours.size(), std::memory_order_relaxed);
}

bool Writer::commit() {
  if (!tx_open_) return true;
  auto t0 = std::chrono::steady_clock::now();
  int64_t head_seq = 0;
  try {
    if (head_)
      head_seq = v3::append_head(db_, tx_.rows, *v3_options_);
    else
      write_rollups();
    if (tx_.added_rows) {
      add_count_.bind(1, tx_.added_rows);
      add_count_.run();
    }
    commit_.run();
  } catch (const std::exception &e) {
    counters_.commit_errors.fetch_add(1, std::memory_order_relaxed);
    fail_transaction(std::string("commit failed: ") + e.what());
    return false;
  }
  tx_open_ = false;
  auto elapsed = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0);

  // Publish before acknowledging: once a sender hears "ok", queries see it.
  std::vector<SeriesPtr> added;
  for (auto &s : tx_.new_series) {
    series_ids_.push_back(s.info->id);
    added.push_back(s.info);
  }
  std::vector<std::pair<int64_t, Latest>> latest;
  for (const auto &[series, l] : tx_.latest) {
    auto [it, fresh] = committed_latest_.try_emplace(series, l);
    if (!fresh && l.ts >= it->second.ts) it->second = l;
    latest.emplace_back(series, l);
  }
  catalog_.add(std::move(added));
  catalog_.set_latest(latest);
  if (head_seq) {
    tx_.added_rows = head_->add(tx_.rows, head_seq);
    const auto newest = std::max_element(tx_.rows.ts.begin(), tx_.rows.ts.end());
    compactor_->track({head_seq, *newest});
  }
  // Only a write older than the "closed range" horizon (the configured
  // flush_interval, as the query engine uses it, whatever a tunable says now)
  // can touch a cached reply. Measured after the commit, so that a query
  // taking its "now" later also sees the data.
  if (tx_.samples > 0 && tx_.min_ts < wall_now_ns() - settings_.flush_interval_ns) caches_.invalidate_from(tx_.min_ts);

  counters_.samples_written.fetch_add(static_cast<uint64_t>(tx_.samples), std::memory_order_relaxed);
  counters_.events_written.fetch_add(static_cast<uint64_t>(tx_.events), std::memory_order_relaxed);
  counters_.samples_stored.fetch_add(tx_.added_rows, std::memory_order_relaxed);
  counters_.series = series_ids_.size();
  counters_.commits.fetch_add(1, std::memory_order_relaxed);
  counters_.pages_written = static_cast<uint64_t>(db_.pages_written());
  counters_.last_commit_ns = elapsed.count();
  counters_.last_commit_samples = tx_.samples;
  tx_ = Staging{};
  log_.clear();
  for (vitals_ack_t *ack : acks_) host_.complete(ack, Status::ok);
  acks_.clear();
  return true;
}

void Writer::forget_removed(const std::vector<int64_t> &ids) {
  const std::unordered_set<int64_t> gone(ids.begin(), ids.end());
  std::erase_if(host_rows_, [&](const auto &kv) { return gone.count(kv.second) > 0; });
  std::erase_if(text_rows_, [&](const auto &kv) { return gone.count(kv.second->id) > 0; });
  std::erase_if(committed_latest_, [&](const auto &kv) { return gone.count(kv.first) > 0; });
  std::erase_if(series_ids_, [&](int64_t id) { return gone.count(id) > 0; });
  counters_.series = series_ids_.size();
}

void Writer::forget_series(const std::vector<NewSeries> &added) {
  for (const auto &s : added) {
    host_rows_.erase(s.host_id);
    text_rows_.erase(s.info->text);
  }
}

void Writer::fail_transaction(const std::string &why) {
  if (db_.in_transaction()) {
    try {
      rollback_.run();
    } catch (const std::exception &) {
      // Nothing more to undo: SQLite rolls back on the next open anyway.
    }
  }
  tx_open_ = false;
  forget_series(tx_.new_series);
  tx_ = Staging{};
  log_.clear();
  for (vitals_ack_t *ack : acks_) host_.complete(ack, Status::error, why);
  acks_.clear();
}

}  // namespace vitals::sqlite
