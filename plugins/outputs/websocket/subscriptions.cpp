#include "subscriptions.hpp"

#include <algorithm>
#include <span>

namespace vitals::websocket {

bool Group::matches(const Host &host, SeriesId id) {
  if (auto known = memo_.find(id)) return *known;
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
  memo_.store(id, match);
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
  if (groups_.size() >= max_groups_) sweep();
  if (groups_.size() >= max_groups_) {
    error =
        "too many distinct subscription sets on this agent (max_subscription_sets = " + std::to_string(max_groups_) +
        "); subscribe to a set another client already uses, or retry later";
    return nullptr;
  }
  auto g = std::make_shared<Group>(key, std::move(texts), std::move(selectors), match_cache_entries_);
  groups_[g->key()] = g;
  return g;
}

}  // namespace vitals::websocket

namespace vitals::websocket {

void GroupTable::sweep() {
  for (auto it = groups_.begin(); it != groups_.end();) it = it->second.expired() ? groups_.erase(it) : std::next(it);
}

size_t GroupTable::cache_bytes() const {
  size_t total = 0;
  for (const auto &[key, weak] : groups_)
    if (auto g = weak.lock()) total += g->cache_bytes();
  return total;
}

}  // namespace vitals::websocket
