// Finds the first repeated key in a sequence (tags of a line, labels of a
// series, members of a JSON object) in time linear in the sequence: a client
// decides how long it is, and comparing every pair of 100,000 tags would block
// the loop for seconds.
#pragma once

#include <cstddef>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

namespace vitals::http_telemetry {

template <typename Key, typename Hash = std::hash<Key>>
class DuplicateFinder {
 public:
  // Forgets every key; keeps the memory for the next sequence.
  void clear() {
    few_.clear();
    if (!many_.empty()) many_.clear();  // clear() sweeps every bucket even when empty
  }

  // The position remembered for an earlier key equal to key, or nothing (and
  // key is remembered at position). Keys must outlive the next clear().
  std::optional<size_t> insert(const Key &key, size_t position) {
    if (many_.empty()) {
      // The usual handful: a scan is cheaper than hashing.
      for (const auto &[k, p] : few_)
        if (k == key) return p;
      if (few_.size() < kScanned) {
        few_.emplace_back(key, position);
        return std::nullopt;
      }
      many_.insert(few_.begin(), few_.end());
    }
    auto [it, inserted] = many_.emplace(key, position);
    if (!inserted) return it->second;
    return std::nullopt;
  }

 private:
  static constexpr size_t kScanned = 16;
  std::vector<std::pair<Key, size_t>> few_;
  std::unordered_map<Key, size_t, Hash> many_;
};

}  // namespace vitals::http_telemetry
