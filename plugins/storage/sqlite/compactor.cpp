// Sealing the v3 head between commits (compactor.hpp).
#include "compactor.hpp"

#include <algorithm>

#include "tier.hpp"

namespace vitals::sqlite {

Compactor::Compactor(Database &db, HeadIndex &head, const v3::Options &options, Counters &counters)
    : db_(db), head_(head), options_(options), counters_(counters) {}

bool Compactor::due(int64_t now_ns) const {
  if (rows_.empty()) return false;
  if (head_.size() > head_limit_samples) return true;
  if (!v3::sealable(rows_.front().row.max_ts, now_ns, options_)) return false;
  return head_.size() >= seal_after_samples || std::chrono::steady_clock::now() - rows_.front().since >= seal_after;
}

std::optional<std::chrono::steady_clock::time_point> Compactor::next_due(int64_t now_ns) const {
  if (rows_.empty()) return std::nullopt;
  auto due = rows_.front().since + seal_after;
  const int64_t max_ts = rows_.front().row.max_ts;
  if (!v3::sealable(max_ts, now_ns, options_)) {
    // Its window is open: it can go once the window closes.
    const int64_t window = bucket_start(max_ts, options_.span_ns);
    const int64_t wait_ns = window - now_ns + options_.span_ns;  // the window holds now_ns: no overflow
    due = std::max(due, std::chrono::steady_clock::now() + std::chrono::nanoseconds(wait_ns) + seal_after);
  }
  return due;
}

void Compactor::run(int64_t now_ns, std::chrono::nanoseconds budget) {
  const auto deadline = std::chrono::steady_clock::now() + budget;
  while (due(now_ns)) {
    const bool over = head_.size() > head_limit_samples;
    Transaction tx(db_);
    const v3::SealStats sealed = v3::seal_into(db_, now_ns, options_, samples_per_transaction, over);
    if (sealed.head_rows == 0) break;
    int64_t dropped;
    {
      // Queries take their snapshot and copy the head under this lock's
      // shared side: they see these samples in chunks or in the head.
      auto guard = head_.seal_guard();
      tx.commit();
      dropped = head_.drop_through_locked(sealed.last_seq);
      if (on_sealed) on_sealed();
    }
    while (!rows_.empty() && rows_.front().row.seq <= sealed.last_seq) rows_.pop_front();
    counters_.samples_stored.fetch_add(sealed.stored_delta - dropped, std::memory_order_relaxed);
    counters_.head_rows_sealed.fetch_add(static_cast<uint64_t>(sealed.head_rows), std::memory_order_relaxed);
    counters_.chunks_written.fetch_add(static_cast<uint64_t>(sealed.chunks), std::memory_order_relaxed);
    if (std::chrono::steady_clock::now() >= deadline && head_.size() <= head_limit_samples) break;
  }
}

}  // namespace vitals::sqlite
