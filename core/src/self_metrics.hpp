// The agent's own metrics: counters, gauges and histograms with labels, cheap
// to update from any thread (atomics), read as a snapshot on the loop.
#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "vitals/plugin.h"

namespace vitals::core {

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

class SelfMetric {
 public:
  // Histogram upper bounds in the metric's unit (seconds for latencies).
  static constexpr std::array<double, 12> kBuckets = {1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 5e-3, 0.01, 0.05, 0.1, 0.5, 1, 5};

  SelfMetric(vitals_metric_type_t type, std::string name, std::string help, MetricLabels labels)
      : type_(type), name_(std::move(name)), help_(std::move(help)), labels_(std::move(labels)) {}

  // Adds to a counter, sets a gauge, observes into a histogram.
  void update(double v) {
    switch (type_) {
      case VITALS_METRIC_COUNTER:
        value_.fetch_add(v, std::memory_order_relaxed);
        break;
      case VITALS_METRIC_GAUGE:
        value_.store(v, std::memory_order_relaxed);
        break;
      case VITALS_METRIC_HISTOGRAM:
        observe(v);
        break;
    }
  }
  void add(double v) { value_.fetch_add(v, std::memory_order_relaxed); }
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void observe(double v) {
    size_t i = 0;
    while (i < kBuckets.size() && v > kBuckets[i]) ++i;
    buckets_[i].fetch_add(1, std::memory_order_relaxed);
    value_.fetch_add(v, std::memory_order_relaxed);  // the sum
    count_.fetch_add(1, std::memory_order_relaxed);
  }
  double value() const { return value_.load(std::memory_order_relaxed); }
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  // Cumulative count of observations <= kBuckets[i] (i == size: all).
  uint64_t cumulative(size_t i) const {
    uint64_t n = 0;
    for (size_t k = 0; k <= i && k < buckets_.size(); ++k) n += buckets_[k].load(std::memory_order_relaxed);
    return n;
  }
  // The q-quantile estimated from buckets (upper bound of its bucket).
  double quantile(double q) const;

  vitals_metric_type_t type() const { return type_; }
  const std::string &name() const { return name_; }
  const std::string &help() const { return help_; }
  const MetricLabels &labels() const { return labels_; }

 private:
  vitals_metric_type_t type_;
  std::string name_, help_;
  MetricLabels labels_;
  std::atomic<double> value_{0};
  std::atomic<uint64_t> count_{0};
  std::array<std::atomic<uint64_t>, kBuckets.size() + 1> buckets_{};
};

class MetricsRegistry {
 public:
  // Get-or-create; the pointer stays valid until remove_owner(owner).
  SelfMetric *get(const std::string &owner, vitals_metric_type_t type, const std::string &name, const std::string &help,
                  MetricLabels labels);
  // Forgets every metric created for owner (a component that was removed).
  void remove_owner(const std::string &owner);

  using Visitor = std::function<void(const std::string &name, const MetricLabels &labels, double value)>;
  // Flattens all metrics (histograms as _bucket{le}, _sum, _count) plus the
  // process metrics (CPU, RSS, open fds).
  void visit(const Visitor &fn) const;
  // Adds figures computed on demand (e.g. the HTTP server's counters); they
  // are visited after the registered metrics. Loop thread only.
  void add_collector(std::function<void(const Visitor &)> collector) { collectors_.push_back(std::move(collector)); }
  void for_each(const std::function<void(const SelfMetric &)> &fn) const;

 private:
  mutable std::mutex mutex_;
  std::multimap<std::string, std::unique_ptr<SelfMetric>> metrics_;  // by owner
  std::vector<std::function<void(const Visitor &)>> collectors_;
};

struct ProcessStats {
  double cpu_seconds = 0;  // user + system
  double resident_bytes = 0;
  double max_resident_bytes = 0;
  double open_fds = 0;
  double threads = 0;
};
ProcessStats read_process_stats();

}  // namespace vitals::core
