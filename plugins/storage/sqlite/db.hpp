// RAII wrappers over the sqlite3 C API: a connection, a prepared statement,
// and the few helpers every file of this plugin needs (exec, pragmas, errors).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace vitals::sqlite {

// An SQLite failure; code() is the extended result code.
class DbError : public std::runtime_error {
 public:
  DbError(int code, const std::string &what) : std::runtime_error(what), code_(code) {}
  int code() const { return code_; }

 private:
  int code_;
};

class Statement;

// Owns one connection. Not thread-safe: each connection has one user at a time.
class Database {
 public:
  enum class Open { create, read_write, read_only };
  Database() = default;
  // Opens the file at path; throws DbError.
  Database(const std::string &path, Open mode);
  Database(Database &&other) noexcept;
  Database &operator=(Database &&other) noexcept;
  ~Database();
  Database(const Database &) = delete;
  Database &operator=(const Database &) = delete;

  sqlite3 *get() const { return db_; }
  explicit operator bool() const { return db_ != nullptr; }
  const std::string &path() const { return path_; }

  // Runs one or more statements that return no rows; throws DbError.
  void exec(std::string_view sql);
  // Runs a statement and returns the first column of its first row, if any.
  std::optional<int64_t> query_int(std::string_view sql);
  std::string query_text(std::string_view sql);
  Statement prepare(std::string_view sql);
  // The statement for sql, prepared on first use and kept with the
  // connection (reset, its bindings cleared): for statements a loop runs
  // many times without holding one of its own. Not for two uses of the
  // same sql at once.
  Statement &cached(std::string_view sql);
  int64_t changes() const { return sqlite3_changes64(db_); }
  // Pages this connection has written to the file or its WAL since it
  // opened (SQLITE_DBSTATUS_CACHE_WRITE, an int: read and reset into 64
  // bits, so that it never wraps). The connection's thread only.
  int64_t pages_written() {
    int since = 0, highest = 0;
    sqlite3_db_status(db_, SQLITE_DBSTATUS_CACHE_WRITE, &since, &highest, 1);
    pages_written_ += since;
    return pages_written_;
  }
  int64_t last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
  bool in_transaction() const { return db_ && !sqlite3_get_autocommit(db_); }
  // Opened read-only (Open::read_only), as opposed to writable.
  bool read_only() const { return db_ && sqlite3_db_readonly(db_, "main") == 1; }

  // "<what>: <sqlite message>" as a DbError.
  [[noreturn]] void fail(int rc, std::string_view what) const;

 private:
  sqlite3 *db_ = nullptr;
  std::string path_;
  int64_t pages_written_ = 0;
  // Finalized before the connection moves or closes (a statement refers
  // to the Database it came from).
  std::unordered_map<std::string, std::unique_ptr<Statement>> cached_;
};

// Owns one prepared statement; reset and rebound for each use.
class Statement {
 public:
  Statement() = default;
  Statement(const Database *db, sqlite3_stmt *stmt) : db_(db), stmt_(stmt) {}
  Statement(Statement &&other) noexcept
      : db_(std::exchange(other.db_, nullptr)), stmt_(std::exchange(other.stmt_, nullptr)) {}
  Statement &operator=(Statement &&other) noexcept;
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement &) = delete;
  Statement &operator=(const Statement &) = delete;

  explicit operator bool() const { return stmt_ != nullptr; }
  sqlite3_stmt *get() const { return stmt_; }

  Statement &bind(int index, int64_t value) {
    check(sqlite3_bind_int64(stmt_, index, value), "bind");
    return *this;
  }
  // NaN has no SQL form; SQLite stores it as NULL.
  Statement &bind(int index, double value) {
    check(sqlite3_bind_double(stmt_, index, value), "bind");
    return *this;
  }
  Statement &bind(int index, std::string_view value) {
    check(sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT), "bind");
    return *this;
  }
  Statement &bind_blob(int index, std::string_view value) {
    check(sqlite3_bind_blob64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT), "bind");
    return *this;
  }
  Statement &bind_null(int index) {
    check(sqlite3_bind_null(stmt_, index), "bind");
    return *this;
  }

  // Steps once: true while a row is available, false when done; throws on error.
  bool step();
  // Steps a statement that returns no rows, then resets it.
  void run() {
    step();
    reset();
  }
  void reset() { sqlite3_reset(stmt_); }

  int64_t column_int(int i) const { return sqlite3_column_int64(stmt_, i); }
  double column_double(int i) const { return sqlite3_column_double(stmt_, i); }
  bool column_is_null(int i) const { return sqlite3_column_type(stmt_, i) == SQLITE_NULL; }
  // Valid until the statement steps, resets or is finalised.
  std::string_view column_blob(int i) const {
    auto *p = static_cast<const char *>(sqlite3_column_blob(stmt_, i));
    return p ? std::string_view(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, i))) : std::string_view();
  }
  std::string_view column_text(int i) const {
    auto *p = reinterpret_cast<const char *>(sqlite3_column_text(stmt_, i));
    return p ? std::string_view(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, i))) : std::string_view();
  }

 private:
  void check(int rc, std::string_view what) const {
    if (rc != SQLITE_OK) db_->fail(rc, what);
  }
  const Database *db_ = nullptr;
  sqlite3_stmt *stmt_ = nullptr;
};

// Rolls back an open transaction unless commit() was called.
class Transaction {
 public:
  // mode: "BEGIN", "BEGIN IMMEDIATE", ...
  Transaction(Database &db, std::string_view begin = "BEGIN IMMEDIATE") : db_(db) { db_.exec(begin); }
  ~Transaction() {
    if (!done_ && db_.in_transaction()) sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
  }
  Transaction(const Transaction &) = delete;
  Transaction &operator=(const Transaction &) = delete;
  void commit() {
    db_.exec("COMMIT");
    done_ = true;
  }

 private:
  Database &db_;
  bool done_ = false;
};

// Resets a statement when the scope ends, also when reading its rows
// throws (a corrupt blob): a statement left active would hold its read.
struct ResetOnExit {
  Statement &statement;
  ~ResetOnExit() { statement.reset(); }
};

}  // namespace vitals::sqlite
