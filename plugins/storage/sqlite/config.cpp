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
  const Options o = schema.read(config);
  Settings s;
  std::filesystem::path path = o.path;
  if (path.empty()) throw std::invalid_argument("path: must not be empty");
  if (path.is_relative()) path = std::filesystem::path(data_dir) / path;
  s.path = path.lexically_normal().string();

  s.retention_ns = o.retention.count();
  s.rollup_retention_ns = o.rollup_retention.count();
  if (s.rollup_retention_ns < s.retention_ns)
    throw std::invalid_argument(
        "rollup_retention: must be at least retention (rollups answer what raw data no longer can)");

  s.max_batch_samples = o.max_batch_samples;
  s.flush_interval_ns = o.flush_interval.count();
  s.commit_interval_ns = o.commit_interval.count();
  s.synchronous = o.synchronous;
  s.journal_mode = o.journal_mode;
  s.cache_size_bytes = o.cache_size.bytes;
  s.mmap_size_bytes = o.mmap_size.bytes;
  s.wal_autocheckpoint_pages = o.wal_autocheckpoint;
  s.temp_store = o.temp_store;
  s.busy_timeout_ns = o.busy_timeout.count();
  s.query_cache_entries = o.query_cache_entries;
  s.maintenance_interval_ns = o.maintenance_interval.count();
  s.read_only = o.read_only;
  s.layout = o.layout;
  s.seal_after_ns = o.seal_after.count();
  return s;
}

}  // namespace vitals::sqlite
