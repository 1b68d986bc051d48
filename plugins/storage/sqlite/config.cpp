// Checks the sqlite plugin's config values and resolves the database path.
#include "config.hpp"

#include <filesystem>
#include <limits>
#include <stdexcept>

namespace vitals::sqlite {

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
  if (s.rollup_retention_ns < s.retention_ns)
    throw std::invalid_argument(
        "rollup_retention: must be at least retention (rollups answer what raw data no longer can)");

  s.max_batch_samples = config.integer("max_batch_samples");
  s.flush_interval_ns = config.duration_ns("flush_interval");
  s.synchronous = config.string("synchronous");
  s.journal_mode = config.string("journal_mode");
  s.cache_size_bytes = config.size_bytes("cache_size");
  s.mmap_size_bytes = config.size_bytes("mmap_size");
  s.wal_autocheckpoint_pages = config.integer("wal_autocheckpoint");
  s.temp_store = config.string("temp_store");
  s.busy_timeout_ns = config.duration_ns("busy_timeout");  // at most 24d: SQLite takes int milliseconds
  s.query_cache_entries = config.integer("query_cache_entries");
  s.maintenance_interval_ns = config.duration_ns("maintenance_interval");
  s.read_only = config.boolean("read_only");
  return s;
}

}  // namespace vitals::sqlite
