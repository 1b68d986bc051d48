// An exact JSON reader: numbers keep their literal text, so int64
// nanoseconds and doubles are read without a trip through double (cJSON reads
// every number as a double, which rounds nanosecond timestamps). Used to read
// storage requests (vitals/storage.hpp) and, in tests, their replies.
// Strict: one value, no trailing text, no duplicate keys, depth at most 64.
#pragma once

#include <charconv>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vitals::json {

class Value {
 public:
  enum class Type { null, boolean, number, string, array, object };

  // Parses text; throws std::invalid_argument naming what is wrong and where.
  static Value parse(std::string_view text);

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::null; }
  bool is_string() const { return type_ == Type::string; }
  bool is_number() const { return type_ == Type::number; }
  bool is_array() const { return type_ == Type::array; }
  bool is_object() const { return type_ == Type::object; }
  // A number written without fraction or exponent.
  bool is_integer() const { return type_ == Type::number && text_.find_first_of(".eE") == std::string::npos; }

  // The decoded string, the number's literal text, or "true"/"false".
  const std::string &text() const { return text_; }
  // The number as int64 / double; throws std::invalid_argument if it is not one.
  int64_t integer() const {
    int64_t v = 0;
    auto end = text_.data() + text_.size();
    if (!is_integer() || std::from_chars(text_.data(), end, v).ptr != end)
      throw std::invalid_argument("not an int64: " + text_);
    return v;
  }
  double number() const {
    double v = 0;
    auto end = text_.data() + text_.size();
    if (type_ != Type::number || std::from_chars(text_.data(), end, v).ptr != end)
      throw std::invalid_argument("not a number: " + text_);
    return v;
  }

  // Arrays.
  size_t size() const { return type_ == Type::object ? fields_.size() : items_.size(); }
  const Value &operator[](size_t i) const {
    if (i >= items_.size()) throw std::out_of_range("index " + std::to_string(i) + " past the array's end");
    return items_[i];
  }
  const std::vector<Value> &items() const { return items_; }

  // Objects, in the order written.
  const Value *find(std::string_view key) const {
    for (const auto &[k, v] : fields_)
      if (k == key) return &v;
    return nullptr;
  }
  bool has(std::string_view key) const { return find(key) != nullptr; }
  const Value &operator[](std::string_view key) const {
    if (const Value *v = find(key)) return *v;
    throw std::out_of_range("no key \"" + std::string(key) + "\"");
  }
  const std::vector<std::pair<std::string, Value>> &fields() const { return fields_; }

  static Value string(std::string s) {
    Value v;
    v.type_ = Type::string;
    v.text_ = std::move(s);
    return v;
  }
  // literal must follow the JSON number grammar (not checked here).
  static Value number_literal(std::string literal) {
    Value v;
    v.type_ = Type::number;
    v.text_ = std::move(literal);
    return v;
  }
  static Value object() {
    Value v;
    v.type_ = Type::object;
    return v;
  }
  // Adds or replaces key (objects built in code, such as from URL parameters).
  void set(std::string key, Value value) {
    for (auto &[k, v] : fields_)
      if (k == key) {
        v = std::move(value);
        return;
      }
    fields_.emplace_back(std::move(key), std::move(value));
  }

 private:
  class Reader;

  Type type_ = Type::null;
  std::string text_;
  std::vector<Value> items_;
  std::vector<std::pair<std::string, Value>> fields_;
};

class Value::Reader {
 public:
  explicit Reader(std::string_view text) : t_(text) {}

  Value document() {
    Value v = value(0);
    skip_space();
    if (i_ < t_.size()) fail("trailing characters");
    return v;
  }

 private:
  static constexpr int max_depth = 64;

  void skip_space() {
    while (i_ < t_.size() && (t_[i_] == ' ' || t_[i_] == '\t' || t_[i_] == '\n' || t_[i_] == '\r')) ++i_;
  }
  bool consume(char c) {
    skip_space();
    if (i_ < t_.size() && t_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  [[noreturn]] void fail(const std::string &what) const {
    throw std::invalid_argument("invalid JSON: " + what + " at offset " + std::to_string(i_));
  }

  Value value(int depth) {
    skip_space();
    if (i_ >= t_.size()) fail("expected a value");
    Value v;
    char c = t_[i_];
    if (c == '"') {
      v.type_ = Type::string;
      v.text_ = string();
    } else if (c == '{' || c == '[') {
      if (depth >= max_depth) fail("nested too deeply");
      ++i_;
      v.type_ = c == '{' ? Type::object : Type::array;
      char close = c == '{' ? '}' : ']';
      if (!consume(close)) {
        do {
          if (c == '[') {
            v.items_.push_back(value(depth + 1));
            continue;
          }
          skip_space();
          std::string key = string();
          if (!consume(':')) fail("expected ':'");
          if (v.find(key)) fail("duplicate key \"" + key + "\"");
          v.fields_.emplace_back(std::move(key), value(depth + 1));
        } while (consume(','));
        if (!consume(close)) fail(std::string("expected '") + close + "'");
      }
    } else if (t_.substr(i_, 4) == "true" || t_.substr(i_, 5) == "false") {
      v.type_ = Type::boolean;
      v.text_ = c == 't' ? "true" : "false";
      i_ += v.text_.size();
    } else if (t_.substr(i_, 4) == "null") {
      i_ += 4;
    } else {
      v.type_ = Type::number;
      v.text_ = number();
    }
    return v;
  }

  std::string string() {
    if (i_ >= t_.size() || t_[i_] != '"') fail("expected a string");
    ++i_;
    std::string out;
    while (true) {
      if (i_ >= t_.size()) fail("unterminated string");
      char c = t_[i_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) fail("control character in string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (i_ >= t_.size()) fail("unterminated string");
      switch (char e = t_[i_++]) {
        case '"':
        case '\\':
        case '/':
          out += e;
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          uint32_t cp = hex4();
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (t_.substr(i_, 2) != "\\u") fail("lone surrogate");
            i_ += 2;
            uint32_t low = hex4();
            if (low < 0xDC00 || low > 0xDFFF) fail("bad surrogate pair");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            fail("lone surrogate");
          }
          append_utf8(out, cp);
          break;
        }
        default:
          fail("bad escape");
      }
    }
  }

  uint32_t hex4() {
    if (i_ + 4 > t_.size()) fail("short \\u escape");
    uint32_t cp = 0;
    for (int k = 0; k < 4; ++k) {
      char h = t_[i_++];
      cp <<= 4;
      if (h >= '0' && h <= '9')
        cp |= static_cast<uint32_t>(h - '0');
      else if (h >= 'a' && h <= 'f')
        cp |= static_cast<uint32_t>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F')
        cp |= static_cast<uint32_t>(h - 'A' + 10);
      else
        fail("bad \\u escape");
    }
    return cp;
  }

  static void append_utf8(std::string &out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  // The JSON number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  std::string number() {
    size_t start = i_;
    auto digits = [&] {
      size_t d = i_;
      while (i_ < t_.size() && t_[i_] >= '0' && t_[i_] <= '9') ++i_;
      return i_ - d;
    };
    if (i_ < t_.size() && t_[i_] == '-') ++i_;
    if (i_ < t_.size() && t_[i_] == '0') {
      ++i_;
    } else if (digits() == 0) {
      fail("expected a value");
    }
    if (i_ < t_.size() && t_[i_] == '.') {
      ++i_;
      if (digits() == 0) fail("bad number");
    }
    if (i_ < t_.size() && (t_[i_] == 'e' || t_[i_] == 'E')) {
      ++i_;
      if (i_ < t_.size() && (t_[i_] == '+' || t_[i_] == '-')) ++i_;
      if (digits() == 0) fail("bad number");
    }
    return std::string(t_.substr(start, i_ - start));
  }

  std::string_view t_;
  size_t i_ = 0;
};

inline Value Value::parse(std::string_view text) { return Reader(text).document(); }

}  // namespace vitals::json
