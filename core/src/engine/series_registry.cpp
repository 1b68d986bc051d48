// Series interning. Ids are a hash of the canonical text, so the same series
// gets the same id in every run (storage can rely on it); a collision is
// resolved by probing to the next free id (vitals/series_name.hpp).
#include "series_registry.hpp"

#include <mutex>

#include "log.hpp"
#include "scheduler.hpp"
#include "vitals/series_name.hpp"

namespace vitals::core {

vitals_series_id_t SeriesRegistry::intern(std::string_view name, const vitals_label_t *labels, uint32_t n_labels) {
  SeriesLabels pairs;
  if (!series_labels_from_c(labels, n_labels, pairs)) return 0;
  return intern(name, std::move(pairs));
}

vitals_series_id_t SeriesRegistry::intern(std::string_view name,
                                          std::vector<std::pair<std::string, std::string>> labels) {
  if (!canonicalize_series(name, labels)) return 0;
  std::string text = canonical_series_text(name, labels);
  {
    std::shared_lock lock(mutex_);
    if (auto it = by_text_.find(text); it != by_text_.end()) return it->second;
  }
  std::unique_lock lock(mutex_);
  if (auto it = by_text_.find(text); it != by_text_.end()) return it->second;
  if (by_id_.size() >= max_series_) {
    refused_at_limit_.fetch_add(1, std::memory_order_relaxed);
    // Once a minute at most: a full registry refuses every new series.
    int64_t now = monotonic_ns();
    if (last_limit_log_ns_ == 0 || now - last_limit_log_ns_ > 60'000'000'000) {
      last_limit_log_ns_ = now;
      log_warn("agent", "series limit reached: " + std::to_string(max_series_) +
                            " series ([agent] max_series); new series are refused until a restart with a higher "
                            "limit (vitals_series_refused_total counts them)");
    }
    return 0;
  }
  // Ids from VITALS_SERIES_ID_PLACEHOLDER_MIN up are the plugins' (plugin.h).
  vitals_series_id_t id = series_id_first_candidate(text);
  while (by_id_.count(id)) id = series_id_next_candidate(id);
  auto entry = std::make_unique<Entry>();
  entry->text = std::move(text);
  entry->text.shrink_to_fit();  // built by appending: its capacity may be twice its size
  size_t bytes = name.size() + 1;
  for (const auto &[k, v] : labels) bytes += k.size() + v.size() + 2;
  entry->strings.reserve(bytes);  // no reallocation below: the pointers into it stay valid
  auto keep = [&entry](std::string_view s) {
    size_t at = entry->strings.size();
    entry->strings.append(s);
    entry->strings.push_back('\0');
    return entry->strings.data() + at;
  };
  entry->c.name = keep(name);
  entry->c_labels.reserve(labels.size());
  for (const auto &[k, v] : labels) {
    const char *key = keep(k);
    entry->c_labels.push_back({key, keep(v)});
  }
  entry->c.id = id;
  entry->c.text = entry->text.c_str();
  entry->c.labels = entry->c_labels.data();
  entry->c.n_labels = static_cast<uint32_t>(entry->c_labels.size());
  by_text_.emplace(entry->text, id);
  by_id_.emplace(id, std::move(entry));
  return id;
}

const vitals_series_t *SeriesRegistry::find(vitals_series_id_t id) const {
  std::shared_lock lock(mutex_);
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &it->second->c;
}

size_t SeriesRegistry::size() const {
  std::shared_lock lock(mutex_);
  return by_id_.size();
}

}  // namespace vitals::core
