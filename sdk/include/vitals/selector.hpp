// Series selectors: name{label="v", label!="v", label=~"re", label!~"re"},
// with `*` globs in the name. Used by `match` keys, relabel rules and queries.
// Header-only; shared by the host and plugins so both agree on the syntax.
#pragma once

#include <regex>
#include <string>
#include <string_view>
#include <vector>

namespace vitals {

struct LabelMatcher {
  enum class Op { equal, not_equal, regex, not_regex };
  std::string key;
  Op op = Op::equal;
  std::string value;
  std::regex pattern;  // for regex ops, anchored at both ends
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
        while (i < text.size() && text[i] != '"') {
          if (text[i] == '\\' && i + 1 < text.size()) {
            char c = text[++i];
            m.value += c == 'n' ? '\n' : c == 't' ? '\t' : c;
          } else {
            m.value += text[i];
          }
          ++i;
        }
        if (i >= text.size()) return fail("unterminated quoted value");
        ++i;
        if (m.op == LabelMatcher::Op::regex || m.op == LabelMatcher::Op::not_regex) {
          try {
            m.pattern = std::regex("^(?:" + m.value + ")$", std::regex::ECMAScript | std::regex::optimize);
          } catch (const std::regex_error &e) {
            return fail(std::string("invalid regular expression: ") + e.what());
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
          if (!std::regex_match(value.begin(), value.end(), m.pattern)) return false;
          break;
        case LabelMatcher::Op::not_regex:
          if (std::regex_match(value.begin(), value.end(), m.pattern)) return false;
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
  static bool is_name_char(char c, bool first) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || c == '*' ||
           (!first && ((c >= '0' && c <= '9') || c == '.'));
  }
  static bool is_key_char(char c, bool first) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (!first && c >= '0' && c <= '9');
  }

  std::string text_;
  std::string name_;
  std::vector<LabelMatcher> matchers_;
};

}  // namespace vitals
