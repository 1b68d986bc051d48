// Shared parts of both request formats: error replies, UTF-8 checks, name
// rules and series resolution.
#include "ingest.hpp"

#include <cjson/cJSON.h>

#include <algorithm>
#include <cstring>
#include <memory>

namespace vitals::http_telemetry {

std::string IngestError::json() const {
  std::unique_ptr<cJSON, decltype(&cJSON_Delete)> root(cJSON_CreateObject(), cJSON_Delete);
  cJSON_AddStringToObject(root.get(), "error", message.c_str());
  if (line) cJSON_AddNumberToObject(root.get(), "line", static_cast<double>(*line));
  if (column) cJSON_AddNumberToObject(root.get(), "column", static_cast<double>(*column));
  if (offset) cJSON_AddNumberToObject(root.get(), "offset", static_cast<double>(*offset));
  if (path) cJSON_AddStringToObject(root.get(), "path", path->c_str());
  std::unique_ptr<char, decltype(&cJSON_free)> text(cJSON_PrintUnformatted(root.get()), cJSON_free);
  return text ? std::string(text.get()) : std::string("{\"error\":\"out of memory\"}");
}

IngestError error_at(std::string_view body, size_t offset, std::string message, int status) {
  if (offset > body.size()) offset = body.size();
  size_t line = 1, line_start = 0;
  for (size_t i = 0; i < offset; ++i) {
    if (body[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  IngestError e;
  e.status = status;
  e.message = std::move(message);
  e.line = line;
  e.column = offset - line_start + 1;
  e.offset = offset;
  return e;
}

namespace {

constexpr uint64_t kHighBits = 0x8080808080808080ull;
constexpr uint64_t kLowBits = 0x0101010101010101ull;

// Length of the valid UTF-8 sequence at s[i], or 0.
size_t utf8_sequence(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;  // overlong
    if (c == 0xED) hi = 0x9F;  // surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;  // overlong
    if (c == 0xF4) hi = 0x8F;  // past U+10FFFF
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (size_t k = 2; k < len; ++k)
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  return len;
}

bool digit(char c) { return c >= '0' && c <= '9'; }

template <typename Allowed>
std::string sanitize(std::string_view in, Allowed allowed) {
  std::string out;
  out.reserve(in.size() + 1);
  if (!in.empty() && digit(in[0])) out += '_';
  for (size_t i = 0; i < in.size();) {
    char c = in[i];
    if (allowed(c, out.empty())) {
      out += c;
      ++i;
      continue;
    }
    out += '_';
    size_t len = static_cast<unsigned char>(c) >= 0x80 ? utf8_sequence(in, i) : 1;
    i += len ? len : 1;
  }
  return out;
}

}  // namespace

std::optional<IngestError> check_utf8(std::string_view body) { return check_utf8(body, 0, body.size()); }

std::optional<IngestError> check_utf8(std::string_view whole, size_t from, size_t to) {
  // Sequences are read within [from, to): a line's last character ends at its line end.
  std::string_view body = whole.substr(0, to);
  size_t i = from, n = body.size();
  while (i < n) {
    if (i + 8 <= n) {
      uint64_t w;
      std::memcpy(&w, body.data() + i, 8);
      bool has_zero = ((w - kLowBits) & ~w & kHighBits) != 0;
      if ((w & kHighBits) == 0 && !has_zero) {
        i += 8;
        continue;
      }
    }
    unsigned char c = static_cast<unsigned char>(body[i]);
    if (c == 0) return error_at(body, i, "NUL byte in the body at byte offset " + std::to_string(i));
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = utf8_sequence(body, i);
    if (!len) return error_at(body, i, "invalid UTF-8 at byte offset " + std::to_string(i));
    i += len;
  }
  return std::nullopt;
}

std::string sanitize_series_name(std::string_view name) { return sanitize(name, series_name_char); }
std::string sanitize_label_key(std::string_view key) { return sanitize(key, label_key_char); }

std::string quoted(std::string_view text) {
  constexpr size_t max_bytes = 64;
  if (text.size() <= max_bytes) return "'" + std::string(text) + "'";
  size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return "'" + std::string(text.substr(0, cut)) + "...'";
}

namespace {

std::string too_long(const std::string &what, size_t length, size_t limit, const char *setting) {
  return what + " is " + std::to_string(length) + " bytes long: more than " + std::to_string(limit) + " (" + setting +
         ")";
}

}  // namespace

vitals_series_id_t SeriesResolver::add(std::string_view key, const std::string &name,
                                       const std::vector<vitals::Label> &labels, const SeriesLimits &limits,
                                       std::string &error) {
  if (name.size() > limits.max_name_length) {
    error = too_long("series name " + quoted(name), name.size(), limits.max_name_length, "max_name_length");
    return 0;
  }
  c_labels_.clear();
  label_keys_.clear();
  for (const auto &l : labels) {
    if (label_keys_.insert(l.key, c_labels_.size())) {
      error = "duplicate label " + quoted(l.key);
      return 0;
    }
    if (l.key.size() > limits.max_name_length) {
      error = too_long("label key " + quoted(l.key), l.key.size(), limits.max_name_length, "max_name_length");
      return 0;
    }
    if (l.value.size() > limits.max_label_value_length) {
      error = too_long("value of label " + quoted(l.key), l.value.size(), limits.max_label_value_length,
                       "max_label_value_length");
      return 0;
    }
    c_labels_.push_back({l.key.c_str(), l.value.c_str()});
  }
  // Configured labels fill in what the request did not set.
  for (const auto &extra : extra_labels_)
    if (!label_keys_.insert(extra.key, c_labels_.size())) c_labels_.push_back({extra.key.c_str(), extra.value.c_str()});
  if (c_labels_.size() > limits.max_labels) {
    error = "too many labels: " + std::to_string(c_labels_.size()) + " with the configured ones, more than " +
            std::to_string(limits.max_labels) + " (max_labels)";
    return 0;
  }
  // The series' identity: its name and labels sorted by key (keys are
  // unique), NUL-separated (neither format lets a NUL into a name or value).
  std::sort(c_labels_.begin(), c_labels_.end(),
            [](const vitals_label_t &a, const vitals_label_t &b) { return std::strcmp(a.key, b.key) < 0; });
  identity_ = name;
  for (const auto &l : c_labels_) {
    identity_ += '\0';
    identity_ += l.key;
    identity_ += '\0';
    identity_ += l.value;
  }
  const size_t identity_hash = std::hash<std::string_view>{}(identity_);
  if (vitals_series_id_t id = known_id(name, identity_hash)) {
    cache_.insert(key, identity_hash, id);
    return id;
  }
  auto [it, added] = new_by_identity_.try_emplace(identity_, new_series_.size());
  if (added) {
    NewSeries series{name, identity_hash, {}, 0};
    for (const auto &l : c_labels_) series.labels.push_back({l.key, l.value});
    new_series_.push_back(std::move(series));
  }
  pending_keys_.try_emplace(std::string(key), it->second);
  return placeholder(it->second);
}

std::optional<IngestError> SeriesResolver::finish(vitals::Batch &out, size_t first,
                                                  std::optional<IngestError> parse_error) {
  if (parse_error || new_series_.empty()) {
    forget_new_series();
    return parse_error;
  }
  for (NewSeries &series : new_series_) {
    c_labels_.clear();
    for (const auto &l : series.labels) c_labels_.push_back({l.key.c_str(), l.value.c_str()});
    series.id = registry_.intern(series.name.c_str(), c_labels_.data(), static_cast<uint32_t>(c_labels_.size()));
    if (!series.id) {
      // Names were checked here: a refusal means the registry is full, a
      // condition to retry (503), not a 400 that clients drop.
      IngestError e;
      e.status = 503;
      e.message = "the agent refused the new series " + quoted(series.name) +
                  ": its series limit is reached ([agent] max_series); retry later, or raise the limit";
      forget_new_series();
      return e;
    }
    ++interned_;
  }
  for (size_t i = first; i < out.size(); ++i)
    if (vitals_series_id_t id = out.series(i); id >= VITALS_SERIES_ID_PLACEHOLDER_MIN)
      out.set_series(i, new_series_[id - VITALS_SERIES_ID_PLACEHOLDER_MIN].id);
  for (const auto &[key, index] : pending_keys_)
    cache_.insert(key, new_series_[index].identity_hash, new_series_[index].id);
  forget_new_series();
  return std::nullopt;
}

vitals_series_id_t SeriesResolver::known_id(const std::string &name, size_t identity_hash) const {
  vitals_series_id_t id = cache_.find_identity(identity_hash);
  if (!id) return 0;
  // Hashes collide, however rarely: the candidate must be this series.
  const vitals_series_t *s = registry_.series(id);
  if (!s || name != s->name || s->n_labels != c_labels_.size()) return 0;
  for (size_t i = 0; i < c_labels_.size(); ++i)
    if (std::strcmp(c_labels_[i].key, s->labels[i].key) != 0 ||
        std::strcmp(c_labels_[i].value, s->labels[i].value) != 0)
      return 0;
  return id;
}

void SeriesResolver::forget_new_series() {
  new_series_.clear();
  new_by_identity_.clear();
  pending_keys_.clear();
}

}  // namespace vitals::http_telemetry
