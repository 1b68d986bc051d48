// The v3 head in memory (head_index.hpp).
#include "head_index.hpp"

#include <algorithm>

namespace vitals::sqlite {

namespace {

// Late samples are merged in once there are more than the square root of
// (sorted + this): a late write then costs a scan of that many and its share
// of a merge, each about the square root of the series' samples, where an
// insertion moved every sample after it.
constexpr size_t kLateFloor = 16;

bool by_ts(const auto &a, const auto &b) { return a.ts < b.ts; }

// Room for `needed` samples, growing by a quarter rather than doubling: with
// 10,000 series of about a hundred head samples each, doubling left a third
// of the head's memory unused on average (bench/ingest's peak RSS), while a
// quarter costs a few more copies of a small vector.
template <typename Sample>
void reserve_for(std::vector<Sample> &v, size_t needed) {
  if (needed > v.capacity()) v.reserve(std::max(needed, v.capacity() + v.capacity() / 4 + 8));
}

}  // namespace

void HeadIndex::Series::merge_late() {
  if (late.empty()) return;
  std::sort(late.begin(), late.end(), by_ts<Sample, Sample>);
  // In place, from the back: no second vector.
  size_t i = sorted.size(), j = late.size(), k = i + j;
  reserve_for(sorted, k);
  sorted.resize(k);
  while (j > 0) sorted[--k] = i > 0 && sorted[i - 1].ts > late[j - 1].ts ? sorted[--i] : late[--j];
  // Its memory goes too: kept by each of 10,000 series, it raised the
  // peak RSS of interleaved writers by 10 MB (bench/ingest).
  std::vector<Sample>().swap(late);
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
      reserve_for(s.sorted, s.sorted.size() + 1);
      s.sorted.push_back(sample);
      ++fresh;
      continue;
    }
    auto it = std::lower_bound(s.sorted.begin(), s.sorted.end(), sample, by_ts<Sample, Sample>);
    if (it != s.sorted.end() && it->ts == sample.ts) {
      *it = sample;
      continue;
    }
    auto held = std::find_if(s.late.begin(), s.late.end(), [&](const Sample &x) { return x.ts == sample.ts; });
    if (held != s.late.end()) {
      *held = sample;
      continue;
    }
    s.late.push_back(sample);
    ++fresh;
    if (s.late.size() * s.late.size() > s.sorted.size() + kLateFloor) s.merge_late();
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
    if (s.sorted.empty()) {
      it = series_.erase(it);
      continue;
    }
    // A seal took most of it: the room it left goes (the series grows
    // again from what it holds).
    if (s.sorted.capacity() > 2 * s.sorted.size() + 16) s.sorted.shrink_to_fit();
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
  std::sort(late.begin(), late.end(), by_ts<Sample, Sample>);
  // Two sorted runs with no timestamp in both.
  const size_t n = static_cast<size_t>(end - it) + late.size();
  out.ts.reserve(out.ts.size() + n);
  out.values.reserve(out.values.size() + n);
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
