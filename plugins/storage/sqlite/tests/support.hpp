// Shared by the sqlite plugin's tests: an exact JSON reader for replies
// (numbers kept as text, so int64 nanoseconds and doubles compare bit-exact),
// batches with chosen ack tokens, and direct access to the database file.
#pragma once

#include <doctest/doctest.h>
#include <sqlite3.h>

#include <cctype>
#include <charconv>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "vitals/plugin.h"
#include "vitals/testing.hpp"

namespace test {

struct Json {
  enum class Type { null, boolean, number, string, array, object } type = Type::null;
  std::string text;  // string contents, number literal, "true"/"false"
  std::vector<Json> items;
  std::vector<std::pair<std::string, Json>> fields;

  const Json &operator[](const std::string &key) const {
    for (const auto &[k, v] : fields)
      if (k == key) return v;
    throw std::out_of_range("no key " + key);
  }
  const Json &operator[](size_t i) const { return items.at(i); }
  bool has(const std::string &key) const {
    for (const auto &[k, v] : fields)
      if (k == key) return true;
    return false;
  }
  size_t size() const { return type == Type::array ? items.size() : fields.size(); }
  int64_t integer() const {
    int64_t v = 0;
    auto r = std::from_chars(text.data(), text.data() + text.size(), v);
    if (type != Type::number || r.ptr != text.data() + text.size()) throw std::runtime_error("not an integer: " + text);
    return v;
  }
  double number() const {
    double v = 0;
    auto r = std::from_chars(text.data(), text.data() + text.size(), v);
    if (type != Type::number || r.ptr != text.data() + text.size()) throw std::runtime_error("not a number: " + text);
    return v;
  }
  const std::string &str() const { return text; }
  bool is_null() const { return type == Type::null; }

  static Json parse(const std::string &s) {
    size_t i = 0;
    Json j = value(s, i);
    space(s, i);
    if (i != s.size()) throw std::runtime_error("trailing text in " + s);
    return j;
  }

 private:
  static void space(const std::string &s, size_t &i) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r')) ++i;
  }
  static std::string string(const std::string &s, size_t &i) {
    if (s[i] != '"') throw std::runtime_error("expected string");
    std::string out;
    for (++i; s.at(i) != '"'; ++i) {
      if (s[i] == '\\') {
        char e = s.at(++i);
        if (e == 'u') {
          unsigned cp = std::stoul(s.substr(i + 1, 4), nullptr, 16);
          i += 4;
          if (cp < 0x80) {
            out += static_cast<char>(cp);
          } else if (cp < 0x800) {
            out += static_cast<char>(0xC0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3F));
          } else {
            out += static_cast<char>(0xE0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
          }
        } else {
          out += e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e;
        }
      } else {
        out += s[i];
      }
    }
    ++i;
    return out;
  }
  static Json value(const std::string &s, size_t &i) {
    space(s, i);
    Json j;
    if (i >= s.size()) throw std::runtime_error("unexpected end");
    char c = s[i];
    if (c == '{') {
      j.type = Type::object;
      ++i;
      space(s, i);
      if (s[i] == '}') return ++i, j;
      while (true) {
        space(s, i);
        std::string k = string(s, i);
        space(s, i);
        if (s.at(i++) != ':') throw std::runtime_error("expected :");
        j.fields.emplace_back(k, value(s, i));
        space(s, i);
        if (s.at(i) == ',') {
          ++i;
          continue;
        }
        if (s.at(i++) != '}') throw std::runtime_error("expected }");
        return j;
      }
    }
    if (c == '[') {
      j.type = Type::array;
      ++i;
      space(s, i);
      if (s[i] == ']') return ++i, j;
      while (true) {
        j.items.push_back(value(s, i));
        space(s, i);
        if (s.at(i) == ',') {
          ++i;
          continue;
        }
        if (s.at(i++) != ']') throw std::runtime_error("expected ]");
        return j;
      }
    }
    if (c == '"') {
      j.type = Type::string;
      j.text = string(s, i);
      return j;
    }
    if (s.compare(i, 4, "null") == 0) return i += 4, j;
    if (s.compare(i, 4, "true") == 0) return i += 4, j.type = Type::boolean, j.text = "true", j;
    if (s.compare(i, 5, "false") == 0) return i += 5, j.type = Type::boolean, j.text = "false", j;
    size_t start = i;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '-' || s[i] == '+' ||
                            s[i] == '.' || s[i] == 'e' || s[i] == 'E'))
      ++i;
    if (i == start) throw std::runtime_error("bad value at " + std::to_string(i) + " in " + s);
    j.type = Type::number;
    j.text = s.substr(start, i - start);
    return j;
  }
};

// A batch built from host series ids, consumed with a chosen ack token.
struct Row {
  vitals_series_id_t series;
  int64_t ts;
  double value;
};
inline int consume(vitals::testing::Instance &storage, const std::vector<Row> &rows, uintptr_t ack) {
  std::vector<vitals_series_id_t> ids;
  std::vector<int64_t> ts;
  std::vector<double> values;
  for (const auto &r : rows) {
    ids.push_back(r.series);
    ts.push_back(r.ts);
    values.push_back(r.value);
  }
  vitals_batch_t b{};
  b.n_samples = static_cast<uint32_t>(rows.size());
  b.series = ids.data();
  b.ts_ns = ts.data();
  b.values = values.data();
  return storage.plugin()->consume(storage.raw(), &b, reinterpret_cast<vitals_ack_t *>(ack));
}

// A plain connection to the plugin's file, for checks and fault injection.
class Db {
 public:
  explicit Db(const std::string &path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) throw std::runtime_error("open " + path);
    sqlite3_busy_timeout(db_, 5000);
  }
  ~Db() { sqlite3_close(db_); }
  Db(const Db &) = delete;
  Db &operator=(const Db &) = delete;
  void exec(const std::string &sql) {
    char *err = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      std::string e = err ? err : "?";
      sqlite3_free(err);
      throw std::runtime_error(sql + ": " + e);
    }
  }
  // Fault injection: from now on the database refuses to store the value
  // 666, failing the whole statement that tries.
  void refuse_value_666() {
    exec(
        "CREATE TRIGGER refuse BEFORE INSERT ON samples WHEN NEW.value = 666 "
        "BEGIN SELECT RAISE(ABORT, 'injected failure'); END");
  }
  // Every row of a query, columns as text (NULL as "NULL").
  std::vector<std::vector<std::string>> rows(const std::string &sql) {
    sqlite3_stmt *s = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) != SQLITE_OK)
      throw std::runtime_error(sql + ": " + sqlite3_errmsg(db_));
    std::vector<std::vector<std::string>> out;
    while (sqlite3_step(s) == SQLITE_ROW) {
      std::vector<std::string> row;
      for (int c = 0; c < sqlite3_column_count(s); ++c) {
        if (sqlite3_column_type(s, c) == SQLITE_NULL) {
          row.push_back("NULL");
        } else if (sqlite3_column_type(s, c) == SQLITE_FLOAT) {
          char buf[32];
          auto r = std::to_chars(buf, buf + sizeof buf, sqlite3_column_double(s, c));
          row.emplace_back(buf, r.ptr);
        } else {
          row.emplace_back(reinterpret_cast<const char *>(sqlite3_column_text(s, c)));
        }
      }
      out.push_back(std::move(row));
    }
    sqlite3_finalize(s);
    return out;
  }
  int64_t integer(const std::string &sql) {
    auto r = rows(sql);
    return r.empty() || r[0][0] == "NULL" ? 0 : std::stoll(r[0][0]);
  }

 private:
  sqlite3 *db_ = nullptr;
};

inline int64_t now_ns() { return vitals::testing::Host::now_ns(); }
inline constexpr int64_t second = 1'000'000'000, minute = 60 * second, hour = 60 * minute, day = 24 * hour;

// The query reply as JSON; fails the test unless the status is `status`.
inline Json query(vitals::testing::Host &host, vitals::testing::Instance &storage, const std::string &request,
                  int status = 200) {
  auto [code, body] = host.query(storage, request);
  INFO(request << " -> " << code << " " << body);
  REQUIRE(code == status);
  return Json::parse(body);
}

// The same request answered alike, byte for byte, by `storage` and by
// `reference` (a read_only instance on the same file, which caches nothing).
inline void check_same_reply(vitals::testing::Host &host, vitals::testing::Instance &storage,
                             vitals::testing::Instance &reference, const std::string &request) {
  auto [code, body] = host.query(storage, request);
  auto [ref_code, ref_body] = host.query(reference, request);
  INFO(request);
  REQUIRE(code == 200);
  REQUIRE(ref_code == 200);
  CHECK(body == ref_body);
}

}  // namespace test
