// The v3 compactor: seals head rows into chunks (v3_store.hpp) on the
// writer thread between commits, in transactions of a bounded number of
// samples and within a time budget, so that a backlog (a restart after a
// long stop, a bulk import of old data) never stalls writes for long nor
// holds much in memory.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>

#include "counters.hpp"
#include "db.hpp"
#include "head_index.hpp"
#include "v3_store.hpp"

namespace vitals::sqlite {

class Compactor {
 public:
  Compactor(Database &db, HeadIndex &head, const v3::Options &options, Counters &counters);

  // A head row committed (or found at open), in seq order.
  void track(v3::HeadRow row) { rows_.push_back(row); }
  // Whether the oldest head row can be sealed at now_ns.
  bool due(int64_t now_ns) const;
  // Seals while due, until `budget` is spent. Not inside a transaction.
  void run(int64_t now_ns, std::chrono::nanoseconds budget);

  // Samples gathered per sealing transaction; exposed for tests.
  int64_t samples_per_transaction = 500'000;

 private:
  Database &db_;
  HeadIndex &head_;
  const v3::Options &options_;
  Counters &counters_;
  std::deque<v3::HeadRow> rows_;  // in the head table, oldest first
};

}  // namespace vitals::sqlite
