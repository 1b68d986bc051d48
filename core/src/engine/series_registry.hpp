// Interns series (name + sorted labels) to stable 64-bit ids. Thread-safe:
// inputs intern from the libuv thread pool while the loop reads.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "vitals/plugin.h"

namespace vitals::core {

// The rules (names, label keys, canonical text, ids) are the SDK's
// (vitals/series_name.hpp), which the SDK's test host follows too.
class SeriesRegistry {
 public:
  // Returns the id of name{labels} (labels in any order), or 0 if the name or
  // a label key is invalid, a key repeats, or the registry is full.
  vitals_series_id_t intern(std::string_view name, const vitals_label_t *labels, uint32_t n_labels);
  vitals_series_id_t intern(std::string_view name, std::vector<std::pair<std::string, std::string>> labels = {});
  // nullptr if unknown. The pointer stays valid for the registry's life.
  const vitals_series_t *find(vitals_series_id_t id) const;
  bool contains(vitals_series_id_t id) const { return find(id) != nullptr; }
  size_t size() const;
  void set_limit(size_t max_series) { max_series_ = max_series; }
  // New series refused because the registry held max_series already.
  uint64_t refused_at_limit() const { return refused_at_limit_.load(std::memory_order_relaxed); }

 private:
  // A series costs its canonical text and its name and labels once each
  // (NUL-terminated, one after another in `strings`): long label values
  // must not cost many times their size.
  struct Entry {
    std::string text;
    std::string strings;
    std::vector<vitals_label_t> c_labels;
    vitals_series_t c{};
  };
  mutable std::shared_mutex mutex_;
  std::unordered_map<vitals_series_id_t, std::unique_ptr<Entry>> by_id_;
  std::unordered_map<std::string_view, vitals_series_id_t> by_text_;  // views of Entry::text
  size_t max_series_ = 1'000'000;
  std::atomic<uint64_t> refused_at_limit_{0};
  int64_t last_limit_log_ns_ = 0;  // under mutex_
};

}  // namespace vitals::core
