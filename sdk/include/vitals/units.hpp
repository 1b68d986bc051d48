// Parsing of the human units used in configs: durations ("500ms", "1h30m")
// and sizes ("64KB", "10MiB"). Header-only; shared by the host and plugins.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>

namespace vitals {

namespace units_detail {

// Reads a decimal number "12" or "1.25" at text[i]; digits are required on
// both sides of a '.'. Returns nothing if there is no well-formed number.
inline std::optional<double> read_number(std::string_view text, size_t &i, bool &has_fraction) {
  size_t start = i;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
  if (i == start) return std::nullopt;
  has_fraction = false;
  if (i < text.size() && text[i] == '.') {
    size_t frac = ++i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    if (i == frac) return std::nullopt;
    has_fraction = true;
  }
  // strtod-free: the digits are few and decimal; long double keeps them exact
  // enough that rounding at the end gives the intended integer.
  long double value = 0, scale = 1;
  bool after_dot = false;
  for (size_t k = start; k < i; ++k) {
    if (text[k] == '.') {
      after_dot = true;
      continue;
    }
    if (after_dot) {
      scale /= 10;
      value += (text[k] - '0') * scale;
    } else {
      value = value * 10 + (text[k] - '0');
    }
  }
  return static_cast<double>(value);
}

}  // namespace units_detail

// Parses a duration made of one or more <number><unit> parts, units ns, us,
// ms, s, m, h, d, w (e.g. "1s", "1h30m", "1.5s"). Returns nanoseconds rounded
// to the nearest, or nothing if the text is malformed, negative or overflows.
inline std::optional<int64_t> parse_duration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  long double total = 0;
  size_t i = 0;
  while (i < text.size()) {
    bool fraction = false;
    auto number = units_detail::read_number(text, i, fraction);
    if (!number) return std::nullopt;
    size_t unit_start = i;
    while (i < text.size() && ((text[i] >= 'a' && text[i] <= 'z') || (text[i] >= 'A' && text[i] <= 'Z'))) ++i;
    std::string_view unit = text.substr(unit_start, i - unit_start);
    long double ns_per_unit = 0;
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
    total += static_cast<long double>(*number) * ns_per_unit;
  }
  total = std::round(total);
  if (total >= static_cast<long double>(std::numeric_limits<int64_t>::max())) return std::nullopt;
  return static_cast<int64_t>(total);
}

// Parses a size: a bare integer (bytes) or <number><unit> with B, KB, MB, GB,
// TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024). Returns bytes
// rounded to the nearest; a fraction needs a unit larger than a byte.
inline std::optional<uint64_t> parse_size(std::string_view text) {
  size_t i = 0;
  bool fraction = false;
  auto number = units_detail::read_number(text, i, fraction);
  if (!number) return std::nullopt;
  std::string_view unit = text.substr(i);
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  long double multiplier = 0;
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
    multiplier = 1024.0L;
  else if (unit == "MiB")
    multiplier = 1024.0L * 1024;
  else if (unit == "GiB")
    multiplier = 1024.0L * 1024 * 1024;
  else if (unit == "TiB")
    multiplier = 1024.0L * 1024 * 1024 * 1024;
  else
    return std::nullopt;
  if (fraction && multiplier == 1) return std::nullopt;
  long double bytes = std::round(static_cast<long double>(*number) * multiplier);
  if (bytes >= static_cast<long double>(std::numeric_limits<uint64_t>::max())) return std::nullopt;
  return static_cast<uint64_t>(bytes);
}

}  // namespace vitals
