// Parsing of the human units used in configs: durations ("500ms", "1h30m")
// and sizes ("64KB", "10MiB"). Header-only; shared by the host and plugins.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>

namespace vitals {

// Parses a duration made of one or more <number><unit> parts, units ns, us,
// ms, s, m, h, d, w (e.g. "1s", "1h30m", "1.5s"). Returns nanoseconds, or
// nothing if the text is malformed, negative or overflows.
inline std::optional<int64_t> parse_duration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  double total = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    bool seen_dot = false;
    while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || (text[i] == '.' && !seen_dot))) {
      if (text[i] == '.') seen_dot = true;
      ++i;
    }
    if (i == start) return std::nullopt;
    double number = 0, scale = 1;
    bool fraction = false;
    for (size_t k = start; k < i; ++k) {
      if (text[k] == '.') {
        fraction = true;
        continue;
      }
      if (fraction) {
        scale /= 10;
        number += (text[k] - '0') * scale;
      } else {
        number = number * 10 + (text[k] - '0');
      }
    }
    size_t unit_start = i;
    while (i < text.size() && ((text[i] >= 'a' && text[i] <= 'z') || (text[i] >= 'A' && text[i] <= 'Z'))) ++i;
    std::string_view unit = text.substr(unit_start, i - unit_start);
    double ns_per_unit = 0;
    if (unit == "ns")
      ns_per_unit = 1;
    else if (unit == "us")
      ns_per_unit = 1e3;
    else if (unit == "ms")
      ns_per_unit = 1e6;
    else if (unit == "s")
      ns_per_unit = 1e9;
    else if (unit == "m")
      ns_per_unit = 60e9;
    else if (unit == "h")
      ns_per_unit = 3600e9;
    else if (unit == "d")
      ns_per_unit = 86400e9;
    else if (unit == "w")
      ns_per_unit = 604800e9;
    else
      return std::nullopt;
    total += number * ns_per_unit;
  }
  if (total >= static_cast<double>(std::numeric_limits<int64_t>::max())) return std::nullopt;
  return static_cast<int64_t>(total);
}

// Parses a size: a bare integer (bytes) or <number><unit> with B, KB, MB, GB,
// TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024). Returns bytes.
inline std::optional<uint64_t> parse_size(std::string_view text) {
  size_t i = 0;
  double number = 0, scale = 1;
  bool fraction = false, any_digit = false;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c >= '0' && c <= '9') {
      any_digit = true;
      if (fraction) {
        scale /= 10;
        number += (c - '0') * scale;
      } else {
        number = number * 10 + (c - '0');
      }
    } else if (c == '.' && !fraction) {
      fraction = true;
    } else {
      break;
    }
  }
  if (!any_digit) return std::nullopt;
  std::string_view unit = text.substr(i);
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  double multiplier = 0;
  if (unit.empty() || unit == "B")
    multiplier = 1;
  else if (unit == "KB" || unit == "kB")
    multiplier = 1e3;
  else if (unit == "MB")
    multiplier = 1e6;
  else if (unit == "GB")
    multiplier = 1e9;
  else if (unit == "TB")
    multiplier = 1e12;
  else if (unit == "KiB")
    multiplier = 1024.0;
  else if (unit == "MiB")
    multiplier = 1024.0 * 1024;
  else if (unit == "GiB")
    multiplier = 1024.0 * 1024 * 1024;
  else if (unit == "TiB")
    multiplier = 1024.0 * 1024 * 1024 * 1024;
  else
    return std::nullopt;
  double bytes = number * multiplier;
  if (bytes >= static_cast<double>(std::numeric_limits<uint64_t>::max())) return std::nullopt;
  return static_cast<uint64_t>(bytes);
}

}  // namespace vitals
