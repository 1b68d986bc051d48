// JSON telemetry parser: cJSON for the syntax, then one walk that checks every
// value (reporting a JSON path) and resolves series through the cache, keyed
// by the raw labels and name so a repeated shape never re-interns.
#include "json_ingest.hpp"

#include <cjson/cJSON.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "duplicate_finder.hpp"
#include "json_syntax.hpp"
#include "vitals/time_parse.hpp"

namespace vitals::http_telemetry {

namespace {

std::string join(std::string_view path, std::string_view key) {
  return path.empty() ? std::string(key) : std::string(path) + "." + std::string(key);
}
std::string element(std::string_view path, size_t i) { return std::string(path) + "[" + std::to_string(i) + "]"; }

// A semantic error: the message names the path too, for people reading it.
IngestError at(std::string path, std::string message) {
  IngestError e;
  e.message = path.empty() ? std::move(message) + " in the top-level object" : std::move(message) + " at " + path;
  e.path = std::move(path);
  return e;
}

const char *type_name(const cJSON *v) {
  if (cJSON_IsString(v)) return "a string";
  if (cJSON_IsNumber(v)) return "a number";
  if (cJSON_IsBool(v)) return "a boolean";
  if (cJSON_IsNull(v)) return "null";
  if (cJSON_IsArray(v)) return "an array";
  if (cJSON_IsObject(v)) return "an object";
  return "an invalid value";
}

bool blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Where cJSON refuses what the grammar allowed (nothing known today), its
// own position stands.
IngestError cjson_error(std::string_view body, size_t cjson_offset) {
  size_t offset = std::min(cjson_offset, body.size());
  std::string_view rest = body.substr(offset, 16);
  size_t cut = rest.size();
  while (cut > 0 && cut < body.size() - offset && (static_cast<unsigned char>(body[offset + cut]) & 0xC0) == 0x80)
    --cut;
  return error_at(body, offset, "invalid JSON near " + quoted(rest.substr(0, cut)));
}

const char *const kNameRule =
    " (names match [a-zA-Z_:][a-zA-Z0-9_:.]*; sanitize_names = true replaces invalid characters)";
const char *const kLabelRule =
    " (label keys match [a-zA-Z_][a-zA-Z0-9_]*; sanitize_names = true replaces invalid characters)";

class Walker {
 public:
  Walker(const IngestOptions &options, SeriesResolver &series, vitals::Batch &out, IngestCounts &counts)
      : options_(options), series_(series), out_(out), counts_(counts) {}

  // The body's root object, or one element of its root array.
  std::optional<IngestError> root_item(const cJSON *item) {
    if (!cJSON_IsObject(item))
      return at("", std::string("the body must be a JSON object or an array of objects, got ") + type_name(item));
    return this->item(item, "");
  }
  std::optional<IngestError> array_item(const cJSON *item, size_t i) {
    std::string path = element("", i);
    if (!cJSON_IsObject(item)) return at(path, std::string("expected an object, got ") + type_name(item));
    return this->item(item, path);
  }

 private:
  // cJSON keeps every member of an object, duplicates included. Only the
  // objects the walk reads are checked: anything nested deeper is refused as
  // a wrong type anyway, and a check of the whole tree that spelled out a
  // path per level cost memory quadratic in the depth (1000 levels under
  // 16 KB keys: gigabytes).
  std::optional<IngestError> unique_members(const cJSON *obj, const std::string &path) {
    member_keys_.clear();
    size_t i = 0;
    for (const cJSON *c = obj->child; c; c = c->next, ++i)
      if (member_keys_.insert(c->string ? c->string : "", i)) return at(path, "duplicate key " + quoted(c->string));
    return std::nullopt;
  }

  std::optional<IngestError> item(const cJSON *obj, const std::string &path) {
    if (auto e = unique_members(obj, path)) return e;
    if (cJSON_GetObjectItemCaseSensitive(obj, "signals")) return sensor(obj, path);
    if (cJSON_GetObjectItemCaseSensitive(obj, "name")) return explicit_form(obj, path);
    return at(path, "expected \"signals\" (sensor shape) or \"name\" (explicit form)");
  }

  std::optional<IngestError> sensor(const cJSON *obj, const std::string &path) {
    const cJSON *ts = nullptr, *signals = nullptr, *labels = nullptr, *device = nullptr;
    for (const cJSON *c = obj->child; c; c = c->next) {
      std::string_view key = c->string;
      if (key == "timestamp") {
        ts = c;
      } else if (key == "signals") {
        signals = c;
      } else if (key == "labels") {
        labels = c;
      } else if (key == "device" || key == "source") {
        if (device) return at(path, "give either \"device\" or \"source\", not both");
        device = c;
      } else {
        return at(join(path, key),
                  "unknown key " + quoted(key) + " (expected timestamp, signals, labels, device or source)");
      }
    }
    int64_t t = options_.now_ns;
    if (ts)
      if (auto e = timestamp(ts, join(path, "timestamp"), t)) return e;
    std::string signals_path = join(path, "signals");
    if (!cJSON_IsObject(signals))
      return at(signals_path, std::string("\"signals\" must be an object of name: value, got ") + type_name(signals));
    if (auto e = unique_members(signals, signals_path)) return e;
    if (auto e = begin_labels(labels, path)) return e;
    if (device) {
      std::string device_path = join(path, device->string);
      if (!cJSON_IsString(device) || !*device->valuestring)
        return at(device_path, quoted(device->string) + " must be a non-empty string");
      for (const auto &l : raw_labels_)
        if (std::string_view(l.first) == "device")
          return at(device_path, quoted(device->string) + " conflicts with the label \"device\" in \"labels\"");
      add_raw_label("device", device->valuestring);
    }
    key_ += '\x01';
    prefix_size_ = key_.size();
    item_series_.clear();
    signal_names_.clear();
    for (const cJSON *s = signals->child; s; s = s->next) {
      double v;
      if (auto e = value(s, signals_path, s->string, v)) return e;
      vitals_series_id_t id;
      if (auto e = add(s->string, t, v, signals_path, s->string, id)) return e;
      // Distinct names can sanitize to one (rx-bytes, rx_bytes): the second
      // sample would overwrite the first at the same timestamp.
      if (auto earlier = item_series_.insert(id, signal_names_.size()))
        return at(signals_path, "signals " + quoted(signal_names_[*earlier]) + " and " + quoted(s->string) +
                                    " name the same series once sanitized; rename one");
      signal_names_.push_back(s->string);
    }
    return std::nullopt;
  }

  std::optional<IngestError> explicit_form(const cJSON *obj, const std::string &path) {
    const cJSON *name = nullptr, *labels = nullptr, *ts = nullptr, *val = nullptr;
    for (const cJSON *c = obj->child; c; c = c->next) {
      std::string_view key = c->string;
      if (key == "name") {
        name = c;
      } else if (key == "labels") {
        labels = c;
      } else if (key == "ts") {
        ts = c;
      } else if (key == "value") {
        val = c;
      } else {
        return at(join(path, key), "unknown key " + quoted(key) + " (expected name, labels, ts or value)");
      }
    }
    if (!cJSON_IsString(name))
      return at(join(path, "name"), std::string("\"name\" must be a string, got ") + type_name(name));
    if (!val) return at(path, "missing \"value\"");
    double v;
    if (auto e = value(val, path, "value", v)) return e;
    int64_t t = options_.now_ns;
    if (ts)
      if (auto e = timestamp(ts, join(path, "ts"), t)) return e;
    if (auto e = begin_labels(labels, path)) return e;
    key_ += '\x01';
    prefix_size_ = key_.size();
    vitals_series_id_t id;
    return add(name->valuestring, t, v, path, "name", id);
  }

  // Checks the item's labels and starts its cache key with them.
  std::optional<IngestError> begin_labels(const cJSON *labels, const std::string &path) {
    key_.clear();
    raw_labels_.clear();
    labels_built_ = false;
    if (!labels) return std::nullopt;
    std::string labels_path = join(path, "labels");
    if (!cJSON_IsObject(labels))
      return at(labels_path, std::string("\"labels\" must be an object of string values, got ") + type_name(labels));
    if (static_cast<size_t>(cJSON_GetArraySize(labels)) > options_.limits.max_labels)
      return at(labels_path,
                "too many labels: more than " + std::to_string(options_.limits.max_labels) + " (max_labels)");
    if (auto e = unique_members(labels, labels_path)) return e;
    for (const cJSON *l = labels->child; l; l = l->next) {
      if (!cJSON_IsString(l))
        return at(join(labels_path, l->string), std::string("a label value must be a string, got ") + type_name(l));
      add_raw_label(l->string, l->valuestring);
    }
    labels_path_ = labels_path;
    return std::nullopt;
  }

  void add_raw_label(const char *key, const char *value) {
    raw_labels_.emplace_back(key, value);
    key_ += key;
    key_ += '\0';
    key_ += value;
    key_ += '\0';
  }

  std::optional<IngestError> value(const cJSON *v, const std::string &parent, std::string_view key, double &out) {
    if (cJSON_IsBool(v)) {
      out = cJSON_IsTrue(v) ? 1 : 0;
      return std::nullopt;
    }
    if (!cJSON_IsNumber(v))
      return at(join(parent, key), std::string("a value must be a number or a boolean, got ") + type_name(v));
    if (!std::isfinite(v->valuedouble)) return at(join(parent, key), "number out of range (beyond a double)");
    out = v->valuedouble;
    return std::nullopt;
  }

  std::optional<IngestError> timestamp(const cJSON *v, const std::string &path, int64_t &out) {
    if (cJSON_IsNumber(v)) {
      if (!std::isfinite(v->valuedouble)) return at(path, "number out of range (beyond a double)");
      std::string error;
      auto ns = epoch_number_to_ns(v->valuedouble, error);
      if (!ns) return at(path, error);
      out = *ns;
      return std::nullopt;
    }
    if (cJSON_IsString(v)) {
      std::string error;
      auto ns = parse_rfc3339(v->valuestring, error);
      if (!ns) return at(path, error);
      out = *ns;
      return std::nullopt;
    }
    return at(path, std::string("a timestamp must be an RFC 3339 string or an epoch number, got ") + type_name(v));
  }

  std::optional<IngestError> add(const char *raw_name, int64_t ts, double v, const std::string &parent,
                                 std::string_view key, vitals_series_id_t &id) {
    if (counts_.samples >= options_.max_samples) {
      IngestError e;
      e.status = 413;
      e.message = "too many samples in one request: more than " + std::to_string(options_.max_samples) +
                  " (max_samples); split it";
      return e;
    }
    key_.resize(prefix_size_);
    key_ += raw_name;
    id = series_.find(key_);
    if (!id) {
      std::string_view raw(raw_name);
      if (raw.empty()) return at(join(parent, key), "empty series name");
      std::string name;
      if (options_.sanitize_names) {
        name = sanitize_series_name(raw);
      } else if (valid_series_name(raw)) {
        name = raw;
      } else {
        return at(join(parent, key), "invalid series name " + quoted(raw) + kNameRule);
      }
      if (auto e = build_labels()) return e;
      std::string error;
      id = series_.add(key_, name, labels_, options_.limits, error);
      if (!id) return at(join(parent, key), error);
    }
    out_.add(id, ts, v);
    ++counts_.samples;
    return std::nullopt;
  }

  // Decoded labels of the current item, built on its first cache miss.
  std::optional<IngestError> build_labels() {
    if (labels_built_) return std::nullopt;
    labels_.clear();
    for (const auto &[raw_key, value] : raw_labels_) {
      std::string_view k(raw_key);
      std::string key;
      if (valid_label_key(k)) {
        key = k;
      } else if (options_.sanitize_names && !k.empty()) {
        key = sanitize_label_key(k);
      } else {
        return at(join(labels_path_, k), "invalid label key " + quoted(k) + kLabelRule);
      }
      labels_.push_back({std::move(key), value});
    }
    labels_built_ = true;
    return std::nullopt;
  }

  const IngestOptions &options_;
  SeriesResolver &series_;
  vitals::Batch &out_;
  IngestCounts &counts_;

  std::string key_;  // labels, '\x01', name: the cache key
  size_t prefix_size_ = 0;
  std::vector<std::pair<const char *, const char *>> raw_labels_;
  std::string labels_path_;
  std::vector<vitals::Label> labels_;
  bool labels_built_ = false;
  DuplicateFinder<std::string_view> member_keys_;
  DuplicateFinder<vitals_series_id_t> item_series_;  // signal index by series id
  std::vector<const char *> signal_names_;
};

}  // namespace

namespace {

using JsonTree = std::unique_ptr<cJSON, decltype(&cJSON_Delete)>;

// cJSON's tree of body[begin, end), which the grammar check accepted.
JsonTree build(std::string_view body, size_t begin, size_t end, std::optional<IngestError> &error) {
  const char *stop = nullptr;
  // Not require_null_terminated: with an explicit length cJSON 1.7.15 would
  // then demand a NUL inside the buffer. The grammar check refused trailing data.
  JsonTree tree(cJSON_ParseWithLengthOpts(body.data() + begin, end - begin, &stop, false), cJSON_Delete);
  if (!tree) error = cjson_error(body, stop ? static_cast<size_t>(stop - body.data()) : begin);
  return tree;
}

size_t skip_blanks(std::string_view body, size_t p) {
  while (p < body.size() && blank(body[p])) ++p;
  return p;
}

std::optional<IngestError> walk(std::string_view body, const IngestOptions &options, SeriesResolver &series,
                                vitals::Batch &out, IngestCounts &counts) {
  if (auto e = check_utf8(body)) return e;
  if (std::all_of(body.begin(), body.end(), blank)) return IngestError{400, "empty body", {}, {}, {}, {}};
  // A cJSON node costs ~100 bytes however small its text: the tree of a
  // whole body of tiny items is many times the body. So a root array is
  // built one element at a time (the sample limit stops the walk before the
  // rest is built), and an item holding more values than a valid one can
  // (max_samples signals, max_labels labels, its own five keys) is refused
  // before it is built.
  const size_t max_item_values = options.max_samples + options.limits.max_labels + 6;
  if (auto e = find_json_syntax_error(body, max_item_values)) {
    if (!e->too_many_values) return error_at(body, e->offset, "invalid JSON: " + e->reason);
    return error_at(body, e->offset,
                    "too many samples in one request: an item holds more than " + std::to_string(max_item_values) +
                        " JSON values, more than max_samples (" + std::to_string(options.max_samples) +
                        ") allows; split it",
                    413);
  }
  Walker walker(options, series, out, counts);
  std::optional<IngestError> error;
  size_t p = skip_blanks(body, 0);
  if (body[p] != '[') {
    JsonTree tree = build(body, p, body.size(), error);
    return tree ? walker.root_item(tree.get()) : error;
  }
  p = skip_blanks(body, p + 1);
  for (size_t i = 0; body[p] != ']'; ++i) {
    size_t end = json_value_end(body, p);
    JsonTree tree = build(body, p, end, error);
    if (!tree) return error;
    if (auto e = walker.array_item(tree.get(), i)) return e;
    p = skip_blanks(body, end);
    if (body[p] == ',') p = skip_blanks(body, p + 1);
  }
  return std::nullopt;
}

}  // namespace

std::optional<IngestError> parse_json_telemetry(std::string_view body, const IngestOptions &options,
                                                SeriesResolver &series, vitals::Batch &out, IngestCounts &counts) {
  size_t first = out.size();
  return series.finish(out, first, walk(body, options, series, out, counts));
}

}  // namespace vitals::http_telemetry
