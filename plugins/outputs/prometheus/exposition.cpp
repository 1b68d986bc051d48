// Encoding of the Prometheus text exposition format 0.0.4.
#include "exposition.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <map>
#include <set>

#include "vitals/json_writer.hpp"

namespace vitals::prometheus {

namespace {

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() > suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// HELP text escapes only \ and newline.
void append_help(std::string &out, std::string_view text) {
  for (char c : text) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
}

bool numeric_le(const std::string &le) {
  if (le.empty()) return false;
  char *end = nullptr;
  std::strtod(le.c_str(), &end);
  return end == le.c_str() + le.size();
}

double le_value(const std::string &le) { return std::strtod(le.c_str(), nullptr); }

enum class Type { gauge, counter, untyped, histogram };

const char *type_name(Type t) {
  switch (t) {
    case Type::counter:
      return "counter";
    case Type::untyped:
      return "untyped";
    case Type::histogram:
      return "histogram";
    default:
      return "gauge";
  }
}

struct Family {
  Type type = Type::gauge;
  std::string help;
  std::vector<const ExposedSample *> samples;
};

// Part order inside a histogram: every bucket by le, then _sum, then _count.
int histogram_part(const ExposedSample &s) {
  return ends_with(s.name, "_bucket") ? 0 : ends_with(s.name, "_sum") ? 1 : 2;
}

}  // namespace

std::string metric_name(std::string_view name) {
  std::string out;
  out.reserve(name.size() + 1);
  if (name.empty() || is_digit(name[0])) out += '_';
  for (char c : name) out += is_alpha(c) || is_digit(c) || c == ':' ? c : '_';
  return out;
}

std::string label_name(std::string_view name) {
  std::string out;
  out.reserve(name.size() + 6);
  if (name.empty() || is_digit(name[0])) out += '_';
  if (name.substr(0, 2) == "__") out += "label_";
  for (char c : name) out += is_alpha(c) || is_digit(c) ? c : '_';
  return out;
}

void append_label_value(std::string &out, std::string_view value) {
  for (size_t i = 0; i < value.size();) {
    auto c = static_cast<unsigned char>(value[i]);
    if (c >= 0x80) {
      size_t n = json::utf8_length(value, i);
      if (n == 0) {
        out += "\xEF\xBF\xBD";  // U+FFFD
        ++i;
      } else {
        out.append(value.substr(i, n));
        i += n;
      }
      continue;
    }
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += static_cast<char>(c);
    ++i;
  }
}

void append_value(std::string &out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
  } else if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
  } else {
    char text[32];
    auto r = std::to_chars(text, text + sizeof text, value);
    out.append(text, r.ptr);
  }
}

std::string encode_page(std::vector<const ExposedSample *> samples, bool timestamps) {
  // Per name and label set, the newest sample (sanitising may merge series).
  std::map<std::string, std::map<std::string, const ExposedSample *>> by_name;
  for (const ExposedSample *s : samples) {
    const ExposedSample *&slot = by_name[s->name][s->labels];
    if (!slot || s->ts_ns >= slot->ts_ns) slot = s;
  }

  std::map<std::string, Family> families;
  std::set<std::string> in_histogram;
  for (const auto &[name, series] : by_name) {
    if (!ends_with(name, "_bucket")) continue;
    std::string base = name.substr(0, name.size() - 7);
    if (by_name.count(base) || !by_name.count(base + "_sum") || !by_name.count(base + "_count")) continue;
    bool buckets_ok =
        std::all_of(series.begin(), series.end(), [](const auto &kv) { return numeric_le(kv.second->le); });
    if (!buckets_ok) continue;
    Family &f = families[base];
    f.type = Type::histogram;
    f.help = "Vitals histogram " + base;
    for (const char *part : {"_bucket", "_sum", "_count"}) {
      in_histogram.insert(base + part);
      for (const auto &[labels, s] : by_name[base + part]) f.samples.push_back(s);
    }
    std::sort(f.samples.begin(), f.samples.end(), [](const ExposedSample *a, const ExposedSample *b) {
      if (a->group_labels() != b->group_labels()) return a->group_labels() < b->group_labels();
      int pa = histogram_part(*a), pb = histogram_part(*b);
      if (pa != pb) return pa < pb;
      return le_value(a->le) < le_value(b->le);
    });
  }
  for (const auto &[name, series] : by_name) {
    if (in_histogram.count(name)) continue;
    Family &f = families[name];
    f.type = ends_with(name, "_total")                                                            ? Type::counter
             : ends_with(name, "_bucket") || ends_with(name, "_sum") || ends_with(name, "_count") ? Type::untyped
                                                                                                  : Type::gauge;
    f.help = "Vitals series " + series.begin()->second->help;
    for (const auto &[labels, s] : series) f.samples.push_back(s);
  }

  std::string out;
  out.reserve(samples.size() * 64);
  for (const auto &[name, f] : families) {
    out += "# HELP ";
    out += name;
    out += ' ';
    append_help(out, f.help);
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type_name(f.type);
    out += '\n';
    for (const ExposedSample *s : f.samples) {
      out += s->name;
      if (!s->labels.empty()) {
        out += '{';
        out += s->labels;
        out += '}';
      }
      out += ' ';
      append_value(out, s->value);
      if (timestamps) {
        out += ' ';
        json::append_int(out, s->ts_ns / 1'000'000);
      }
      out += '\n';
    }
  }
  return out;
}

}  // namespace vitals::prometheus
