// What makes a series: the rules for its name and label keys, its canonical
// text, and the id the agent gives it. Header-only; the agent's series
// registry and the SDK's test host (vitals/testing.hpp) both intern through
// these, so a plugin's unit test refuses exactly what the agent refuses and
// sees the ids the agent would give.
//
//   name       [a-zA-Z_:][a-zA-Z0-9_:.]*   (cpu_usage, node:load1, http.requests)
//   label key  [a-zA-Z_][a-zA-Z0-9_]*      (no ':' or '.'; each key once per series)
//   value      any bytes but NUL (a C string)
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vitals/plugin.h"

namespace vitals {

// May `c` stand in a series name (at its start when `first`)?
constexpr bool series_name_char(char c, bool first) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
         (!first && ((c >= '0' && c <= '9') || c == '.'));
}

// May `c` stand in a label key (at its start when `first`)?
constexpr bool label_key_char(char c, bool first) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (!first && c >= '0' && c <= '9');
}

inline bool valid_series_name(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i)
    if (!series_name_char(name[i], i == 0)) return false;
  return true;
}

inline bool valid_label_key(std::string_view key) {
  if (key.empty()) return false;
  for (size_t i = 0; i < key.size(); ++i)
    if (!label_key_char(key[i], i == 0)) return false;
  return true;
}

using SeriesLabels = std::vector<std::pair<std::string, std::string>>;

// Sorts `labels` by key and checks the series as the agent's intern does: a
// valid name, valid keys, no key twice. False if the agent would refuse it.
inline bool canonicalize_series(std::string_view name, SeriesLabels &labels) {
  if (!valid_series_name(name)) return false;
  std::sort(labels.begin(), labels.end());
  for (size_t i = 0; i < labels.size(); ++i) {
    if (!valid_label_key(labels[i].first)) return false;
    if (i > 0 && labels[i].first == labels[i - 1].first) return false;
  }
  return true;
}

// The C form of the same: nothing for a null key (a null value reads as "").
// False if a key is null.
inline bool series_labels_from_c(const vitals_label_t *labels, uint32_t n, SeriesLabels &out) {
  out.clear();
  if (n && !labels) return false;
  out.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    if (!labels[i].key) return false;
    out.emplace_back(labels[i].key, labels[i].value ? labels[i].value : "");
  }
  return true;
}

// Canonical text of a series: name{a="1",b="2"} with labels sorted by key and
// values escaped (\\, \", \n). Labels must already be sorted.
inline std::string canonical_series_text(std::string_view name, const SeriesLabels &sorted_labels) {
  std::string text(name);
  if (sorted_labels.empty()) return text;
  text += '{';
  bool first = true;
  for (const auto &[key, value] : sorted_labels) {
    if (!first) text += ',';
    first = false;
    text += key;
    text += "=\"";
    for (char c : value) {
      if (c == '\\' || c == '"') {
        text += '\\';
        text += c;
      } else if (c == '\n') {
        text += "\\n";
      } else {
        text += c;
      }
    }
    text += '"';
  }
  text += '}';
  return text;
}

// Ids are a hash of the canonical text (64-bit FNV-1a, below
// VITALS_SERIES_ID_PLACEHOLDER_MIN, never 0), so a series has the same id in
// every run and storage can rely on it. When the id is taken by another
// series, the next candidate is tried until a free one is found.
inline vitals_series_id_t series_id_first_candidate(std::string_view canonical_text) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : canonical_text) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  vitals_series_id_t id = h % VITALS_SERIES_ID_PLACEHOLDER_MIN;
  return id == 0 ? 1 : id;
}

inline vitals_series_id_t series_id_next_candidate(vitals_series_id_t id) {
  id = (id + 1) % VITALS_SERIES_ID_PLACEHOLDER_MIN;
  return id == 0 ? 1 : id;
}

}  // namespace vitals
