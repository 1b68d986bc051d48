// The sqlite plugin's settings: the config keys as declared and the values the plugin works with.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "vitals/plugin.hpp"
#include "vitals/settings.hpp"

namespace vitals::sqlite {

// The allowed values of the string keys; the host refuses others.
inline constexpr const char *kSynchronous[] = {"normal", "full", nullptr};
inline constexpr const char *kJournalModes[] = {"wal", "delete", "truncate", "persist", nullptr};
inline constexpr const char *kTempStores[] = {"memory", "file", "default", nullptr};
inline constexpr const char *kLayouts[] = {"v2", "v3", nullptr};

// The keys as the user writes them, each declared once with its default,
// bounds and choices: `vitals check` enforces those with file:line, so
// parse_settings() checks only what spans keys.
struct Options {
  std::string path;
  std::chrono::nanoseconds retention{}, rollup_retention{}, flush_interval{}, commit_interval{}, busy_timeout{},
      maintenance_interval{}, seal_after{};
  int64_t max_batch_samples = 0, wal_autocheckpoint = 0, query_cache_entries = 0;
  std::string synchronous, journal_mode, temp_store, layout;
  ByteSize cache_size, mmap_size;
  bool read_only = false;
};

inline constexpr auto schema = vitals::settings<Options>(
    vitals::key("path", &Options::path, "\"metrics.db\"", "database file; relative paths are under the data directory"),
    vitals::key("retention", &Options::retention, "\"30d\"", "how long raw samples are kept",
                vitals::at_least("\"1ns\"")),
    vitals::key("rollup_retention", &Options::rollup_retention, "\"365d\"",
                "how long 1-minute rollups (and events) are kept; hourly rollups are kept 5 times longer"),
    vitals::key("max_batch_samples", &Options::max_batch_samples, "50000",
                "commit once an open transaction holds this many samples", vitals::between("1", "10000000")),
    vitals::key("flush_interval", &Options::flush_interval, "\"1s\"", "commit once an open transaction is this old"),
    vitals::key("commit_interval", &Options::commit_interval, "\"0s\"",
                "the least time between commits: batches arriving within it share one commit (one fsync, the same "
                "pages written once) and each is acknowledged at most this much later; 0 commits as soon as the "
                "queue runs empty",
                vitals::at_most("\"1m\"")),
    vitals::key("synchronous", &Options::synchronous, "\"full\"",
                "\"full\" (every commit is on disk before its batches are acknowledged: survives a power cut) or "
                "\"normal\" (WAL: survives a crash of the agent, not a power cut; never corrupts)",
                vitals::one_of(kSynchronous)),
    vitals::key("journal_mode", &Options::journal_mode, "\"wal\"", "\"wal\", \"delete\", \"truncate\" or \"persist\"",
                vitals::one_of(kJournalModes)),
    vitals::key("cache_size", &Options::cache_size, "\"16MiB\"", "page cache of each of the two connections"),
    vitals::key(
        "mmap_size", &Options::mmap_size, "0",
        "bytes of the file read through mmap; 0 (default) reads with pread, keeping the agent's resident memory small"),
    vitals::key("wal_autocheckpoint", &Options::wal_autocheckpoint, "10000",
                "WAL pages (4 KiB each) from which a background checkpoint folds the WAL into the file; 0 means 1000",
                vitals::between("0", "1000000")),
    vitals::key("temp_store", &Options::temp_store, "\"memory\"", "\"memory\", \"file\" or \"default\"",
                vitals::one_of(kTempStores)),
    // SQLite takes the busy timeout as int milliseconds: 24d fits.
    vitals::key("busy_timeout", &Options::busy_timeout, "\"5s\"", "how long to wait for a lock held by another process",
                vitals::at_most("\"24d\"")),
    vitals::key("query_cache_entries", &Options::query_cache_entries, "256",
                "query results of closed time ranges kept; 0 disables", vitals::between("0", "1000000")),
    vitals::key("read_only", &Options::read_only, "false",
                "only answer queries (e.g. vitals query --db); the file is never written and batches are refused"),
    vitals::key("maintenance_interval", &Options::maintenance_interval, "\"1m\"",
                "how often retention runs (between commits)"),
    vitals::key("layout", &Options::layout, "\"v3\"",
                "how samples are stored: \"v3\" (compressed chunks; a v2 file moves its rows to it on open) or "
                "\"v2\" (a row per sample: a new file so, or a v2 file kept as it is); a v3 file stays v3",
                vitals::one_of(kLayouts)),
    vitals::key(
        "seal_after", &Options::seal_after, "\"30s\"",
        "layout v3: how long samples that could be sealed into chunks wait in the head for more to seal "
        "with them, and how long an ended window goes without writes before its chunks become one with "
        "its rollups; 0 seals and finalizes at once (a late write then rewrites its window's chunk at every seal)",
        vitals::at_most("\"1h\"")));

// What the rest of the plugin uses, derived from Options: the path made
// absolute, durations and sizes as plain integers.
struct Settings {
  std::string path;  // absolute
  int64_t retention_ns = 0;
  int64_t rollup_retention_ns = 0;  // 1m tier and events; the 1h tier keeps 5x this
  int64_t max_batch_samples = 0;
  int64_t flush_interval_ns = 0;
  int64_t commit_interval_ns = 0;
  std::string synchronous;
  std::string journal_mode;
  uint64_t cache_size_bytes = 0;
  uint64_t mmap_size_bytes = 0;
  int64_t wal_autocheckpoint_pages = 0;
  std::string temp_store;
  int64_t busy_timeout_ns = 0;
  int64_t query_cache_entries = 0;
  int64_t maintenance_interval_ns = 0;
  bool read_only = false;
  std::string layout;  // for a new file; an existing one keeps its own
  int64_t seal_after_ns = 0;

  int64_t hourly_retention_ns() const;
};

// How many times longer the 1h tier lives than the 1m tier.
inline constexpr int64_t hourly_retention_factor = 5;

// The values (the host already checked types, bounds and choices) and what
// spans keys; throws std::invalid_argument naming the key.
Settings parse_settings(const Config &config, const std::string &data_dir);

}  // namespace vitals::sqlite
