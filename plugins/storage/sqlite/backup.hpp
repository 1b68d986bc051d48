// Online backup: copies the live database to a new file with SQLite's backup
// API while the writer keeps writing (WAL), from one consistent snapshot.
#pragma once

#include <cstdint>
#include <string>

#include "config.hpp"

namespace vitals::sqlite {

// Copies settings.path to `to` (absolute; must not exist) through `to`.partial,
// renamed into place when complete. Returns the size of the copy in bytes.
// Throws std::invalid_argument for a bad destination, std::runtime_error on
// failure.
uint64_t online_backup(const Settings &settings, const std::string &to);

}  // namespace vitals::sqlite
