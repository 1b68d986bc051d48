// Checks the sqlite plugin's config values and resolves the database path.
#include "config.hpp"

#include <filesystem>
#include <limits>
#include <stdexcept>

namespace vitals::sqlite {

namespace {

std::string one_of(const Config &config, const char *key, std::initializer_list<const char *> allowed) {
  std::string value = config.string(key);
  std::string list;
  for (const char *a : allowed) {
    if (value == a) return value;
    list += (list.empty() ? "\"" : ", \"") + std::string(a) + "\"";
  }
  throw std::invalid_argument(std::string(key) + ": must be one of " + list + " (got \"" + value + "\")");
}

}  // namespace

int64_t Settings::hourly_retention_ns() const {
  if (rollup_retention_ns > std::numeric_limits<int64_t>::max() / hourly_retention_factor)
    return std::numeric_limits<int64_t>::max();
  return rollup_retention_ns * hourly_retention_factor;
}

Settings parse_settings(const Config &config, const std::string &data_dir) {
  Settings s;
  std::filesystem::path path = config.string("path");
  if (path.empty()) throw std::invalid_argument("path: must not be empty");
  if (path.is_relative()) path = std::filesystem::path(data_dir) / path;
  s.path = path.lexically_normal().string();

  s.retention_ns = config.duration_ns("retention");
  s.rollup_retention_ns = config.duration_ns("rollup_retention");
  if (s.retention_ns <= 0) throw std::invalid_argument("retention: must be longer than 0");
  if (s.rollup_retention_ns < s.retention_ns)
    throw std::invalid_argument(
        "rollup_retention: must be at least retention (rollups answer what raw data no longer can)");

  s.max_batch_samples = config.integer("max_batch_samples");
  if (s.max_batch_samples < 1 || s.max_batch_samples > 10'000'000)
    throw std::invalid_argument("max_batch_samples: must be between 1 and 10000000 (got " +
                                std::to_string(s.max_batch_samples) + ")");
  s.flush_interval_ns = config.duration_ns("flush_interval");
  s.synchronous = one_of(config, "synchronous", {"normal", "full"});
  s.journal_mode = one_of(config, "journal_mode", {"wal", "delete", "truncate", "persist"});
  s.cache_size_bytes = config.size_bytes("cache_size");
  s.mmap_size_bytes = config.size_bytes("mmap_size");
  s.wal_autocheckpoint_pages = config.integer("wal_autocheckpoint");
  if (s.wal_autocheckpoint_pages < 0 || s.wal_autocheckpoint_pages > 1'000'000)
    throw std::invalid_argument("wal_autocheckpoint: must be between 0 and 1000000 pages");
  s.temp_store = one_of(config, "temp_store", {"memory", "file", "default"});
  s.busy_timeout_ns = config.duration_ns("busy_timeout");
  if (s.busy_timeout_ns / 1'000'000 > std::numeric_limits<int>::max())
    throw std::invalid_argument("busy_timeout: too long");
  s.query_cache_entries = config.integer("query_cache_entries");
  if (s.query_cache_entries < 0 || s.query_cache_entries > 1'000'000)
    throw std::invalid_argument("query_cache_entries: must be between 0 and 1000000");
  s.maintenance_interval_ns = config.duration_ns("maintenance_interval");
  s.read_only = config.boolean("read_only");
  return s;
}

}  // namespace vitals::sqlite
