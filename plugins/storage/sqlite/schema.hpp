// The database schema: connection pragmas, the DDL of each version, and the
// forward migrations applied on open (PRAGMA user_version holds the version).
#pragma once

#include <span>
#include <string>

#include "config.hpp"
#include "db.hpp"

namespace vitals::sqlite {

// The version this build writes; files from a newer one are refused.
inline constexpr int schema_version = 6;
// PRAGMA application_id of a Vitals database ("VTLS").
inline constexpr int application_id = 0x56544C53;

// One step: SQL that takes a file from version - 1 to version.
struct Migration {
  int version;
  const char *sql;
};
std::span<const Migration> migrations();

// How long a statement on db waits for a lock another connection or
// process holds (settings.busy_timeout): set before the first statement of
// every connection to the database file, as without it a reader recovering the WAL after a crash
// fails the open with "database is locked".
void set_busy_timeout(Database &db, const Settings &settings);

// Sets the pragmas of the writer connection (journal mode, synchronous, ...)
// or of a reader (query_only, caches), the busy timeout first. Throws DbError.
void apply_pragmas(Database &db, const Settings &settings, bool writer);

// Brings the file to schema_version, one step per transaction; returns the
// version found. Throws std::runtime_error naming the path when the file is
// newer than this build or not a Vitals database.
int migrate(Database &db);

// The layout the file's samples are in: 2 (a row each in `samples`) or 3
// (head rows and compressed chunks, v3_store.hpp), recorded in meta. Opened
// for writing with `wanted` = "v3", a file of layout 2 (or none recorded)
// becomes 3, its v2 rows then moved by the migration (layout_migration.hpp); a
// file of layout 3 stays 3 whatever is wanted. Read-only, an unrecorded
// file reads as 2.
int file_layout(Database &db, const std::string &wanted);

// Checks, without writing, that the file is a Vitals database of exactly
// schema_version (what a read-only open needs); throws std::runtime_error.
void check_current(Database &db);
// Throws unless a writer could open (and if needed migrate) the file: it is a
// vitals database (or empty) and not newer than this agent.
void check_writable(Database &db);

}  // namespace vitals::sqlite
