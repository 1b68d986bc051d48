// Series selectors: name{label="v", label!="v", label=~"re", label!~"re"},
// with `*` globs in the name. Used by `match` keys, relabel rules and queries.
// Header-only; shared by the host and plugins so both agree on the syntax.
//
// Regular expressions are RE2 (see sdk/selectors.md): selectors come from
// users (HTTP queries, subscriptions), and RE2 matches in time linear in the
// subject with bounded stack, where a backtracking engine (std::regex) could
// recurse once per character or take exponential time. Link with re2
// (pkg-config re2; vitals-sdk.pc requires it).
#pragma once

#include <re2/re2.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "vitals/series_name.hpp"

namespace vitals {

// Longest regular expression a selector accepts, in bytes after unquoting:
// bounds the compile time and memory a user can ask for.
inline constexpr size_t max_regex_length = 1024;

struct LabelMatcher {
  enum class Op { equal, not_equal, regex, not_regex };
  std::string key;
  Op op = Op::equal;
  std::string value;
  // For regex ops: compiled once at parse, matched against the whole value.
  // Shared, because RE2 cannot be copied and is safe to match from many
  // threads at once.
  std::shared_ptr<const re2::RE2> pattern;
};

// True if `text` matches `pattern`, where `*` matches any run of characters.
inline bool glob_match(std::string_view pattern, std::string_view text) {
  size_t p = 0, t = 0, star = std::string_view::npos, resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

class Selector {
 public:
  // Parses `text`; on failure returns false and sets `error` (with the
  // offending offset). An empty selector, or "*", matches every series.
  static bool parse(std::string_view text, Selector &out, std::string &error) {
    out = Selector{};
    out.text_ = std::string(text);
    size_t i = 0;
    auto skip_space = [&] {
      while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    };
    auto fail = [&](const std::string &what) {
      error = what + " at offset " + std::to_string(i) + " in selector '" + std::string(text) + "'";
      return false;
    };
    skip_space();
    size_t name_start = i;
    while (i < text.size() && is_name_char(text[i], i == name_start)) ++i;
    out.name_ = std::string(text.substr(name_start, i - name_start));
    skip_space();
    if (i < text.size() && text[i] == '{') {
      ++i;
      for (;;) {
        skip_space();
        if (i < text.size() && text[i] == '}') {
          ++i;
          break;
        }
        size_t key_start = i;
        while (i < text.size() && is_key_char(text[i], i == key_start)) ++i;
        if (i == key_start) return fail("expected a label name");
        LabelMatcher m;
        m.key = std::string(text.substr(key_start, i - key_start));
        skip_space();
        if (text.substr(i, 2) == "!=") {
          m.op = LabelMatcher::Op::not_equal;
          i += 2;
        } else if (text.substr(i, 2) == "=~") {
          m.op = LabelMatcher::Op::regex;
          i += 2;
        } else if (text.substr(i, 2) == "!~") {
          m.op = LabelMatcher::Op::not_regex;
          i += 2;
        } else if (text.substr(i, 1) == "=") {
          m.op = LabelMatcher::Op::equal;
          i += 1;
        } else {
          return fail("expected =, !=, =~ or !~");
        }
        skip_space();
        if (i >= text.size() || text[i] != '"') return fail("expected a quoted value");
        ++i;
        // Where each byte of the unquoted value starts in `text`, so that a
        // regular expression error can point into the selector.
        std::vector<size_t> value_offsets;
        while (i < text.size() && text[i] != '"') {
          value_offsets.push_back(i);
          if (text[i] == '\\' && i + 1 < text.size()) {
            char c = text[++i];
            m.value += c == 'n' ? '\n' : c == 't' ? '\t' : c;
          } else {
            m.value += text[i];
          }
          ++i;
        }
        if (i >= text.size()) return fail("unterminated quoted value");
        size_t value_end = i;
        ++i;
        if (m.op == LabelMatcher::Op::regex || m.op == LabelMatcher::Op::not_regex) {
          std::string regex_error;
          size_t error_at = 0;
          m.pattern = compile_regex(m.value, regex_error, error_at);
          if (!m.pattern) {
            i = error_at < value_offsets.size() ? value_offsets[error_at] : value_end;
            return fail(regex_error);
          }
        }
        out.matchers_.push_back(std::move(m));
        skip_space();
        if (i < text.size() && text[i] == ',') {
          ++i;
          continue;
        }
        if (i < text.size() && text[i] == '}') {
          ++i;
          break;
        }
        return fail("expected , or }");
      }
    }
    skip_space();
    if (i != text.size()) return fail("unexpected character");
    if (out.name_ == "*") out.name_.clear();
    return true;
  }

  // Labels are (key, value) pairs in any order; a missing label reads as "".
  template <typename Labels>
  bool matches(std::string_view name, const Labels &labels) const {
    if (!name_.empty() && !glob_match(name_, name)) return false;
    for (const auto &m : matchers_) {
      std::string_view value;
      for (const auto &label : labels) {
        if (std::string_view(label.key) == m.key) {
          value = label.value;
          break;
        }
      }
      switch (m.op) {
        case LabelMatcher::Op::equal:
          if (value != m.value) return false;
          break;
        case LabelMatcher::Op::not_equal:
          if (value == m.value) return false;
          break;
        case LabelMatcher::Op::regex:
          if (!re2::RE2::FullMatch(value, *m.pattern)) return false;
          break;
        case LabelMatcher::Op::not_regex:
          if (re2::RE2::FullMatch(value, *m.pattern)) return false;
          break;
      }
    }
    return true;
  }

  bool matches_everything() const { return name_.empty() && matchers_.empty(); }
  const std::string &name_pattern() const { return name_; }
  const std::vector<LabelMatcher> &matchers() const { return matchers_; }
  const std::string &text() const { return text_; }

 private:
  // Compiles `pattern` for whole-value matching; on failure returns null,
  // sets `error` and `error_at` (an offset into `pattern`).
  static std::shared_ptr<const re2::RE2> compile_regex(const std::string &pattern, std::string &error,
                                                       size_t &error_at) {
    error_at = 0;
    if (pattern.size() > max_regex_length) {
      error = "regular expression longer than " + std::to_string(max_regex_length) + " bytes (" +
              std::to_string(pattern.size()) + ")";
      return nullptr;
    }
    re2::RE2::Options options;
    options.set_log_errors(false);  // the error goes back to whoever wrote the selector
    // Latin-1: label values are bytes, and `.` matches any one byte, as the
    // ECMAScript engine used before did; UTF-8 literals still match their bytes.
    options.set_encoding(re2::RE2::Options::EncodingLatin1);
    auto re = std::make_shared<const re2::RE2>(pattern, options);
    if (re->ok()) return re;
    error = "invalid regular expression: " + re->error();
    if (re->error_code() == re2::RE2::ErrorBadPerlOp)
      error += " (RE2 syntax: lookaround such as (?= (?! (?<= is not supported)";
    else if (re->error_code() == re2::RE2::ErrorBadEscape && re->error_arg().size() == 2 && re->error_arg()[1] >= '1' &&
             re->error_arg()[1] <= '9')
      error += " (RE2 syntax: backreferences are not supported)";
    size_t at = re->error_arg().empty() ? std::string::npos : pattern.find(re->error_arg());
    error_at = at == std::string::npos ? pattern.size() : at;
    return nullptr;
  }

  // A series name (vitals/series_name.hpp) or a glob of one.
  static bool is_name_char(char c, bool first) { return c == '*' || series_name_char(c, first); }
  static bool is_key_char(char c, bool first) { return label_key_char(c, first); }

  std::string text_;
  std::string name_;
  std::vector<LabelMatcher> matchers_;
};

}  // namespace vitals
