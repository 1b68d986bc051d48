// The v3 head in memory (head_index.hpp).
#include "head_index.hpp"

#include <algorithm>

namespace vitals::sqlite {

namespace {

// Late samples are merged in once they are this many, or a sixteenth of the
// sorted ones: each merge moves every sample once, so a sample costs a
// constant share of moves however late the writes come.
constexpr size_t kLateMerge = 64;

bool by_ts(const auto &a, const auto &b) { return a.ts < b.ts; }

// Sorted by timestamp, one per timestamp, the last in `arrivals` (arrival
// order) winning.
template <typename Sample>
void sort_keeping_last(std::vector<Sample> &arrivals) {
  std::stable_sort(arrivals.begin(), arrivals.end(), by_ts<Sample, Sample>);
  // Of equal timestamps keep the last: walk back, keep each first met.
  size_t out = arrivals.size();
  for (size_t i = arrivals.size(); i-- > 0;)
    if (out == arrivals.size() || arrivals[out].ts != arrivals[i].ts) arrivals[--out] = arrivals[i];
  arrivals.erase(arrivals.begin(), arrivals.begin() + static_cast<std::ptrdiff_t>(out));
}

}  // namespace

void HeadIndex::Series::merge_late() {
  if (late.empty()) return;
  sort_keeping_last(late);
  std::vector<Sample> all;
  all.reserve(sorted.size() + late.size());
  std::merge(sorted.begin(), sorted.end(), late.begin(), late.end(), std::back_inserter(all), by_ts<Sample, Sample>);
  sorted = std::move(all);
  late.clear();
  late_ts.clear();
}

int64_t HeadIndex::add(const head::Rows &rows, int64_t seq) {
  std::unique_lock lock(mutex_);
  return add_locked(rows, seq);
}

int64_t HeadIndex::add_locked(const head::Rows &rows, int64_t seq) {
  int64_t fresh = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    Series &s = series_[rows.series[i]];
    const Sample sample{rows.ts[i], rows.values[i], seq};
    // Most writes are in order: an append (late samples are all earlier).
    if (s.sorted.empty() || s.sorted.back().ts < sample.ts) {
      s.sorted.push_back(sample);
      ++fresh;
      continue;
    }
    auto it = std::lower_bound(s.sorted.begin(), s.sorted.end(), sample, by_ts<Sample, Sample>);
    if (it != s.sorted.end() && it->ts == sample.ts) {
      *it = sample;
      continue;
    }
    if (s.late_ts.insert(sample.ts).second) ++fresh;
    s.late.push_back(sample);
    if (s.late.size() > kLateMerge + s.sorted.size() / 16) s.merge_late();
  }
  size_ += fresh;
  return fresh;
}

int64_t HeadIndex::drop_through_locked(int64_t seq) {
  int64_t dropped = 0;
  for (auto it = series_.begin(); it != series_.end();) {
    Series &s = it->second;
    // Merged first: what is left keeps every late sample before the newest.
    s.merge_late();
    auto kept = std::remove_if(s.sorted.begin(), s.sorted.end(), [&](const Sample &x) { return x.seq <= seq; });
    dropped += s.sorted.end() - kept;
    s.sorted.erase(kept, s.sorted.end());
    if (s.sorted.empty())
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
  const Series &s = found->second;
  auto it =
      std::lower_bound(s.sorted.begin(), s.sorted.end(), from, [](const Sample &x, int64_t t) { return x.ts < t; });
  auto end = std::upper_bound(it, s.sorted.end(), to, [](int64_t t, const Sample &x) { return t < x.ts; });
  std::vector<Sample> late;
  for (const Sample &x : s.late)
    if (x.ts >= from && x.ts <= to) late.push_back(x);
  sort_keeping_last(late);
  // Two sorted runs with no timestamp in both.
  auto l = late.begin();
  auto put = [&](const Sample &x) {
    out.ts.push_back(x.ts);
    out.values.push_back(x.value);
  };
  for (; it != end; ++it) {
    for (; l != late.end() && l->ts < it->ts; ++l) put(*l);
    put(*it);
  }
  for (; l != late.end(); ++l) put(*l);
}

std::optional<std::pair<int64_t, double>> HeadIndex::newest_locked(int64_t series) const {
  auto found = series_.find(series);
  if (found == series_.end() || found->second.sorted.empty()) return std::nullopt;
  return std::pair{found->second.sorted.back().ts, found->second.sorted.back().value};
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
