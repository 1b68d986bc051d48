// Writing JSON by hand, fast and exact: int64 nanoseconds as integers,
// shortest round-trip doubles (NaN and infinities as null), strings escaped
// (invalid UTF-8 becomes U+FFFD so every document parses). Header-only.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

#include "vitals/plugin.h"

namespace vitals::json {

// Length of the well-formed UTF-8 sequence starting at s[i], or 0.
inline size_t utf8_length(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0u; };
  auto continuation = [&](size_t k) { return (byte(k) & 0xC0) == 0x80; };
  unsigned lead = byte(0);
  if (lead >= 0xC2 && lead <= 0xDF) return continuation(1) ? 2 : 0;
  if (lead >= 0xE0 && lead <= 0xEF) {
    unsigned second = byte(1);
    if ((lead == 0xE0 && second < 0xA0) || (lead == 0xED && second > 0x9F)) return 0;
    return continuation(1) && continuation(2) ? 3 : 0;
  }
  if (lead >= 0xF0 && lead <= 0xF4) {
    unsigned second = byte(1);
    if ((lead == 0xF0 && second < 0x90) || (lead == 0xF4 && second > 0x8F)) return 0;
    return continuation(1) && continuation(2) && continuation(3) ? 4 : 0;
  }
  return 0;
}

inline void append_string(std::string &out, std::string_view s) {
  out += '"';
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      size_t n = utf8_length(s, i);
      if (n == 0) {
        out += "\\ufffd";
        ++i;
      } else {
        out.append(s.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20) {
          static constexpr char hex[] = "0123456789abcdef";
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 0xF];
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  out += '"';
}

inline void append_int(std::string &out, int64_t value) {
  char text[24];
  auto r = std::to_chars(text, text + sizeof text, value);
  out.append(text, r.ptr);
}

// JSON has no NaN or infinity: they are written as null.
inline void append_double(std::string &out, double value) {
  if (!std::isfinite(value)) {
    out += "null";
    return;
  }
  char text[32];
  auto r = std::to_chars(text, text + sizeof text, value);
  out.append(text, r.ptr);
}

// {"key":"value",...}
inline void append_labels(std::string &out, const vitals_label_t *labels, uint32_t n) {
  out += '{';
  for (uint32_t i = 0; i < n; ++i) {
    if (i) out += ',';
    append_string(out, labels[i].key ? labels[i].key : "");
    out += ':';
    append_string(out, labels[i].value ? labels[i].value : "");
  }
  out += '}';
}

// An event's fields after its timestamp, the same in every output:
// "severity":"warning","source":"...","message":"...","labels":{...}
inline void append_event_fields(std::string &out, std::string_view severity, const vitals_event_t &e) {
  out += "\"severity\":";
  append_string(out, severity);
  out += ",\"source\":";
  append_string(out, e.source ? e.source : "");
  out += ",\"message\":";
  append_string(out, e.message ? e.message : "");
  out += ",\"labels\":";
  append_labels(out, e.labels, e.n_labels);
}

}  // namespace vitals::json
