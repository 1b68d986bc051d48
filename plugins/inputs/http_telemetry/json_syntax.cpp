// A JSON grammar check that builds nothing: one pass, no allocation.
#include "json_syntax.hpp"

#include <string>

namespace vitals::http_telemetry {

namespace {

class Checker {
 public:
  Checker(std::string_view s, size_t max_item_values) : s_(s), max_item_values_(max_item_values) {}

  std::optional<JsonSyntaxError> run() {
    skip_blanks();
    if (!value(0)) return error_;
    skip_blanks();
    if (p_ < s_.size()) return JsonSyntaxError{p_, "unexpected data after the JSON value"};
    return std::nullopt;
  }

  size_t end_of_value(size_t begin) {
    p_ = begin;
    value(0);
    return p_;
  }

 private:
  static constexpr int kMaxDepth = 1000;  // cJSON's nesting limit

  bool fail(std::string reason) {
    if (p_ >= s_.size()) reason = "unexpected end of the body";
    error_ = JsonSyntaxError{p_, std::move(reason)};
    return false;
  }
  bool at_end() const { return p_ >= s_.size(); }
  char peek() const { return s_[p_]; }
  void skip_blanks() {
    while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r')) ++p_;
  }
  bool digits() {
    size_t start = p_;
    while (!at_end() && peek() >= '0' && peek() <= '9') ++p_;
    return p_ > start;
  }
  bool literal(std::string_view word) {
    if (s_.substr(p_, word.size()) != word) return fail("expected a value");
    p_ += word.size();
    return true;
  }

  bool value(int depth) {
    if (at_end()) return fail("");
    if (++item_values_ > max_item_values_) {
      error_ = JsonSyntaxError{p_, "more than " + std::to_string(max_item_values_) + " values in one item", true};
      return false;
    }
    switch (peek()) {
      case '{':
        return object(depth + 1);
      case '[':
        return array(depth + 1);
      case '"':
        return string();
      case 't':
        return literal("true");
      case 'f':
        return literal("false");
      case 'n':
        return s_.substr(p_, 3) == "nan" ? fail("NaN and Infinity are not JSON numbers") : literal("null");
      default:
        return number();
    }
  }

  bool number() {
    size_t start = p_;
    if (!at_end() && peek() == '-') ++p_;
    if (!at_end() && (peek() == 'N' || peek() == 'I' || peek() == 'i')) {
      p_ = start;
      return fail("NaN and Infinity are not JSON numbers");
    }
    if (!at_end() && peek() == '0' && p_ + 1 < s_.size() && s_[p_ + 1] >= '0' && s_[p_ + 1] <= '9')
      return fail("leading zeros are not allowed in numbers");
    if (!digits()) {
      p_ = start;
      return fail("expected a value");
    }
    if (!at_end() && peek() == '.') {
      ++p_;
      if (!digits()) return fail("expected a digit after '.'");
    }
    if (!at_end() && (peek() == 'e' || peek() == 'E')) {
      ++p_;
      if (!at_end() && (peek() == '+' || peek() == '-')) ++p_;
      if (!digits()) return fail("expected a digit in the exponent");
    }
    return true;
  }

  // The code unit of the \uXXXX escape whose backslash is at i, or -1.
  long hex4(size_t i) const {
    if (i + 6 > s_.size() || s_[i] != '\\' || s_[i + 1] != 'u') return -1;
    long v = 0;
    for (size_t k = i + 2; k < i + 6; ++k) {
      char h = s_[k];
      int d = (h >= '0' && h <= '9')   ? h - '0'
              : (h >= 'a' && h <= 'f') ? h - 'a' + 10
              : (h >= 'A' && h <= 'F') ? h - 'A' + 10
                                       : -1;
      if (d < 0) return -1;
      v = v * 16 + d;
    }
    return v;
  }

  bool string() {
    size_t open = p_++;
    while (!at_end() && peek() != '"') {
      if (static_cast<unsigned char>(peek()) < 0x20) return fail("control character in a string (escape it)");
      if (peek() != '\\') {
        ++p_;
        continue;
      }
      if (p_ + 1 >= s_.size()) {
        ++p_;
        break;
      }
      char e = s_[p_ + 1];
      if (e == 'u') {
        long unit = hex4(p_);
        if (unit < 0) return fail("invalid \\u escape in a string");
        // cJSON decodes into C strings, and so does every name and label
        // value after it: "a\u0000b" would be stored as "a", silently.
        if (unit == 0) return fail("\\u0000 (NUL) is not allowed in a string: names and label values cannot hold it");
        if (unit >= 0xDC00 && unit <= 0xDFFF) return fail("unpaired UTF-16 surrogate in a \\u escape");
        if (unit >= 0xD800 && unit <= 0xDBFF) {
          long low = hex4(p_ + 6);
          if (low < 0xDC00 || low > 0xDFFF) return fail("unpaired UTF-16 surrogate in a \\u escape");
          p_ += 6;
        }
        p_ += 6;
      } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' || e == 't') {
        p_ += 2;
      } else {
        return fail("invalid escape in a string");
      }
    }
    if (at_end()) {
      p_ = open;
      error_ = JsonSyntaxError{open, "unterminated string"};
      return false;
    }
    ++p_;
    return true;
  }

  bool object(int depth) {
    if (depth > kMaxDepth) return fail("nested too deeply (more than 1000 levels)");
    ++p_;
    skip_blanks();
    if (!at_end() && peek() == '}') {
      ++p_;
      return true;
    }
    for (;;) {
      skip_blanks();
      if (at_end() || peek() != '"') return fail("expected '\"' to start a key");
      if (!string()) return false;
      skip_blanks();
      if (at_end() || peek() != ':') return fail("expected ':' after the key");
      ++p_;
      skip_blanks();
      if (!value(depth)) return false;
      skip_blanks();
      if (at_end()) return fail("");
      if (peek() == '}') {
        ++p_;
        return true;
      }
      if (peek() != ',') return fail("expected ',' or '}'");
      ++p_;
    }
  }

  bool array(int depth) {
    if (depth > kMaxDepth) return fail("nested too deeply (more than 1000 levels)");
    ++p_;
    skip_blanks();
    if (!at_end() && peek() == ']') {
      ++p_;
      return true;
    }
    for (;;) {
      skip_blanks();
      if (depth == 1) item_values_ = 0;  // each element of the root array is an item
      if (!value(depth)) return false;
      skip_blanks();
      if (at_end()) return fail("");
      if (peek() == ']') {
        ++p_;
        return true;
      }
      if (peek() != ',') return fail("expected ',' or ']'");
      ++p_;
    }
  }

  std::string_view s_;
  size_t p_ = 0;
  JsonSyntaxError error_{0, ""};
  size_t max_item_values_;
  size_t item_values_ = 0;
};

}  // namespace

std::optional<JsonSyntaxError> find_json_syntax_error(std::string_view body, size_t max_item_values) {
  return Checker(body, max_item_values).run();
}

size_t json_value_end(std::string_view body, size_t begin) {
  return Checker(body, static_cast<size_t>(-1)).end_of_value(begin);
}

}  // namespace vitals::http_telemetry
