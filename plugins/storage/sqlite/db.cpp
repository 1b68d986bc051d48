// The sqlite3 wrappers of db.hpp.
#include "db.hpp"

namespace vitals::sqlite {

Database::Database(const std::string &path, Open mode) : path_(path) {
  // One user per connection at a time (the plugin guarantees it), so SQLite's
  // own per-connection mutex is not needed.
  int flags = SQLITE_OPEN_NOMUTEX | (mode == Open::read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) |
              (mode == Open::create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw DbError(rc, path + ": cannot open: " + message);
  }
  sqlite3_extended_result_codes(db_, 1);
}

Database::Database(Database &&other) noexcept {
  other.cached_.clear();
  db_ = std::exchange(other.db_, nullptr);
  path_ = std::move(other.path_);
  pages_written_ = std::exchange(other.pages_written_, 0);
}

Database &Database::operator=(Database &&other) noexcept {
  if (this != &other) {
    cached_.clear();
    other.cached_.clear();
    sqlite3_close_v2(db_);
    db_ = std::exchange(other.db_, nullptr);
    path_ = std::move(other.path_);
    pages_written_ = std::exchange(other.pages_written_, 0);
  }
  return *this;
}

Database::~Database() {
  cached_.clear();
  sqlite3_close_v2(db_);
}

Statement &Database::cached(std::string_view sql) {
  auto it = cached_.find(std::string(sql));
  if (it == cached_.end()) {
    it = cached_.emplace(std::string(sql), std::make_unique<Statement>(prepare(sql))).first;
  } else {
    it->second->reset();
    sqlite3_clear_bindings(it->second->get());
  }
  return *it->second;
}

void Database::fail(int rc, std::string_view what) const {
  std::string message = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  throw DbError(rc, path_ + ": " + std::string(what) + ": " + message);
}

void Database::exec(std::string_view sql) {
  std::string text(sql);
  char *error = nullptr;
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &error);
  if (rc != SQLITE_OK) {
    std::string message = error ? error : sqlite3_errstr(rc);
    sqlite3_free(error);
    throw DbError(rc, path_ + ": " + message);
  }
}

Statement Database::prepare(std::string_view sql) {
  sqlite3_stmt *stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) fail(rc, "prepare");
  return Statement(this, stmt);
}

std::optional<int64_t> Database::query_int(std::string_view sql) {
  Statement s = prepare(sql);
  if (!s.step() || s.column_is_null(0)) return std::nullopt;
  return s.column_int(0);
}

std::string Database::query_text(std::string_view sql) {
  Statement s = prepare(sql);
  if (!s.step()) return {};
  return std::string(s.column_text(0));
}

Statement &Statement::operator=(Statement &&other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    db_ = std::exchange(other.db_, nullptr);
    stmt_ = std::exchange(other.stmt_, nullptr);
  }
  return *this;
}

bool Statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  // The statement in the message: "database is locked" alone does not say
  // what waited (long statements cut short).
  std::string sql = sqlite3_sql(stmt_) ? sqlite3_sql(stmt_) : "";
  if (sql.size() > 100) sql = sql.substr(0, 97) + "...";
  sqlite3_reset(stmt_);
  db_->fail(rc, "step (" + sql + ")");
}

}  // namespace vitals::sqlite
