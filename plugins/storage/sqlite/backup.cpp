// The backup op: sqlite3_backup_step in chunks over one read snapshot.
#include "backup.hpp"

#include <filesystem>
#include <stdexcept>

#include "db.hpp"
#include "schema.hpp"
#include "vitals/storage.hpp"

namespace vitals::sqlite {

namespace {
// Pages copied per step (4 MiB at the default page size): the page cache of
// the copy stays small, and the step overhead is nothing.
constexpr int pages_per_step = 1024;
}  // namespace

uint64_t online_backup(const Settings &settings, const std::string &to) {
  namespace fs = std::filesystem;
  fs::path dest(to);
  if (to.empty() || !dest.is_absolute()) throw storage::BadRequest("\"to\" must be an absolute path");
  std::error_code ec;
  if (fs::exists(dest, ec)) throw storage::BadRequest("\"to\": " + to + " already exists");
  if (!dest.has_parent_path() || !fs::is_directory(dest.parent_path(), ec))
    throw storage::BadRequest("\"to\": directory " + dest.parent_path().string() + " does not exist");
  std::string partial = to + ".partial";
  fs::remove(partial, ec);

  // A connection of its own, so queries go on while a large file is copied.
  Database source(settings.path, settings.read_only ? Database::Open::read_only : Database::Open::read_write);
  apply_pragmas(source, settings, false);
  // Holding one read transaction across all steps pins a snapshot: the copy is
  // consistent and never restarts however much the writer commits meanwhile.
  Transaction snapshot(source, "BEGIN");
  source.query_int("SELECT count(*) FROM sqlite_schema");

  try {
    Database target(partial, Database::Open::create);
    sqlite3_backup *b = sqlite3_backup_init(target.get(), "main", source.get(), "main");
    if (!b) target.fail(sqlite3_errcode(target.get()), "backup");
    int rc = SQLITE_OK;
    int64_t waited_ms = 0;
    while (rc == SQLITE_OK ||
           ((rc == SQLITE_BUSY || rc == SQLITE_LOCKED) && waited_ms * 1'000'000 < settings.busy_timeout_ns)) {
      rc = sqlite3_backup_step(b, pages_per_step);
      if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
        sqlite3_sleep(5);
        waited_ms += 5;
      }
    }
    int finish = sqlite3_backup_finish(b);
    if (rc != SQLITE_DONE) target.fail(rc, "backup");
    if (finish != SQLITE_OK) target.fail(finish, "backup");
    // The copy is a WAL database like its source; fold its WAL into the file
    // so that the one file is the whole backup.
    target.exec("PRAGMA journal_mode = DELETE");
  } catch (...) {
    fs::remove(partial, ec);
    throw;
  }
  fs::rename(partial, dest, ec);
  if (ec) {
    fs::remove(partial, ec);
    throw std::runtime_error("backup: cannot rename " + partial + " to " + to + ": " + ec.message());
  }
  return fs::file_size(dest, ec);
}

}  // namespace vitals::sqlite
