#include "subscriptions.hpp"

#include <algorithm>
#include <span>

namespace vitals::websocket {

bool Group::matches(const Host &host, SeriesId id) {
  if (auto it = memo_.find(id); it != memo_.end()) return it->second;
  const vitals_series_t *s = host.series(id);
  bool match = false;
  if (s) {
    std::span<const vitals_label_t> labels(s->labels, s->n_labels);
    for (const auto &sel : selectors_)
      if (sel.matches(s->name, labels)) {
        match = true;
        break;
      }
  }
  if (memo_.size() >= max_memo_entries) memo_.clear();
  memo_.emplace(id, match);
  return match;
}

std::shared_ptr<Group> GroupTable::get(std::vector<std::string> texts, std::string &error) {
  std::sort(texts.begin(), texts.end());
  texts.erase(std::unique(texts.begin(), texts.end()), texts.end());
  std::string key;
  for (const auto &t : texts) {
    key += t;
    key += '\n';  // cannot occur inside a selector the parser accepts
  }
  if (auto it = groups_.find(key); it != groups_.end())
    if (auto g = it->second.lock()) return g;
  std::vector<Selector> selectors;
  for (const auto &t : texts) {
    Selector sel;
    std::string why;
    if (!Selector::parse(t, sel, why)) {
      error = "\"" + t + "\": " + why;
      return nullptr;
    }
    selectors.push_back(std::move(sel));
  }
  // Clients that try many selector sets leave expired entries behind.
  if (groups_.size() >= sweep_above)
    for (auto it = groups_.begin(); it != groups_.end();) it = it->second.expired() ? groups_.erase(it) : std::next(it);
  auto g = std::make_shared<Group>(key, std::move(texts), std::move(selectors));
  groups_[g->key()] = g;
  return g;
}

}  // namespace vitals::websocket
