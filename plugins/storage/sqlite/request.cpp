// A small JSON reader for query requests, and the time formats they accept.
#include "request.hpp"

#include <charconv>
#include <limits>
#include <stdexcept>

#include "vitals/units.hpp"

namespace vitals::sqlite {

namespace {

class Reader {
 public:
  explicit Reader(std::string_view text) : t_(text) {}

  void skip_space() {
    while (i_ < t_.size() && (t_[i_] == ' ' || t_[i_] == '\t' || t_[i_] == '\n' || t_[i_] == '\r')) ++i_;
  }
  bool at_end() {
    skip_space();
    return i_ >= t_.size();
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
    throw std::invalid_argument("invalid JSON request: " + what + " at offset " + std::to_string(i_));
  }

  std::string string() {
    skip_space();
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
      char e = t_[i_++];
      switch (e) {
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

  JsonScalar value(int depth = 0) {
    skip_space();
    if (i_ >= t_.size()) fail("expected a value");
    JsonScalar v;
    char c = t_[i_];
    if (c == '"') {
      v.kind = JsonScalar::Kind::string;
      v.text = string();
    } else if (c == '{' || c == '[') {
      if (depth > 64) fail("nested too deeply");
      v.kind = JsonScalar::Kind::nested;
      ++i_;
      char close = c == '{' ? '}' : ']';
      if (!consume(close)) {
        do {
          if (c == '{') {
            string();
            if (!consume(':')) fail("expected ':'");
          }
          value(depth + 1);
        } while (consume(','));
        if (!consume(close)) fail(std::string("expected '") + close + "'");
      }
    } else if (t_.substr(i_, 4) == "true" || t_.substr(i_, 5) == "false") {
      v.kind = JsonScalar::Kind::boolean;
      v.text = c == 't' ? "true" : "false";
      i_ += v.text.size();
    } else if (t_.substr(i_, 4) == "null") {
      i_ += 4;
    } else {
      v.kind = JsonScalar::Kind::number;
      v.text = number();
    }
    return v;
  }

 private:
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

// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool read_fixed(std::string_view text, size_t &i, size_t n, int &out) {
  if (i + n > text.size()) return false;
  out = 0;
  for (size_t k = 0; k < n; ++k) {
    char c = text[i + k];
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  i += n;
  return true;
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

}  // namespace

bool JsonScalar::is_integer() const { return kind == Kind::number && text.find_first_of(".eE") == std::string::npos; }

std::optional<Request> Request::parse(std::string_view text, std::string &error) {
  try {
    Reader r(text);
    Request req;
    if (!r.consume('{')) r.fail("expected an object");
    if (!r.consume('}')) {
      do {
        std::string key = r.string();
        if (!r.consume(':')) r.fail("expected ':'");
        JsonScalar v = r.value();
        if (!req.fields_.emplace(key, std::move(v)).second) r.fail("duplicate key \"" + key + "\"");
      } while (r.consume(','));
      if (!r.consume('}')) r.fail("expected '}'");
    }
    if (!r.at_end()) r.fail("trailing characters");
    return req;
  } catch (const std::invalid_argument &e) {
    error = e.what();
    return std::nullopt;
  }
}

const JsonScalar *Request::get(const std::string &key) const {
  auto it = fields_.find(key);
  return it == fields_.end() ? nullptr : &it->second;
}

std::string Request::string(const std::string &key, const std::string &fallback) const {
  const JsonScalar *v = get(key);
  if (!v || v->kind == JsonScalar::Kind::null) return fallback;
  if (v->kind != JsonScalar::Kind::string) throw std::invalid_argument("\"" + key + "\" must be a string");
  return v->text;
}

std::vector<Label> Request::string_fields() const {
  std::vector<Label> out;
  for (const auto &[key, v] : fields_) {
    if (v.kind != JsonScalar::Kind::string) throw std::invalid_argument("\"" + key + "\" must be a string");
    out.push_back({key, v.text});
  }
  return out;
}

std::optional<int64_t> parse_rfc3339(std::string_view t) {
  size_t i = 0;
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!read_fixed(t, i, 4, year) || i >= t.size() || t[i++] != '-') return std::nullopt;
  if (!read_fixed(t, i, 2, month) || i >= t.size() || t[i++] != '-') return std::nullopt;
  if (!read_fixed(t, i, 2, day) || i >= t.size()) return std::nullopt;
  char sep = t[i++];
  if (sep != 'T' && sep != 't' && sep != ' ') return std::nullopt;
  if (!read_fixed(t, i, 2, hour) || i >= t.size() || t[i++] != ':') return std::nullopt;
  if (!read_fixed(t, i, 2, minute) || i >= t.size() || t[i++] != ':') return std::nullopt;
  if (!read_fixed(t, i, 2, second)) return std::nullopt;
  static constexpr int days_in_month[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12 || day < 1 || day > days_in_month[month - 1] || hour > 23 || minute > 59 || second > 60)
    return std::nullopt;
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (month == 2 && day == 29 && !leap) return std::nullopt;
  int64_t fraction_ns = 0;
  if (i < t.size() && t[i] == '.') {
    ++i;
    size_t start = i;
    int64_t scale = 100'000'000;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9') {
      fraction_ns += (t[i] - '0') * scale;
      scale /= 10;
      ++i;
    }
    if (i == start) return std::nullopt;
  }
  if (i >= t.size()) return std::nullopt;
  int64_t offset_s = 0;
  if (t[i] == 'Z' || t[i] == 'z') {
    ++i;
  } else if (t[i] == '+' || t[i] == '-') {
    int sign = t[i++] == '-' ? -1 : 1;
    int oh = 0, om = 0;
    if (!read_fixed(t, i, 2, oh) || i >= t.size() || t[i++] != ':' || !read_fixed(t, i, 2, om)) return std::nullopt;
    if (oh > 23 || om > 59) return std::nullopt;
    offset_s = sign * (oh * 3600 + om * 60);
  } else {
    return std::nullopt;
  }
  if (i != t.size()) return std::nullopt;
  // A leap second reads as the first instant of the next minute.
  int64_t seconds = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
                    hour * 3600 + minute * 60 + second - offset_s;
  // Years 1678..2261 fit in int64 nanoseconds.
  if (seconds <= std::numeric_limits<int64_t>::min() / 1'000'000'000 + 1 ||
      seconds >= std::numeric_limits<int64_t>::max() / 1'000'000'000 - 1)
    return std::nullopt;
  return seconds * 1'000'000'000 + fraction_ns;
}

int64_t parse_time(const JsonScalar &v, int64_t now_ns, std::string_view key) {
  auto bad = [&](const std::string &why) -> std::invalid_argument {
    return std::invalid_argument("\"" + std::string(key) + "\": " + why);
  };
  if (v.kind == JsonScalar::Kind::number) {
    if (!v.is_integer()) throw bad("a number must be integer nanoseconds since the epoch (got " + v.text + ")");
    int64_t ns = 0;
    auto r = std::from_chars(v.text.data(), v.text.data() + v.text.size(), ns);
    if (r.ec != std::errc() || r.ptr != v.text.data() + v.text.size()) throw bad("out of range: " + v.text);
    return ns;
  }
  if (v.kind != JsonScalar::Kind::string)
    throw bad("must be integer nanoseconds or a string (RFC 3339, \"now\", \"-1h\", epoch digits)");
  std::string_view s = v.text;
  if (s == "now") return now_ns;
  std::string_view relative = s;
  if (relative.substr(0, 3) == "now") relative.remove_prefix(3);
  if (!relative.empty() && (relative[0] == '-' || relative[0] == '+')) {
    auto d = parse_duration(relative.substr(1));
    if (!d) throw bad("bad relative time \"" + v.text + "\" (use e.g. \"-1h\" or \"now-30m\")");
    // Checked: a far offset must be refused, not wrap (signed overflow is UB).
    int64_t t;
    if (relative[0] == '-' ? __builtin_sub_overflow(now_ns, *d, &t) : __builtin_add_overflow(now_ns, *d, &t))
      throw bad("out of range: " + v.text + " (representable: 1677-09-21 to 2262-04-11)");
    return t;
  }
  if (all_digits(s)) {
    int64_t n = 0;
    auto r = std::from_chars(s.data(), s.data() + s.size(), n);
    if (r.ec != std::errc()) throw bad("out of range: " + v.text);
    int64_t scale = s.size() <= 11 ? 1'000'000'000 : s.size() <= 14 ? 1'000'000 : s.size() <= 17 ? 1'000 : 1;
    if (n > std::numeric_limits<int64_t>::max() / scale) throw bad("out of range: " + v.text);
    return n * scale;
  }
  if (auto t = parse_rfc3339(s)) return *t;
  throw bad("cannot read \"" + v.text + "\" as a time (RFC 3339, \"now\", \"-1h\", or epoch digits)");
}

}  // namespace vitals::sqlite
