// Timestamps as clients send them: RFC 3339 strings, epoch numbers whose unit
// follows from their magnitude (JSON), epoch integers at a precision (line
// protocol). All end as int64 nanoseconds since the Unix epoch, UTC.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vitals::http_telemetry {

// Line protocol precision: nanoseconds per unit.
enum class Precision : int64_t { ns = 1, us = 1000, ms = 1000000, s = 1000000000 };

// "ns", "us", "ms", "s" and Influx's "n", "u"; nothing for anything else.
std::optional<Precision> parse_precision(std::string_view text);

// value * precision, or nothing when that leaves int64. Inline: once per line.
inline std::optional<int64_t> scale_timestamp(int64_t value, Precision precision) {
  int64_t out;
  if (__builtin_mul_overflow(value, static_cast<int64_t>(precision), &out)) return std::nullopt;
  return out;
}

// An epoch number: |v| < 1e11 is seconds, < 1e14 milliseconds, < 1e17
// microseconds, else nanoseconds. Seconds and milliseconds are rounded to the
// microsecond (a double holds no more at today's dates). Nothing when the
// value is not finite or lands outside int64 nanoseconds.
std::optional<int64_t> epoch_number_to_ns(double value);

// "2024-05-01T12:00:00Z", "2024-05-01T14:00:00.123456789+02:00" ('t', 'z' and
// a space separator accepted). On failure returns nothing and sets error.
std::optional<int64_t> parse_rfc3339(std::string_view text, std::string &error);

}  // namespace vitals::http_telemetry
