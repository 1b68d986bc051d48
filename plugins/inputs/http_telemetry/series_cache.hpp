// A bounded map from the raw text that names a series in a request to the
// host's series id, so steady-state ingest resolves a sample with one hash
// lookup instead of decoding, validating and interning its series each time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "vitals/plugin.h"

namespace vitals::http_telemetry {

class SeriesCache {
 public:
  explicit SeriesCache(size_t capacity) : capacity_(capacity ? capacity : 1) { map_.reserve(capacity_ / 4); }

  // The id remembered for key, or 0.
  vitals_series_id_t find(std::string_view key) {
    auto it = map_.find(key);
    if (it == map_.end()) {
      ++misses_;
      return 0;
    }
    ++hits_;
    return it->second;
  }

  // A hit served from elsewhere (a request's own new series).
  void count_hit() { ++hits_; }

  // The id remembered for a series by its identity (SeriesResolver's
  // canonical form), or 0. Every key find() knows has its identity here: two
  // raw texts naming one series resolve to one id.
  vitals_series_id_t find_identity(std::string_view identity) const {
    auto it = identities_.find(identity);
    return it == identities_.end() ? 0 : it->second;
  }

  // Remembers key and the identity of its series. A full cache starts over:
  // cheaper than tracking recency on every hit, and a working set that fits
  // (the normal case) never sees it.
  void insert(std::string_view key, std::string_view identity, vitals_series_id_t id) {
    if (map_.size() >= capacity_) {
      map_.clear();
      identities_.clear();
      ++resets_;
    }
    map_.emplace(std::string(key), id);
    identities_.emplace(std::string(identity), id);
  }

  size_t size() const { return map_.size(); }
  size_t capacity() const { return capacity_; }
  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }
  uint64_t resets() const { return resets_; }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  using Map = std::unordered_map<std::string, vitals_series_id_t, Hash, std::equal_to<>>;
  size_t capacity_;
  Map map_;
  Map identities_;
  uint64_t hits_ = 0, misses_ = 0, resets_ = 0;
};

}  // namespace vitals::http_telemetry
