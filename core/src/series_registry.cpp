// Series interning. Ids are a hash of the canonical text, so the same series
// gets the same id in every run (storage can rely on it); a collision is
// resolved by probing to the next free id.
#include "series_registry.hpp"

#include <algorithm>
#include <mutex>

#include "log.hpp"
#include "scheduler.hpp"

namespace vitals::core {

namespace {

uint64_t fnv1a64(std::string_view text) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

bool valid_metric_name(std::string_view name) {
  if (name.empty() || !(is_alpha(name[0]) || name[0] == ':')) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return is_alpha(c) || is_digit(c) || c == ':' || c == '.'; });
}

bool valid_label_key(std::string_view key) {
  if (key.empty() || !is_alpha(key[0])) return false;
  return std::all_of(key.begin(), key.end(), [](char c) { return is_alpha(c) || is_digit(c); });
}

std::string canonical_series_text(std::string_view name,
                                  const std::vector<std::pair<std::string, std::string>> &sorted_labels) {
  std::string text(name);
  if (sorted_labels.empty()) return text;
  text += '{';
  bool first = true;
  for (const auto &[key, value] : sorted_labels) {
    if (!first) text += ',';
    first = false;
    text += key;
    text += "=\"";
    for (char c : value) {
      if (c == '\\' || c == '"') {
        text += '\\';
        text += c;
      } else if (c == '\n') {
        text += "\\n";
      } else {
        text += c;
      }
    }
    text += '"';
  }
  text += '}';
  return text;
}

vitals_series_id_t SeriesRegistry::intern(std::string_view name, const vitals_label_t *labels, uint32_t n_labels) {
  std::vector<std::pair<std::string, std::string>> pairs;
  pairs.reserve(n_labels);
  for (uint32_t i = 0; i < n_labels; ++i) {
    if (!labels[i].key) return 0;
    pairs.emplace_back(labels[i].key, labels[i].value ? labels[i].value : "");
  }
  return intern(name, std::move(pairs));
}

vitals_series_id_t SeriesRegistry::intern(std::string_view name,
                                          std::vector<std::pair<std::string, std::string>> labels) {
  if (!valid_metric_name(name)) return 0;
  std::sort(labels.begin(), labels.end());
  for (size_t i = 0; i < labels.size(); ++i) {
    if (!valid_label_key(labels[i].first)) return 0;
    if (i > 0 && labels[i].first == labels[i - 1].first) return 0;
  }
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
  vitals_series_id_t id = fnv1a64(text) % VITALS_SERIES_ID_PLACEHOLDER_MIN;
  while (id == 0 || by_id_.count(id)) id = (id + 1) % VITALS_SERIES_ID_PLACEHOLDER_MIN;
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
