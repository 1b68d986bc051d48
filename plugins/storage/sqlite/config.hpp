// The sqlite plugin's settings: the config schema rows and their checked values.
#pragma once

#include <cstdint>
#include <string>

#include "vitals/plugin.hpp"

namespace vitals::sqlite {

// The allowed values of the string keys; the host refuses others.
inline constexpr const char *kSynchronous[] = {"normal", "full", nullptr};
inline constexpr const char *kJournalModes[] = {"wal", "delete", "truncate", "persist", nullptr};
inline constexpr const char *kTempStores[] = {"memory", "file", "default", nullptr};

// Bounds and choices live in these rows: `vitals check` enforces them with
// file:line; parse_settings() checks only what spans keys.
inline constexpr vitals_config_field_t config_fields[] = {
    vitals::config_field("path", VITALS_CONFIG_STRING, 0, "\"metrics.db\"",
                         "database file; relative paths are under the data directory"),
    vitals::config_field("retention", VITALS_CONFIG_DURATION, 0, "\"30d\"", "how long raw samples are kept", "\"1ns\""),
    vitals::config_field("rollup_retention", VITALS_CONFIG_DURATION, 0, "\"365d\"",
                         "how long 1-minute rollups (and events) are kept; hourly rollups are kept 5 times longer"),
    vitals::config_field("max_batch_samples", VITALS_CONFIG_INT, 0, "50000",
                         "commit once an open transaction holds this many samples", "1", "10000000"),
    vitals::config_field("flush_interval", VITALS_CONFIG_DURATION, 0, "\"1s\"",
                         "commit once an open transaction is this old"),
    vitals::config_field(
        "synchronous", VITALS_CONFIG_STRING, 0, "\"full\"",
        "\"full\" (every commit is on disk before its batches are acknowledged: survives a power cut) or "
        "\"normal\" (WAL: survives a crash of the agent, not a power cut; never corrupts)",
        nullptr, nullptr, kSynchronous),
    vitals::config_field("journal_mode", VITALS_CONFIG_STRING, 0, "\"wal\"",
                         "\"wal\", \"delete\", \"truncate\" or \"persist\"", nullptr, nullptr, kJournalModes),
    vitals::config_field("cache_size", VITALS_CONFIG_SIZE, 0, "\"16MiB\"", "page cache of each of the two connections"),
    vitals::config_field(
        "mmap_size", VITALS_CONFIG_SIZE, 0, "0",
        "bytes of the file read through mmap; 0 (default) reads with pread, keeping the agent's resident memory small"),
    vitals::config_field(
        "wal_autocheckpoint", VITALS_CONFIG_INT, 0, "10000",
        "WAL pages (4 KiB each) from which a background checkpoint folds the WAL into the file; 0 means 1000", "0",
        "1000000"),
    vitals::config_field("temp_store", VITALS_CONFIG_STRING, 0, "\"memory\"", "\"memory\", \"file\" or \"default\"",
                         nullptr, nullptr, kTempStores),
    vitals::config_field("busy_timeout", VITALS_CONFIG_DURATION, 0, "\"5s\"",
                         "how long to wait for a lock held by another process", nullptr, "\"24d\""),
    vitals::config_field("query_cache_entries", VITALS_CONFIG_INT, 0, "256",
                         "query results of closed time ranges kept; 0 disables", "0", "1000000"),
    vitals::config_field(
        "read_only", VITALS_CONFIG_BOOL, 0, "false",
        "only answer queries (e.g. vitals query --db); the file is never written and batches are refused"),
    vitals::config_field("maintenance_interval", VITALS_CONFIG_DURATION, 0, "\"1m\"",
                         "how often retention runs (between commits)"),
};

struct Settings {
  std::string path;  // absolute
  int64_t retention_ns = 0;
  int64_t rollup_retention_ns = 0;  // 1m tier and events; the 1h tier keeps 5x this
  int64_t max_batch_samples = 0;
  int64_t flush_interval_ns = 0;
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

  int64_t hourly_retention_ns() const;
};

// How many times longer the 1h tier lives than the 1m tier.
inline constexpr int64_t hourly_retention_factor = 5;

// The values (the host already checked types, bounds and choices) and what
// spans keys; throws std::invalid_argument naming the key.
Settings parse_settings(const Config &config, const std::string &data_dir);

}  // namespace vitals::sqlite
