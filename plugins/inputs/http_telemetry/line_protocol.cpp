// InfluxDB line protocol parser. One pass over the body with string_view
// spans, no allocation per sample: a sample's series is looked up in the cache
// by its raw text (measurement, tags and field key as written) and only a miss
// decodes escapes, checks names and interns.
#include "line_protocol.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace vitals::http_telemetry {

namespace {

// As InfluxDB reads them: a backslash escapes ',' and ' ' in a measurement,
// and also '=' in tag keys, tag values and field keys; the backslash is then
// dropped. Before any other character, a backslash included, it is a literal
// backslash and the next character is read as usual: C:\\temp stays C:\\temp,
// and two\\ words is "two\ words" (a literal backslash, an escaped space).
bool escapable(char c, bool with_equals) { return c == ',' || c == ' ' || (with_equals && c == '='); }

std::string unescape(std::string_view raw, bool with_equals) {
  std::string out;
  out.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\\' && i + 1 < raw.size() && escapable(raw[i + 1], with_equals)) ++i;
    out += raw[i];
  }
  return out;
}

// Bytes below 0x20 and DEL: refused outside string fields and comments, as
// the line-protocol grammar does (a tab is not a separator).
bool control(char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }

// NaN and infinities as strtod spells them, with an optional sign.
bool nan_or_infinity(std::string_view t) {
  if (!t.empty() && (t[0] == '-' || t[0] == '+')) t.remove_prefix(1);
  auto lower_equals = [&](std::string_view word) {
    if (t.size() != word.size()) return false;
    for (size_t i = 0; i < t.size(); ++i)
      if ((t[i] | 0x20) != word[i]) return false;
    return true;
  };
  return lower_equals("nan") || lower_equals("inf") || lower_equals("infinity");
}

// InfluxDB's limit on a series key: the measurement and tags as written,
// and with a field key as InfluxDB stores it (plus a 4-byte separator).
constexpr size_t kMaxSeriesKey = 65535;
constexpr size_t kFieldKeySeparator = 4;

bool is_bool(std::string_view t, bool &value) {
  if (t == "t" || t == "T" || t == "true" || t == "True" || t == "TRUE") {
    value = true;
    return true;
  }
  if (t == "f" || t == "F" || t == "false" || t == "False" || t == "FALSE") {
    value = false;
    return true;
  }
  return false;
}

const char *const kValueShapes =
    "expected a number (1.5), an integer (2i), an unsigned integer (2u), a boolean (true) or a quoted string";

struct Span {
  size_t begin, end;
};

class Parser {
 public:
  Parser(std::string_view body, TimePrecision precision, const IngestOptions &options, SeriesResolver &series,
         vitals::Batch &out, IngestCounts &counts)
      : body_(body),
        s_(body.data()),
        n_(body.size()),
        precision_(precision),
        options_(options),
        series_(series),
        out_(out),
        counts_(counts),
        receipt_ns_(round_down(options.now_ns, precision)) {}

  std::optional<IngestError> run() {
    size_t p = 0;
    while (p < n_) {
      const size_t line_begin = p;
      p = skip_spaces(p);
      if (p == n_) break;
      if (s_[p] == '\n') {
        ++p;
      } else if (s_[p] == '\r' && (p + 1 == n_ || s_[p + 1] == '\n')) {
        p += p + 1 == n_ ? 1 : 2;
      } else if (s_[p] == '#') {
        // A comment is skipped unread, bytes that are not UTF-8 included.
        while (p < n_ && s_[p] != '\n') ++p;
      } else if (auto e = line(p)) {
        return prefer_utf8_error(line_begin, std::move(*e));
      }
    }
    return std::nullopt;
  }

 private:
  // The time of receipt at the request's precision, as InfluxDB truncates it.
  static int64_t round_down(int64_t ns, TimePrecision precision) {
    const int64_t unit = static_cast<int64_t>(precision);
    int64_t rest = ns % unit;
    if (rest < 0) rest += unit;
    return ns - rest;
  }

  std::string_view text(Span span) const { return body_.substr(span.begin, span.end - span.begin); }
  IngestError fail(size_t at, std::string message) const { return error_at(body_, at, std::move(message)); }

  // Bytes that are not UTF-8 before an error (or on its line, which the
  // message may quote) are the better reason, and keep the reply valid JSON.
  IngestError prefer_utf8_error(size_t line_begin, IngestError e) const {
    if (!e.offset) return e;
    size_t end = *e.offset;
    while (end < n_ && s_[end] != '\n') ++end;
    if (auto u = check_utf8(body_, line_begin, end)) return std::move(*u);
    return e;
  }

  // Advances over a name or tag value up to an unescaped ',', ' ', (keys and
  // tag values) '=', or a control character, line ends included.
  size_t scan(size_t p, bool stop_at_equals, bool with_equals) const {
    while (p < n_) {
      char c = s_[p];
      if (c == '\\' && p + 1 < n_ && escapable(s_[p + 1], with_equals)) {
        p += 2;
        continue;
      }
      if (c == ',' || c == ' ' || control(c) || (stop_at_equals && c == '=')) break;
      ++p;
    }
    return p;
  }

  bool at_line_end(size_t p) const {
    return p == n_ || s_[p] == '\n' || (s_[p] == '\r' && (p + 1 == n_ || s_[p + 1] == '\n'));
  }
  size_t skip_spaces(size_t p) const {
    while (p < n_ && s_[p] == ' ') ++p;
    return p;
  }
  // A control character where a token ended, other than a line end.
  std::optional<IngestError> stray_control(size_t p) const {
    if (p >= n_ || !control(s_[p]) || at_line_end(p)) return std::nullopt;
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02X", static_cast<unsigned>(static_cast<unsigned char>(s_[p])));
    return fail(p, std::string("unexpected control character ") + hex + (s_[p] == '\t' ? " (a tab)" : "") +
                       " outside a string field or comment (separators are spaces)");
  }

  std::optional<IngestError> line(size_t &pos) {
    size_t p = pos;
    const size_t series_begin = p;
    p = scan(p, false, false);
    if (auto e = stray_control(p)) return e;
    if (p == series_begin) return fail(p, "missing measurement");
    measurement_ = {series_begin, p};
    tags_.clear();
    tag_keys_.clear();
    while (p < n_ && s_[p] == ',') {
      Span key{++p, 0};
      // Refused before any more work: a line may carry 100,000 tags.
      if (tags_.size() == options_.limits.max_labels)
        return fail(p, "too many tags: more than " + std::to_string(options_.limits.max_labels) + " (max_labels)");
      p = scan(p, true, true);
      key.end = p;
      if (auto e = stray_control(p)) return e;
      if (key.end == key.begin) return fail(p, "missing tag key");
      if (p >= n_ || s_[p] != '=')
        return fail(p, "tag " + quoted(text(key)) + " has no value (expected '=' after the tag key)");
      Span value{++p, 0};
      p = scan(p, true, true);
      value.end = p;
      if (auto e = stray_control(p)) return e;
      if (value.end == value.begin) return fail(p, "missing value for tag " + quoted(text(key)));
      if (p < n_ && s_[p] == '=')
        return fail(p, "unescaped '=' in the value of tag " + quoted(text(key)) + " (write \\= for an equals sign)");
      if (tag_keys_.insert(text(key), tags_.size())) return fail(key.begin, "duplicate tag " + quoted(text(key)));
      tags_.emplace_back(key, value);
    }
    const size_t series_end = p;
    const size_t series_length = series_end - series_begin;
    if (series_length > kMaxSeriesKey)
      return fail(series_begin, "the measurement and tags are " + std::to_string(series_length) +
                                    " bytes long: more than " + std::to_string(kMaxSeriesKey) +
                                    ", InfluxDB's limit on a series key");
    p = skip_spaces(p);
    if (auto e = stray_control(p)) return e;
    if (p == series_end || at_line_end(p))
      return fail(p, "missing fields (expected a space, then field=value after the measurement and tags)");

    fields_.clear();
    field_keys_.clear();
    for (;;) {
      Span key{p, 0};
      p = scan(p, true, true);
      key.end = p;
      if (auto e = stray_control(p)) return e;
      if (key.end == key.begin) return fail(p, "missing field key");
      if (p >= n_ || s_[p] != '=')
        return fail(p, "field " + quoted(text(key)) + " has no value (expected '=' after the field key)");
      ++p;
      if (field_keys_.insert(text(key), fields_.size())) return fail(key.begin, "duplicate field " + quoted(text(key)));
      if (series_length + kFieldKeySeparator + (key.end - key.begin) > kMaxSeriesKey)
        return fail(key.begin, "the series key of field " + quoted(text(key)) + " is " +
                                   std::to_string(series_length + kFieldKeySeparator + (key.end - key.begin)) +
                                   " bytes long: more than " + std::to_string(kMaxSeriesKey) +
                                   ", InfluxDB's limit on a series key");
      Field field{key, 0, true};
      if (p < n_ && s_[p] == '"') {
        size_t quote = p++;
        while (p < n_ && s_[p] != '"') p += (s_[p] == '\\' && p + 1 < n_) ? 2 : 1;
        if (p >= n_) return fail(quote, "unterminated string value for field " + quoted(text(key)));
        ++p;
        field.numeric = false;
      } else {
        size_t begin = p;
        while (p < n_ && s_[p] != ',' && s_[p] != ' ' && !control(s_[p])) ++p;
        if (auto e = stray_control(p)) return e;
        if (p == begin) return fail(p, "missing value for field " + quoted(text(key)));
        if (auto e = value({begin, p}, key, field.value)) return e;
      }
      fields_.push_back(field);
      if (p < n_ && s_[p] == ',') {
        ++p;
        continue;
      }
      break;
    }

    int64_t ts = receipt_ns_;
    size_t after_fields = p;
    p = skip_spaces(p);
    if (!at_line_end(p)) {
      if (p == after_fields) {
        if (auto e = stray_control(p)) return e;
        return fail(p, "unexpected " + quoted(body_.substr(p, 1)) + " after field " + quoted(text(fields_.back().key)) +
                           " (expected ',', a space or the end of the line)");
      }
      if (auto e = timestamp(p, ts)) return e;
      p = skip_spaces(p);
      if (auto e = stray_control(p)) return e;
      if (!at_line_end(p)) return fail(p, "unexpected text after the timestamp");
    }
    if (p < n_ && s_[p] == '\r') ++p;
    if (p < n_ && s_[p] == '\n') ++p;
    // Checked before anything of the line is interned.
    if (auto e = check_utf8(body_, series_begin, p)) return e;
    pos = p;
    return samples(series_begin, series_end, ts);
  }

  std::optional<IngestError> value(Span span, Span key, double &out) const {
    std::string_view t = text(span);
    const char *first = t.data(), *last = t.data() + t.size();
    char suffix = t.back();
    if (suffix == 'i' || suffix == 'u') {
      --last;
      std::from_chars_result r;
      if (suffix == 'i') {
        int64_t v = 0;
        r = std::from_chars(first, last, v);
        out = static_cast<double>(v);
      } else {
        uint64_t v = 0;
        r = std::from_chars(first, last, v);
        out = static_cast<double>(v);
      }
      if (r.ec == std::errc::result_out_of_range && r.ptr == last)
        return fail(span.begin, "integer " + quoted(t) + " out of range for field " + quoted(text(key)) +
                                    (suffix == 'i' ? " (int64)" : " (uint64)"));
      if (r.ec == std::errc() && r.ptr == last && first != last) return std::nullopt;
      // Not an integer after all: fall through to the error below.
    } else {
      bool b;
      if (is_bool(t, b)) {
        out = b ? 1 : 0;
        return std::nullopt;
      }
      if (nan_or_infinity(t))
        return fail(span.begin, "NaN and Infinity are not allowed (field " + quoted(text(key)) + ")");
      // A number starts with a digit, '.' or '-' (no '+'), so from_chars
      // never reads its own spellings of NaN and infinity here.
      size_t k = t[0] == '-' ? 1 : 0;
      bool numeric_start = k < t.size() && ((t[k] >= '0' && t[k] <= '9') || t[k] == '.');
      if (numeric_start) {
        auto r = std::from_chars(first, last, out);
        if (r.ptr == last && r.ec == std::errc::result_out_of_range) {
          // Tell overflow (an error) from underflow (reads as 0 or a subnormal).
          std::string copy(first, last);
          out = std::strtod(copy.c_str(), nullptr);
          if (std::isinf(out))
            return fail(span.begin,
                        "number " + quoted(t) + " out of range for field " + quoted(text(key)) + " (beyond a double)");
          return std::nullopt;
        }
        if (r.ec == std::errc() && r.ptr == last) return std::nullopt;
      }
    }
    return fail(span.begin, "invalid value " + quoted(t) + " for field " + quoted(text(key)) + ": " + kValueShapes);
  }

  std::optional<IngestError> timestamp(size_t &p, int64_t &ts) const {
    size_t begin = p;
    while (p < n_ && s_[p] != ' ' && !control(s_[p])) ++p;
    std::string_view t = body_.substr(begin, p - begin);
    if (t.empty()) {
      if (auto e = stray_control(p)) return e;
    }
    std::string error;
    auto ns = parse_epoch(t, precision_, error);
    if (!ns) return fail(begin, std::move(error));
    ts = *ns;
    return std::nullopt;
  }

  std::optional<IngestError> samples(size_t series_begin, size_t series_end, int64_t ts) {
    key_.assign(s_ + series_begin, series_end - series_begin);
    key_ += '\0';
    const size_t base = key_.size();
    line_series_.clear();
    for (size_t i = 0; i < fields_.size(); ++i) {
      const Field &f = fields_[i];
      if (!f.numeric) {
        ++counts_.string_fields_skipped;
        continue;
      }
      if (counts_.samples >= options_.max_samples) {
        IngestError e;
        e.status = 413;
        e.message = "too many samples in one request: more than " + std::to_string(options_.max_samples) +
                    " (max_samples); split it";
        return e;
      }
      key_.resize(base);
      key_.append(s_ + f.key.begin, f.key.end - f.key.begin);
      vitals_series_id_t id = series_.find(key_);
      if (!id) {
        auto e = resolve(f.key, id);
        if (e) return e;
      }
      // Distinct keys can sanitize to one name (rx-bytes, rx_bytes): the
      // second sample would overwrite the first at the same timestamp.
      if (auto earlier = line_series_.insert(id, i))
        return fail(f.key.begin, "fields " + quoted(text(fields_[*earlier].key)) + " and " + quoted(text(f.key)) +
                                     " name the same series once sanitized; rename one");
      out_.add(id, ts, f.value);
      ++counts_.samples;
    }
    return std::nullopt;
  }

  // A cache miss: decode, check or sanitize the names, intern.
  std::optional<IngestError> resolve(Span field_key, vitals_series_id_t &id) {
    std::string measurement = unescape(text(measurement_), false);
    std::string field = unescape(text(field_key), true);
    std::string name = field == "value" ? measurement : measurement + "_" + field;
    const char *rule = " (names match [a-zA-Z_:][a-zA-Z0-9_:.]*; sanitize_names = true replaces invalid characters)";
    if (options_.sanitize_names) {
      name = sanitize_series_name(name);
    } else if (!valid_series_name(measurement)) {
      return fail(measurement_.begin, "invalid measurement " + quoted(measurement) + rule);
    } else if (!valid_series_name(name)) {
      return fail(field_key.begin, "invalid field key " + quoted(field) + " for a series name" + rule);
    }
    labels_.clear();
    for (const auto &[key, value] : tags_) {
      std::string k = unescape(text(key), true);
      if (options_.sanitize_names) {
        k = sanitize_label_key(k);
      } else if (!valid_label_key(k)) {
        return fail(key.begin, "invalid tag key " + quoted(k) +
                                   " (label keys match [a-zA-Z_][a-zA-Z0-9_]*; sanitize_names = true replaces invalid "
                                   "characters)");
      }
      labels_.push_back({std::move(k), unescape(text(value), true)});
    }
    std::string error;
    id = series_.add(key_, name, labels_, options_.limits, error);
    if (!id) return fail(measurement_.begin, error);
    return std::nullopt;
  }

  struct Field {
    Span key;
    double value;
    bool numeric;
  };

  std::string_view body_;
  const char *s_;
  size_t n_;
  TimePrecision precision_;
  const IngestOptions &options_;
  SeriesResolver &series_;
  vitals::Batch &out_;
  IngestCounts &counts_;

  Span measurement_{0, 0};
  std::vector<std::pair<Span, Span>> tags_;
  DuplicateFinder<std::string_view> tag_keys_;  // raw keys: equal text, equal key
  std::vector<Field> fields_;
  DuplicateFinder<std::string_view> field_keys_;
  DuplicateFinder<vitals_series_id_t> line_series_;  // field index by series id
  int64_t receipt_ns_;
  std::string key_;
  std::vector<vitals::Label> labels_;
};

}  // namespace

std::optional<IngestError> parse_line_protocol(std::string_view body, TimePrecision precision,
                                               const IngestOptions &options, SeriesResolver &series, vitals::Batch &out,
                                               IngestCounts &counts) {
  // UTF-8 is checked line by line: a comment is not read at all. An empty
  // body, as for InfluxDB, is a write of nothing.
  size_t first = out.size();
  return series.finish(out, first, Parser(body, precision, options, series, out, counts).run());
}

}  // namespace vitals::http_telemetry
