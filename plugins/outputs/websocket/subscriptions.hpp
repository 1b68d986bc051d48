// What a client subscribed to. Clients with the same set of selectors share
// one Group, so a live message is matched and encoded once per distinct set
// and the same bytes go to all of them.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "match_cache.hpp"
#include "vitals/plugin.hpp"
#include "vitals/selector.hpp"

namespace vitals::websocket {

class Group {
 public:
  Group(std::string key, std::vector<std::string> texts, std::vector<Selector> selectors, size_t match_cache_entries)
      : key_(std::move(key)), texts_(std::move(texts)), selectors_(std::move(selectors)), memo_(match_cache_entries) {}
  const std::string &key() const { return key_; }
  // The selector texts, sorted and without repeats.
  const std::vector<std::string> &texts() const { return texts_; }
  bool empty() const { return selectors_.empty(); }
  // Whether any selector matches the series; remembered in a bounded cache.
  bool matches(const Host &host, SeriesId id);
  size_t cache_bytes() const { return memo_.bytes(); }

 private:
  std::string key_;
  std::vector<std::string> texts_;
  std::vector<Selector> selectors_;
  MatchCache memo_;
};

// Interns groups by their set of selector texts. Groups are shared by the
// clients holding them and forgotten when the last one lets go. At most
// `max_groups` live at once, which bounds the match caches in total.
class GroupTable {
 public:
  GroupTable(size_t max_groups, size_t match_cache_entries)
      : max_groups_(max_groups), match_cache_entries_(match_cache_entries) {}
  // The group for `texts` (any order, repeats allowed); null with `error`
  // naming the bad selector if one does not parse, or the limit if a new
  // group would pass max_groups.
  std::shared_ptr<Group> get(std::vector<std::string> texts, std::string &error);
  // Memory of the live groups' match caches.
  size_t cache_bytes() const;

 private:
  void sweep();

  size_t max_groups_;
  size_t match_cache_entries_;
  std::unordered_map<std::string, std::weak_ptr<Group>> groups_;
};

}  // namespace vitals::websocket
