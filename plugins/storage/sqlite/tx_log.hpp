// A copy of every batch in the open transaction, kept until it commits.
//
// Why: a batch must be stored whole or not at all, and the batches around a
// failing one must still commit. A SAVEPOINT per batch gave that, but made
// SQLite copy every page a batch touched into its statement journal first:
// 5 % (100 series) to 12 % (1000 series) of ingest CPU. Instead, when SQLite
// refuses a row halfway through a batch, the writer rolls the transaction
// back whole and writes the earlier batches again from this copy. That path
// is rare; the common one costs a copy of 24 bytes a sample.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "vitals/plugin.hpp"

namespace vitals::sqlite {

class TxLog {
 public:
  // One logged batch, read like a BatchView.
  class View {
   public:
    size_t size() const { return count_; }
    SeriesId series(size_t i) const { return log_->series_[first_ + i]; }
    int64_t ts_ns(size_t i) const { return log_->ts_[first_ + i]; }
    double value(size_t i) const { return log_->values_[first_ + i]; }
    size_t event_count() const { return events_; }
    const vitals_event_t &event(size_t i) const { return log_->events_[first_event_ + i]->raw; }

   private:
    friend class TxLog;
    const TxLog *log_ = nullptr;
    size_t first_ = 0, count_ = 0, first_event_ = 0, events_ = 0;
  };

  void append(const BatchView &batch) {
    View v;
    v.log_ = this;
    v.first_ = series_.size();
    v.count_ = batch.size();
    v.first_event_ = events_.size();
    v.events_ = batch.event_count();
    const vitals_batch_t &raw = batch.raw();
    series_.insert(series_.end(), raw.series, raw.series + raw.n_samples);
    ts_.insert(ts_.end(), raw.ts_ns, raw.ts_ns + raw.n_samples);
    values_.insert(values_.end(), raw.values, raw.values + raw.n_samples);
    for (size_t i = 0; i < batch.event_count(); ++i) events_.push_back(std::make_unique<OwnedEvent>(batch.event(i)));
    batches_.push_back(v);
  }

  // Forgets the batch appended last (it failed and was refused).
  void drop_last() {
    if (batches_.empty()) return;
    const View &v = batches_.back();
    series_.resize(v.first_);
    ts_.resize(v.first_);
    values_.resize(v.first_);
    events_.resize(v.first_event_);
    batches_.pop_back();
  }

  void clear() {
    series_.clear();
    ts_.clear();
    values_.clear();
    events_.clear();
    batches_.clear();
  }

  size_t batches() const { return batches_.size(); }
  const View &batch(size_t i) const { return batches_[i]; }

 private:
  // An event with its own copies of the strings it points to; never moved,
  // so that `raw` stays valid.
  struct OwnedEvent {
    explicit OwnedEvent(const vitals_event_t &e)
        : source(e.source ? e.source : ""), message(e.message ? e.message : "") {
      for (uint32_t i = 0; i < e.n_labels; ++i) {
        strings.emplace_back(e.labels[i].key ? e.labels[i].key : "");
        strings.emplace_back(e.labels[i].value ? e.labels[i].value : "");
      }
      for (size_t i = 0; i + 1 < strings.size(); i += 2) labels.push_back({strings[i].c_str(), strings[i + 1].c_str()});
      raw = e;
      raw.source = source.c_str();
      raw.message = message.c_str();
      raw.labels = labels.data();
    }
    OwnedEvent(const OwnedEvent &) = delete;
    OwnedEvent &operator=(const OwnedEvent &) = delete;
    std::string source, message;
    std::vector<std::string> strings;  // key, value, key, value, ...
    std::vector<vitals_label_t> labels;
    vitals_event_t raw{};
  };

  std::vector<SeriesId> series_;
  std::vector<int64_t> ts_;
  std::vector<double> values_;
  std::vector<std::unique_ptr<OwnedEvent>> events_;
  std::vector<View> batches_;
};

}  // namespace vitals::sqlite
