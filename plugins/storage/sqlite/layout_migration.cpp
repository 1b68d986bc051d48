// Moving v2 rows into layout v3 (layout_migration.hpp).
#include "layout_migration.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <stdexcept>

#include "compaction.hpp"
#include "rollup_codec.hpp"
#include "schema.hpp"
#include "tier.hpp"

namespace vitals::sqlite {

namespace {

// FNV-1a over every timestamp and value bit: the checksum a step compares
// between what it meant to write and what it reads back.
uint64_t checksum(const chunk::Samples &s) {
  uint64_t h = 0xcbf29ce484222325ull;
  auto mix = [&](const void *p, size_t n) {
    for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<const unsigned char *>(p)[i]) * 0x100000001b3ull;
  };
  for (size_t i = 0; i < s.ts.size(); ++i) {
    mix(&s.ts[i], sizeof s.ts[i]);
    mix(&s.values[i], sizeof s.values[i]);
  }
  return h;
}

std::string with_commas(int64_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

compaction::Bucket merged(const compaction::Bucket &a, const compaction::Bucket &b) {
  return {a.start, std::min(a.min, b.min), std::max(a.max, b.max), a.sum + b.sum, a.count + b.count};
}

}  // namespace

bool LayoutMigration::pending(Database &db) {
  for (const char *table : {"samples", "rollup_1m", "rollup_1h"})
    if (db.query_int(std::string("SELECT count(*) FROM (SELECT 1 FROM ") + table + " LIMIT 1)").value_or(0) > 0)
      return true;
  return false;
}

LayoutMigration::LayoutMigration(const Settings &settings, const v3::Options &options, Host host, Counters &counters)
    : settings_(settings), options_(options), host_(host), counters_(counters) {}

LayoutMigration::~LayoutMigration() { stop(); }

void LayoutMigration::start() {
  thread_ = std::thread([this] { run(); });
}

void LayoutMigration::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

std::string LayoutMigration::progress() const {
  const int64_t total = total_.load(), moved = moved_.load();
  const int percent = total > 0 ? static_cast<int>(100.0 * static_cast<double>(moved) / static_cast<double>(total)) : 0;
  return "moving its v2 rows into layout v3: " + std::to_string(percent) + "% (" + with_commas(moved) + " of " +
         with_commas(total) + " rows)";
}

void LayoutMigration::report(bool force) {
  auto now = std::chrono::steady_clock::now();
  if (!force && now - last_report_ < std::chrono::seconds(5)) return;
  last_report_ = now;
  host_.info(settings_.path + ": " + progress());
}

void LayoutMigration::run() {
  try {
    Database db(settings_.path, Database::Open::read_write);
    apply_pragmas(db, settings_, true);
    total_ = db.query_int("SELECT value FROM meta WHERE key = 'sample_count'").value_or(0) +
             db.query_int("SELECT count(*) FROM rollup_1m").value_or(0) +
             db.query_int("SELECT count(*) FROM rollup_1h").value_or(0);
    const auto started = std::chrono::steady_clock::now();
    report(true);
    // The writer holds the write lock from a batch to its commit, which may
    // be longer than busy_timeout: a step that finds it taken tries again.
    auto step = [&](const auto &move) {
      for (;;) {
        try {
          return move();
        } catch (const DbError &e) {
          if ((e.code() & 0xff) != SQLITE_BUSY || stop_) throw;
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
      }
    };
    while (!stop_ && step([&] { return move_rollups(db, "rollup_1h", v3::RollupTier::hour); })) report(false);
    while (!stop_ && step([&] { return move_rollups(db, "rollup_1m", v3::RollupTier::minute); })) report(false);
    while (!stop_ && step([&] { return move_samples(db); })) report(false);
    if (stop_) return;
    const auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    host_.info(settings_.path + ": layout v3 migration done: " + with_commas(moved_.load()) + " v2 rows moved in " +
               std::to_string(static_cast<int64_t>(seconds)) + " s, each chunk checked");
    done_.store(true, std::memory_order_release);
    // The v2 rows took far more room than their chunks: say what is free now.
    const int64_t free_bytes =
        db.query_int("PRAGMA freelist_count").value_or(0) * db.query_int("PRAGMA page_size").value_or(4096);
    if (free_bytes >= (64 << 20) && db.query_int("PRAGMA auto_vacuum").value_or(0) != 2)
      host_.info(settings_.path + ": " + with_commas(free_bytes >> 20) +
                 " MiB of the file is free after the migration; new data reuses it. To give it back to the file "
                 "system, stop the agent and run: sqlite3 " +
                 settings_.path + " 'PRAGMA auto_vacuum = INCREMENTAL; VACUUM'");
  } catch (const std::exception &e) {
    host_.error(settings_.path + ": layout v3 migration stopped: " + e.what() +
                "; what was not moved stays in the v2 tables, range queries stay refused, and it resumes at the "
                "next start");
  }
}

bool LayoutMigration::move_rollups(Database &db, const char *table, v3::RollupTier tier) {
  Transaction tx(db);
  auto &select = db.cached(std::string("SELECT series_id, bucket_ts, min, max, sum, count FROM ") + table +
                           " ORDER BY series_id, bucket_ts LIMIT ?1");
  std::vector<std::pair<int64_t, compaction::Bucket>> rows;
  select.bind(1, rows_per_step);
  while (select.step())
    rows.push_back({select.column_int(0),
                    {select.column_int(1), select.column_double(2), select.column_double(3), select.column_double(4),
                     select.column_int(5)}});
  select.reset();
  if (rows.empty()) return false;
  // Whole windows only: a full read may end inside one (a window holds at
  // most 120 minutes, far fewer than a step).
  auto window_of = [&](const std::pair<int64_t, compaction::Bucket> &r) {
    return std::pair{r.first, bucket_start(r.second.start, options_.span_ns)};
  };
  if (static_cast<int64_t>(rows.size()) == rows_per_step) {
    const auto last = window_of(rows.back());
    while (!rows.empty() && window_of(rows.back()) == last) rows.pop_back();
    if (rows.empty()) throw std::runtime_error(std::string(table) + ": a window holds more rows than a step");
  }
  auto &drop =
      db.cached(std::string("DELETE FROM ") + table + " WHERE series_id = ?1 AND bucket_ts >= ?2 AND bucket_ts <= ?3");
  for (size_t i = 0; i < rows.size();) {
    const auto [series, start] = window_of(rows[i]);
    std::map<int64_t, compaction::Bucket> buckets;
    size_t n = 0;
    for (; i < rows.size() && window_of(rows[i]) == std::pair{series, start}; ++i, ++n)
      buckets[rows[i].second.start] = rows[i].second;
    // Buckets sealed from new samples meanwhile are combined with the old.
    if (const auto newer = v3::stored_rollup(db, tier, series, start, options_))
      for (const auto &b : *newer) {
        auto [it, fresh] = buckets.emplace(b.start, b);
        if (!fresh) it->second = merged(it->second, b);
      }
    std::vector<compaction::Bucket> meant;
    for (const auto &[s, b] : buckets) meant.push_back(b);
    v3::put_rollup(db, tier, series, start, meant, options_);
    // Read back what was stored: the same buckets, bit for bit.
    const auto stored = v3::stored_rollup(db, tier, series, start, options_);
    const bool ok = stored && stored->size() == meant.size() &&
                    std::memcmp(stored->data(), meant.data(), meant.size() * sizeof(compaction::Bucket)) == 0;
    if (!ok) throw std::runtime_error("a rollup chunk of series " + std::to_string(series) + " did not read back");
    drop.bind(1, series).bind(2, start).bind(3, v3::window_last(start, options_)).run();
    if (db.changes() != static_cast<int64_t>(n))
      throw std::runtime_error(std::string(table) + ": deleted " + std::to_string(db.changes()) + " rows of series " +
                               std::to_string(series) + " for " + std::to_string(n) + " moved");
  }
  tx.commit();
  moved_ += static_cast<int64_t>(rows.size());
  return true;
}

bool LayoutMigration::move_samples(Database &db) {
  Transaction tx(db);
  const auto series = db.query_int("SELECT series_id FROM samples ORDER BY series_id LIMIT 1");
  if (!series) return false;
  chunk::Samples rows;
  auto read = [&](Statement &s) {
    while (s.step()) {
      rows.ts.push_back(s.column_int(0));
      rows.values.push_back(s.column_is_null(1) ? NAN : s.column_double(1));
    }
    s.reset();
  };
  auto &first = db.cached("SELECT ts, value FROM samples WHERE series_id = ?1 ORDER BY ts LIMIT ?2");
  first.bind(1, *series).bind(2, rows_per_step);
  read(first);
  if (static_cast<int64_t>(rows.ts.size()) == rows_per_step) {
    // Whole windows only: up to the last one begun, or all of a window
    // that alone holds more than a step.
    const int64_t last = bucket_start(rows.ts.back(), options_.span_ns);
    const int64_t head = bucket_start(rows.ts.front(), options_.span_ns);
    if (last > head) {
      const auto keep = static_cast<size_t>(std::lower_bound(rows.ts.begin(), rows.ts.end(), last) - rows.ts.begin());
      rows.ts.resize(keep);
      rows.values.resize(keep);
    } else {
      rows = {};
      auto &window =
          db.cached("SELECT ts, value FROM samples WHERE series_id = ?1 AND ts >= ?2 AND ts <= ?3 ORDER BY ts");
      window.bind(1, *series).bind(2, head).bind(3, v3::window_last(head, options_));
      read(window);
    }
  }
  // A window's chunk, finalized from what was sealed from the head meanwhile.
  auto &sealed = db.cached("SELECT id, start, data, merged_seal FROM chunks WHERE start = ?1 AND series = ?2");
  auto &drop_chunk = db.cached("DELETE FROM chunks WHERE id = ?1");
  auto &written = db.cached("SELECT data FROM chunks WHERE start = ?1 AND series = ?2");
  int64_t stored_delta = 0;
  for (const auto &[start, older] : compaction::split(rows, options_.span_ns)) {
    chunk::Samples newer;
    sealed.bind(1, start).bind(2, *series);
    std::vector<int64_t> ids;
    int64_t merged = 0;  // the partial chunks it holds stay held
    while (sealed.step()) {
      const chunk::Samples part = v3::decode_chunk(sealed.column_blob(2), *series, sealed.column_int(1));
      newer.ts.insert(newer.ts.end(), part.ts.begin(), part.ts.end());
      newer.values.insert(newer.values.end(), part.values.begin(), part.values.end());
      ids.push_back(sealed.column_int(0));
      merged = std::max(merged, sealed.column_int(3));
    }
    sealed.reset();
    for (int64_t id : ids) drop_chunk.bind(1, id).run();
    // Samples sealed from the head meanwhile are newer than any v2 row
    // (partial chunks not finalized yet are laid over this one when read,
    // and go into it when finalized).
    const chunk::Samples meant = ids.empty() ? older : compaction::overlay(older, newer);
    v3::write_chunk(db, *series, start, meant, options_, merged);
    // Finalizing replaced the window's rollups moved with the v2 ones by
    // the sealed samples' alone: they are written again from all of them.
    if (!ids.empty()) v3::write_rollups(db, *series, start, meant, options_);
    stored_delta += static_cast<int64_t>(meant.ts.size() - newer.ts.size());
    written.bind(1, start).bind(2, *series);
    const bool ok = written.step() && [&] {
      const chunk::Samples back = v3::decode_chunk(written.column_blob(0), *series, start);
      return back.ts.size() == meant.ts.size() && checksum(back) == checksum(meant);
    }();
    written.reset();
    if (!ok)
      throw std::runtime_error("the chunk of series " + std::to_string(*series) + " at " + std::to_string(start) +
                               " did not read back with its checksum");
  }
  auto &drop = db.cached("DELETE FROM samples WHERE series_id = ?1 AND ts >= ?2 AND ts <= ?3");
  drop.bind(1, *series).bind(2, rows.ts.front()).bind(3, rows.ts.back()).run();
  const auto moved = static_cast<int64_t>(rows.ts.size());
  if (db.changes() != moved)
    throw std::runtime_error("samples: deleted " + std::to_string(db.changes()) + " rows of series " +
                             std::to_string(*series) + " for " + std::to_string(moved) + " moved");
  auto &count = db.cached("UPDATE meta SET value = value - ?1 WHERE key = 'sample_count'");
  count.bind(1, moved).run();
  tx.commit();
  counters_.samples_stored.fetch_add(stored_delta - moved, std::memory_order_relaxed);
  moved_ += moved;
  return true;
}

}  // namespace vitals::sqlite
