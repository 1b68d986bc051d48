// The v3 head in memory (head_index.hpp).
#include "head_index.hpp"

#include <algorithm>

namespace vitals::sqlite {

int64_t HeadIndex::add(const head::Rows &rows, int64_t seq) {
  std::unique_lock lock(mutex_);
  return add_locked(rows, seq);
}

int64_t HeadIndex::add_locked(const head::Rows &rows, int64_t seq) {
  int64_t fresh = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    auto &samples = series_[rows.series[i]];
    const int64_t ts = rows.ts[i];
    // Most writes are in order: an append.
    if (samples.empty() || samples.back().ts < ts) {
      samples.push_back({ts, rows.values[i], seq});
      ++fresh;
      continue;
    }
    auto it = std::lower_bound(samples.begin(), samples.end(), ts, [](const Sample &s, int64_t t) { return s.ts < t; });
    if (it != samples.end() && it->ts == ts) {
      *it = {ts, rows.values[i], seq};
    } else {
      samples.insert(it, {ts, rows.values[i], seq});
      ++fresh;
    }
  }
  size_ += fresh;
  return fresh;
}

int64_t HeadIndex::drop_through_locked(int64_t seq) {
  int64_t dropped = 0;
  for (auto it = series_.begin(); it != series_.end();) {
    auto &samples = it->second;
    auto kept = std::remove_if(samples.begin(), samples.end(), [&](const Sample &s) { return s.seq <= seq; });
    dropped += samples.end() - kept;
    samples.erase(kept, samples.end());
    if (samples.empty())
      it = series_.erase(it);
    else
      ++it;
  }
  size_ -= dropped;
  return dropped;
}

void HeadIndex::read_locked(int64_t series, int64_t from, int64_t to, chunk::Samples &out) const {
  auto found = series_.find(series);
  if (found == series_.end() || from > to) return;
  const auto &samples = found->second;
  auto it = std::lower_bound(samples.begin(), samples.end(), from, [](const Sample &s, int64_t t) { return s.ts < t; });
  for (; it != samples.end() && it->ts <= to; ++it) {
    out.ts.push_back(it->ts);
    out.values.push_back(it->value);
  }
}

std::optional<std::pair<int64_t, double>> HeadIndex::newest_locked(int64_t series) const {
  auto found = series_.find(series);
  if (found == series_.end() || found->second.empty()) return std::nullopt;
  return std::pair{found->second.back().ts, found->second.back().value};
}

bool HeadIndex::holds(int64_t series) const {
  std::shared_lock lock(mutex_);
  return series_.count(series) > 0;
}

int64_t HeadIndex::size() const {
  std::shared_lock lock(mutex_);
  return size_;
}

}  // namespace vitals::sqlite
