// What a client subscribed to. Clients with the same set of selectors share
// one Group, so a live message is matched and encoded once per distinct set
// and the same bytes go to all of them.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "vitals/plugin.hpp"
#include "vitals/selector.hpp"

namespace vitals::websocket {

class Group {
 public:
  Group(std::string key, std::vector<std::string> texts, std::vector<Selector> selectors)
      : key_(std::move(key)), texts_(std::move(texts)), selectors_(std::move(selectors)) {}
  const std::string &key() const { return key_; }
  // The selector texts, sorted and without repeats.
  const std::vector<std::string> &texts() const { return texts_; }
  bool empty() const { return selectors_.empty(); }
  // Whether any selector matches the series; remembered per series.
  bool matches(const Host &host, SeriesId id);

 private:
  static constexpr size_t max_memo_entries = 100'000;
  std::string key_;
  std::vector<std::string> texts_;
  std::vector<Selector> selectors_;
  std::unordered_map<SeriesId, bool> memo_;
};

// Interns groups by their set of selector texts. Groups are shared by the
// clients holding them and forgotten when the last one lets go.
class GroupTable {
 public:
  // The group for `texts` (any order, repeats allowed); null with `error`
  // naming the bad selector if one does not parse.
  std::shared_ptr<Group> get(std::vector<std::string> texts, std::string &error);

 private:
  static constexpr size_t sweep_above = 1024;
  std::unordered_map<std::string, std::weak_ptr<Group>> groups_;
};

}  // namespace vitals::websocket
