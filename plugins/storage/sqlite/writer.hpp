// The write path, on the core's consumer thread: batches go into one open
// transaction with prepared statements (a copy of each kept until commit, so
// a batch that fails halfway can be taken out whole: tx_log.hpp); rollups
// are aggregated in memory per (series, minute) and written once per group
// at commit; acks are completed only once their data is committed.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "cache.hpp"
#include "catalog.hpp"
#include "compactor.hpp"
#include "config.hpp"
#include "counters.hpp"
#include "db.hpp"
#include "head_codec.hpp"
#include "head_index.hpp"
#include "tx_log.hpp"
#include "v3_store.hpp"
#include "vitals/plugin.hpp"

namespace vitals::sqlite {

class Writer {
 public:
  Writer(Database &db, const Settings &settings, Host host, Catalog &catalog, Caches &caches, Counters &counters);
  // Layout v3: samples go to a head row per commit and into `head`; the
  // compactor learns of each head row.
  void use_v3(HeadIndex &head, Compactor &compactor, const v3::Options &options);
  Writer(const Writer &) = delete;
  Writer &operator=(const Writer &) = delete;

  // Takes over what load_stored() read from the file.
  void adopt(Stored stored);

  // Adds a batch to the open transaction, opening one if needed, and keeps
  // ack to complete at commit. On failure nothing of the batch remains and
  // this throws; the batches before it stay in the transaction, unless they
  // cannot be written again either (SQLite abandoned the transaction: disk
  // full, I/O error), in which case their acks are completed with the error
  // first.
  void add(const BatchView &batch, vitals_ack_t *ack);

  // True when the open transaction is over max_batch_samples or flush_interval.
  bool commit_due() const;
  bool in_transaction() const { return tx_open_; }
  // When the open transaction began (steady clock).
  std::chrono::steady_clock::time_point transaction_started() const { return tx_started_; }

  // Commits the open transaction and completes its acks: ok, or, when the
  // commit fails, error after rolling everything back. Returns success.
  bool commit();

  // Committed series ids (for retention), in creation order.
  const std::vector<int64_t> &series_ids() const { return series_ids_; }
  // Forgets series whose rows retention removed (series.id); a later
  // sample of one creates it again. Between transactions only.
  void forget_removed(const std::vector<int64_t> &ids);

  std::atomic<int64_t> max_batch_samples;
  std::atomic<int64_t> flush_interval_ns;

 private:
  struct Aggregate {
    double min = 0, max = 0, sum = 0;
    int64_t count = 0;
    void add(double v);
    void merge(const Aggregate &o);
  };
  struct BucketKey {
    int64_t series, bucket;
    bool operator==(const BucketKey &) const = default;
  };
  struct BucketKeyHash {
    size_t operator()(const BucketKey &k) const {
      return std::hash<int64_t>()(k.series * 0x9E3779B97F4A7C15ull ^ static_cast<uint64_t>(k.bucket));
    }
  };
  struct NewSeries {
    SeriesId host_id;
    SeriesPtr info;
  };
  // What the open transaction changed besides rows.
  struct Staging {
    std::unordered_map<BucketKey, Aggregate, BucketKeyHash> minutes;  // merged into rollups at commit
    std::unordered_set<BucketKey, BucketKeyHash> dirty_minutes;       // rebuilt from raw rows at commit
    std::unordered_map<int64_t, Latest> latest;
    std::vector<NewSeries> new_series;
    head::Rows rows;  // layout v3: the samples, in arrival order
    int64_t min_ts = INT64_MAX;
    int64_t samples = 0, added_rows = 0, events = 0;
  };

  // Writes one batch (a BatchView, or a TxLog::View when writing again) into
  // the open transaction and tx_; throws when SQLite refuses a row.
  template <typename Batch>
  void apply(const Batch &batch);
  // After a batch failed halfway: rolls back, then writes the logged batches again.
  void recover(const std::string &why);
  int64_t resolve(SeriesId host_id);
  const Latest *current_latest(int64_t series) const;
  void add_sample(int64_t series, int64_t ts, double value, int64_t recompute_after_ns);
  void add_event(const vitals_event_t &e);
  void write_rollups();
  void forget_series(const std::vector<NewSeries> &added);
  void fail_transaction(const std::string &why);

  Database &db_;
  const Settings &settings_;
  Host host_;
  Catalog &catalog_;
  Caches &caches_;
  Counters &counters_;

  Statement begin_, commit_, rollback_;
  Statement insert_sample_, find_sample_, insert_series_, insert_event_;
  Statement upsert_minute_, upsert_hour_, delete_minute_, rebuild_minute_, delete_hour_, rebuild_hour_;
  Statement add_count_;

  // Layout v3 (null for v2).
  HeadIndex *head_ = nullptr;
  Compactor *compactor_ = nullptr;
  const v3::Options *v3_options_ = nullptr;

  std::unordered_map<SeriesId, int64_t> host_rows_;  // host series id -> series.id
  TextRows text_rows_;                               // every series in the file
  std::unordered_map<int64_t, Latest> committed_latest_;
  std::vector<int64_t> series_ids_;

  bool tx_open_ = false;
  std::chrono::steady_clock::time_point tx_started_;
  Staging tx_;
  TxLog log_;                         // the batches of the open transaction, in order
  std::vector<vitals_ack_t *> acks_;  // one per logged batch
};

}  // namespace vitals::sqlite
