// Sealing the v3 head between commits (compactor.hpp).
#include "compactor.hpp"

#include <algorithm>
#include <limits>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "tier.hpp"

namespace vitals::sqlite {

namespace {

// A window that could not be finalized is tried again this much later.
constexpr int64_t kFinalizeRetryNs = 60'000'000'000;

// When a pending window may be finalized at the earliest: once it has
// ended (its chunk then takes no more in-order writes), and `quiet_until`.
// A window further ahead than future_ns (a device whose clock is wrong)
// does not wait for its end: its partial chunks, and the seals holding
// them, would pile up until then.
int64_t ready_at(v3::Window window, int64_t now_ns, int64_t quiet_until, const v3::Options &options) {
  const int64_t last = v3::window_last(window.start, options);
  const int64_t end = last == std::numeric_limits<int64_t>::max() ? last : last + 1;
  const int64_t too_far = now_ns > std::numeric_limits<int64_t>::max() - options.future_ns
                              ? std::numeric_limits<int64_t>::max()
                              : now_ns + options.future_ns;
  return end > too_far ? quiet_until : std::max(end, quiet_until);
}

}  // namespace

Compactor::Compactor(Database &db, HeadIndex &head, const v3::Options &options, Counters &counters)
    : db_(db), head_(head), options_(options), counters_(counters) {}

bool Compactor::due(int64_t now_ns) const {
  if (rows_.empty()) return false;
  if (head_.size() > head_limit_samples) return true;
  if (!v3::sealable(rows_.front().row.max_ts, now_ns, options_)) return false;
  return head_.size() >= seal_after_samples || std::chrono::steady_clock::now() - rows_.front().since >= seal_after;
}

void Compactor::count_pages(std::atomic<uint64_t> &counter, int64_t pages_before) {
  const int64_t pages = db_.pages_written();
  counter.fetch_add(static_cast<uint64_t>(pages - pages_before), std::memory_order_relaxed);
  counters_.pages_written = static_cast<uint64_t>(pages);
}

void Compactor::queue_pending(v3::Window window, int64_t ready_ns) {
  pending_.queue(window, ready_ns);
  counters_.windows_pending.store(pending_.size(), std::memory_order_relaxed);
}

void Compactor::track_pending(v3::Window window, int64_t now_ns) {
  queue_pending(window, ready_at(window, now_ns, now_ns, options_));
}

std::optional<std::chrono::steady_clock::time_point> Compactor::next_due(int64_t now_ns) const {
  if (gather_due_ns_ <= now_ns) return std::chrono::steady_clock::now();
  // Wall times from now_ns on the steady clock, at most a day ahead (the
  // timer asks again when it fires; a wall clock stepped far back must not
  // overflow the steady one).
  auto at_wall = [&](int64_t wall_ns) {
    const uint64_t ahead = wall_ns <= now_ns ? 0 : static_cast<uint64_t>(wall_ns) - static_cast<uint64_t>(now_ns);
    const auto wait_ns = static_cast<int64_t>(std::min<uint64_t>(ahead, v3::kDayNs));
    return std::chrono::steady_clock::now() + std::chrono::nanoseconds(wait_ns);
  };
  auto gathering_or_finalizing = at_wall(gather_due_ns_);
  if (auto ready = pending_.next_ready_ns())
    gathering_or_finalizing = std::min(gathering_or_finalizing, at_wall(*ready));
  if (rows_.empty()) return gathering_or_finalizing;
  auto due = rows_.front().since + seal_after;
  const int64_t max_ts = rows_.front().row.max_ts;
  if (!v3::sealable(max_ts, now_ns, options_)) {
    // Its window is open: it can go once the window closes.
    const int64_t window = bucket_start(max_ts, options_.span_ns);
    const int64_t wait_ns = window - now_ns + options_.span_ns;  // the window holds now_ns: no overflow
    due = std::max(due, std::chrono::steady_clock::now() + std::chrono::nanoseconds(wait_ns) + seal_after);
  }
  return std::min(due, gathering_or_finalizing);
}

bool Compactor::run(int64_t now_ns, std::chrono::nanoseconds budget) {
  const auto deadline = std::chrono::steady_clock::now() + budget;
  bool worked = false;
  while (due(now_ns)) {
    const bool over = head_.size() > head_limit_samples;
    const int64_t pages_before = db_.pages_written();
    Transaction tx(db_);
    const v3::SealStats sealed = v3::seal_into(db_, now_ns, options_, samples_per_transaction, over);
    if (sealed.head_rows == 0) break;
    worked = true;
    int64_t dropped;
    {
      // Queries take their snapshot and copy the head under this lock's
      // shared side: they see these samples in chunks or in the head.
      auto guard = head_.seal_guard();
      tx.commit();
      count_pages(counters_.pages_written_sealing, pages_before);
      dropped = head_.drop_through_locked(sealed.last_seq);
      if (on_sealed) on_sealed();
    }
    while (!rows_.empty() && rows_.front().row.seq <= sealed.last_seq) rows_.pop_front();
    counters_.samples_stored.fetch_add(sealed.stored_delta - dropped, std::memory_order_relaxed);
    counters_.head_rows_sealed.fetch_add(static_cast<uint64_t>(sealed.head_rows), std::memory_order_relaxed);
    counters_.chunks_written.fetch_add(static_cast<uint64_t>(sealed.chunks), std::memory_order_relaxed);
    if (!sealed.pending.empty()) unmerged_[sealed.seal] += static_cast<int64_t>(sealed.pending.size());
    // A window is finalized once it has ended and seal_after passed
    // without a write to it.
    const int64_t quiet_until = now_ns + std::chrono::duration_cast<std::chrono::nanoseconds>(seal_after).count();
    for (const v3::Window &w : sealed.pending) queue_pending(w, ready_at(w, now_ns, quiet_until, options_));
    if (std::chrono::steady_clock::now() >= deadline && head_.size() <= head_limit_samples) return worked;
  }
  worked = finalize_ready(now_ns, deadline) || worked;
  return (gather_due_ns_ <= now_ns && gather_days(now_ns, deadline)) || worked;
}

bool Compactor::gather_days(int64_t now_ns, std::chrono::steady_clock::time_point deadline) {
  // Days that ended on the wall clock; one with a pending window waits for
  // it (its finalizing writes that window's row again). A late write
  // finalized after its day was gathered makes the day gathered again.
  const int64_t before = v3::day_of(now_ns);
  // A failed day waits from the start of this pass: the timer set for
  // now_ns plus the wait then finds it due, not a moment short.
  const auto started = std::chrono::steady_clock::now();
  bool worked = false;
  std::string error;
  std::set<int64_t> seen;
  std::optional<int64_t> day = v3::next_day_to_gather(db_, std::numeric_limits<int64_t>::min(), before);
  while (day && std::chrono::steady_clock::now() < deadline) {
    const int64_t last = v3::day_last(*day);
    seen.insert(*day);
    auto failed = gather_failed_.find(*day);
    const bool waiting = failed != gather_failed_.end() && started < failed->second;
    if (!waiting && !pending_.any_starting(*day, last)) {
      std::optional<int64_t> next_series = std::numeric_limits<int64_t>::min();
      while (next_series && std::chrono::steady_clock::now() < deadline) {
        const int64_t pages_before = db_.pages_written();
        Transaction tx(db_);
        try {
          next_series = v3::compact_day(db_, *day, *next_series, series_per_gathering, options_);
        } catch (const std::exception &e) {
          // The day waits (rolled back); the others go on.
          if (error.empty()) error = "gathering the hourly rollups of day " + std::to_string(*day) + ": " + e.what();
          gather_failed_[*day] = started + std::chrono::nanoseconds(kFinalizeRetryNs);
          next_series.reset();
          break;
        }
        tx.commit();
        // Counted with finalizing, whose rows it rewrites.
        count_pages(counters_.pages_written_finalizing, pages_before);
        gather_failed_.erase(*day);
        worked = true;
      }
      if (next_series) break;  // out of time: the rest of the day next turn
    }
    day = last == std::numeric_limits<int64_t>::max() ? std::nullopt : v3::next_day_to_gather(db_, last + 1, before);
  }
  if (!day) {
    // A failed day no longer there (retention) waits no more.
    std::erase_if(gather_failed_, [&](const auto &failed) { return !seen.count(failed.first); });
    // None left but those a pending window holds (its finalizing makes
    // gathering due again) and those that failed (due again when their
    // minute is up): the next day to end is due when it does.
    gather_due_ns_ = before > std::numeric_limits<int64_t>::max() - v3::kDayNs ? std::numeric_limits<int64_t>::max()
                                                                               : before + v3::kDayNs;
    if (!gather_failed_.empty() && now_ns < gather_due_ns_ - kFinalizeRetryNs)
      gather_due_ns_ = now_ns + kFinalizeRetryNs;
  }
  if (!error.empty()) throw std::runtime_error(error + " (tried again a minute later at the earliest)");
  return worked;
}

bool Compactor::finalize_ready(int64_t now_ns, std::chrono::steady_clock::time_point deadline) {
  bool worked = false;
  while (std::chrono::steady_clock::now() < deadline) {
    const std::vector<v3::Window> ready = pending_.ready(now_ns, 4096);
    if (ready.empty()) break;
    worked = true;
    const int64_t pages_before = db_.pages_written();
    Transaction tx(db_);
    size_t done = 0;
    std::vector<v3::Window> failed;
    std::map<int64_t, int64_t> merged;  // partial chunks merged, per seal
    int64_t stored_delta = 0;
    std::string error;
    for (int64_t samples = 0; done < ready.size() && samples < samples_per_transaction; ++done) {
      // Each window on its own: one that cannot be finalized (a corrupt
      // chunk, a full disk) stays as it is and is tried again later, while
      // the others go on.
      db_.exec("SAVEPOINT finalize");
      try {
        const v3::Finalized f = v3::finalize(db_, ready[done], options_);
        db_.exec("RELEASE finalize");
        samples += f.samples;
        stored_delta += f.stored_delta;
        for (int64_t seal : f.seals) ++merged[seal];
      } catch (const std::exception &e) {
        db_.exec("ROLLBACK TO finalize");
        db_.exec("RELEASE finalize");
        if (failed.empty()) error = e.what();
        failed.push_back(ready[done]);
      }
    }
    // Seals whose partial chunks are all merged now go whole.
    std::vector<int64_t> retired;
    for (const auto &[seal, n] : merged)
      if (auto it = unmerged_.find(seal); it == unmerged_.end() || it->second <= n) {
        // Refused only if the count went wrong: the seal stays, counted
        // afresh at the next open.
        if (v3::retire_seal(db_, seal)) retired.push_back(seal);
      }
    tx.commit();
    if (on_rollups_stored) on_rollups_stored();
    count_pages(counters_.pages_written_finalizing, pages_before);
    for (const auto &[seal, n] : merged)
      if (auto it = unmerged_.find(seal); it != unmerged_.end()) it->second -= n;
    for (int64_t seal : retired) unmerged_.erase(seal);
    counters_.samples_stored.fetch_add(stored_delta, std::memory_order_relaxed);
    for (size_t i = 0; i < done; ++i) pending_.finalized(ready[i]);
    if (done > failed.size()) gather_due_ns_ = std::numeric_limits<int64_t>::min();
    for (const v3::Window &w : failed) queue_pending(w, now_ns + kFinalizeRetryNs);
    counters_.windows_pending.store(pending_.size(), std::memory_order_relaxed);
    counters_.windows_finalized.fetch_add(done - failed.size(), std::memory_order_relaxed);
    if (!failed.empty())
      throw std::runtime_error("finalizing " + std::to_string(failed.size()) +
                               " window(s) failed, tried again in a minute; the first: " + error);
  }
  return worked;
}

}  // namespace vitals::sqlite
