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

  // The id remembered for a series by the hash of its identity (name and
  // sorted labels), or 0: a candidate the caller checks against the series.
  // Every key find() knows has its identity here, so two raw texts naming
  // one series resolve to one id. A hash, not the text: label values may be
  // kilobytes, and the host keeps them already.
  vitals_series_id_t find_identity(size_t identity_hash) const {
    auto it = identities_.find(identity_hash);
    return it == identities_.end() ? 0 : it->second;
  }

  // Remembers key and the identity of its series. A full cache starts over:
  // cheaper than tracking recency on every hit, and a working set that fits
  // (the normal case) never sees it.
  void insert(std::string_view key, size_t identity_hash, vitals_series_id_t id) {
    if (map_.size() >= capacity_) {
      map_.clear();
      identities_.clear();
      ++resets_;
    }
    map_.emplace(std::string(key), id);
    identities_[identity_hash] = id;
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
  size_t capacity_;
  std::unordered_map<std::string, vitals_series_id_t, Hash, std::equal_to<>> map_;
  std::unordered_map<size_t, vitals_series_id_t> identities_;
  uint64_t hits_ = 0, misses_ = 0, resets_ = 0;
};

}  // namespace vitals::http_telemetry
