// A small JSON reader for query requests, and how they read a time
// (vitals/time_parse.hpp does the parsing).
#include "request.hpp"

#include <stdexcept>

#include "vitals/time_parse.hpp"

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

int64_t parse_time(const JsonScalar &v, int64_t now_ns, std::string_view key) {
  auto bad = [&](const std::string &why) -> std::invalid_argument {
    return std::invalid_argument("\"" + std::string(key) + "\": " + why);
  };
  std::string error;
  std::optional<int64_t> ns;
  if (v.kind == JsonScalar::Kind::number) {
    if (!v.is_integer()) throw bad("a number must be integer nanoseconds since the epoch (got " + v.text + ")");
    ns = parse_epoch(v.text, TimePrecision::ns, error);
  } else if (v.kind == JsonScalar::Kind::string) {
    ns = vitals::parse_time(v.text, now_ns, error);
  } else {
    throw bad("must be integer nanoseconds or a string (RFC 3339, \"now\", \"-1h\", epoch digits)");
  }
  if (!ns) throw bad(error);
  return *ns;
}

}  // namespace vitals::sqlite
