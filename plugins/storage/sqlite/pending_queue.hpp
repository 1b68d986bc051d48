// When the compactor finalizes each pending window (v3_store.hpp): once the
// window has ended on the wall clock and no seal has written it for a
// while. A window still taking writes would only be made pending again by
// its next one, its chunks merged twice.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "v3_store.hpp"

namespace vitals::sqlite {

class PendingQueue {
 public:
  // The window is pending and may be finalized from ready_ns (wall clock)
  // on; a window queued already moves to that time.
  void queue(v3::Window window, int64_t ready_ns) {
    if (auto it = ready_at_.find(window); it != ready_at_.end()) {
      by_time_.erase({it->second, window});
      it->second = ready_ns;
    } else {
      ready_at_.emplace(window, ready_ns);
      ++starts_[window.start];
    }
    by_time_.insert({ready_ns, window});
  }
  // Up to `max` windows ready at now_ns, the longest ready first.
  std::vector<v3::Window> ready(int64_t now_ns, size_t max) const {
    std::vector<v3::Window> out;
    for (auto it = by_time_.begin(); it != by_time_.end() && it->first <= now_ns && out.size() < max; ++it)
      out.push_back(it->second);
    return out;
  }
  void finalized(v3::Window window) {
    if (auto it = ready_at_.find(window); it != ready_at_.end()) {
      by_time_.erase({it->second, window});
      ready_at_.erase(it);
      if (auto s = starts_.find(window.start); --s->second == 0) starts_.erase(s);
    }
  }
  // Whether a window starting in [lo, hi] is pending.
  bool any_starting(int64_t lo, int64_t hi) const {
    auto it = starts_.lower_bound(lo);
    return it != starts_.end() && it->first <= hi;
  }
  // When the first window is ready (wall clock), if any is pending.
  std::optional<int64_t> next_ready_ns() const {
    if (by_time_.empty()) return std::nullopt;
    return by_time_.begin()->first;
  }
  size_t size() const { return ready_at_.size(); }

 private:
  std::map<v3::Window, int64_t> ready_at_;
  std::set<std::pair<int64_t, v3::Window>> by_time_;
  std::map<int64_t, size_t> starts_;  // windows pending per start
};

}  // namespace vitals::sqlite
