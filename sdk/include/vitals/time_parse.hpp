// Timestamps as people and clients write them, read into int64 nanoseconds
// since the Unix epoch (UTC). Header-only: the one time parser of the agent
// (`?from=`/`?to=` of GET /api/query, `vitals query --from/--to`), the query
// contract (the sqlite storage's `from`/`to`) and the http_telemetry input.
//
//   parse_time          what users type: RFC 3339, a date, epoch digits with
//                       the unit by magnitude, `now`, `-1h`, `+30m`, `now-30m`
//   parse_rfc3339       an RFC 3339 date-time, nothing else (JSON telemetry)
//   epoch_number_to_ns  an epoch number (a JSON double), unit by magnitude
//   parse_epoch         an epoch integer at a stated precision (line protocol)
//
// Epoch numbers without a stated unit are read by magnitude: below 1e11 they
// are seconds (1e11 s is the year 5138), below 1e14 milliseconds, below 1e17
// microseconds, else nanoseconds.
//
// int64 nanoseconds reach from 1677-09-21T00:12:43.145224192Z to
// 2262-04-11T23:47:16.854775807Z. Every form is overflow-checked: a time
// outside that range is refused, never wrapped (signed overflow is undefined
// behaviour). Every refusal names the text it refused.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "vitals/units.hpp"

namespace vitals {

// The unit of an epoch integer whose unit is stated (InfluxDB's `precision`).
enum class TimePrecision : int64_t { ns = 1, us = 1'000, ms = 1'000'000, s = 1'000'000'000 };

namespace time_detail {

inline constexpr std::string_view range =
    "int64 nanoseconds reach 1677-09-21T00:12:43.145224192Z to 2262-04-11T23:47:16.854775807Z";

// 'text', cut after 64 bytes (at a UTF-8 boundary): enough to recognise it,
// and an error message stays small whatever a client sent.
inline std::string quoted(std::string_view text) {
  constexpr size_t max_bytes = 64;
  if (text.size() <= max_bytes) return "'" + std::string(text) + "'";
  size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return "'" + std::string(text.substr(0, cut)) + "...'";
}

inline std::string invalid(std::string_view text, std::string_view why) {
  return "invalid timestamp " + quoted(text) + ": " + std::string(why);
}

inline std::string out_of_range(std::string_view shown, std::string_view where = {}) {
  return "timestamp " + std::string(shown) + " out of range" + std::string(where) + ": " + std::string(range);
}

inline bool is_leap_year(int64_t year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

inline int days_in_month(int64_t year, int month) {
  static constexpr int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap_year(year) ? 29 : days[month - 1];
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
inline int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

// Reads exactly n decimal digits at s[pos] and advances pos.
inline bool digits(std::string_view s, size_t &pos, size_t n, int &out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  pos += n;
  return true;
}

inline bool expect(std::string_view s, size_t &pos, char c) {
  if (pos >= s.size() || s[pos] != c) return false;
  ++pos;
  return true;
}

// Seconds plus a fraction in [0, 1e9) ns, as nanoseconds; nothing outside int64.
inline std::optional<int64_t> seconds_to_ns(int64_t secs, int64_t frac_ns) {
  // Before 1970 with a fraction, secs * 1e9 alone may fall below INT64_MIN
  // when the sum does not (1677-09-21T00:12:43.145224192Z is INT64_MIN).
  if (secs < 0 && frac_ns > 0) {
    secs += 1;
    frac_ns -= 1'000'000'000;
  }
  int64_t ns;
  if (__builtin_mul_overflow(secs, int64_t{1'000'000'000}, &ns) || __builtin_add_overflow(ns, frac_ns, &ns))
    return std::nullopt;
  return ns;
}

// RFC 3339: 2024-05-01T12:00:00Z, 2024-05-01T14:00:00.123456789+02:00 ('t',
// 'z' and a space separator accepted; digits past nanoseconds dropped; a leap
// second :60 reads as the first second of the next minute). With date_only, a
// bare date (2024-05-01) is midnight UTC.
inline std::optional<int64_t> rfc3339(std::string_view s, bool date_only, std::string &error) {
  const std::string_view shape = "expected an RFC 3339 date-time like 2024-05-01T12:00:00Z";
  auto fail = [&](std::string_view detail) -> std::optional<int64_t> {
    error = invalid(s, std::string(shape) + std::string(detail));
    return std::nullopt;
  };
  size_t pos = 0;
  int year, month, day, hour = 0, minute = 0, second = 0;
  if (!digits(s, pos, 4, year) || !expect(s, pos, '-') || !digits(s, pos, 2, month) || !expect(s, pos, '-') ||
      !digits(s, pos, 2, day))
    return fail("");
  int64_t fraction_ns = 0, offset_s = 0;
  if (pos == s.size() && date_only) {
    // midnight UTC
  } else {
    if (pos >= s.size() || (s[pos] != 'T' && s[pos] != 't' && s[pos] != ' '))
      return fail(" (the time of day is missing)");
    ++pos;
    if (!digits(s, pos, 2, hour) || !expect(s, pos, ':') || !digits(s, pos, 2, minute) || !expect(s, pos, ':') ||
        !digits(s, pos, 2, second))
      return fail("");
    if (pos < s.size() && s[pos] == '.') {
      size_t start = ++pos;
      int64_t scale = 100'000'000;
      while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
        fraction_ns += (s[pos] - '0') * scale;
        scale /= 10;
        ++pos;
      }
      if (pos == start) return fail(" (no digits after '.')");
    }
    if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
      ++pos;
    } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
      const int64_t sign = s[pos] == '-' ? -1 : 1;
      ++pos;
      int oh, om;
      if (!digits(s, pos, 2, oh) || !expect(s, pos, ':') || !digits(s, pos, 2, om) || oh > 23 || om > 59)
        return fail(" (bad UTC offset)");
      offset_s = sign * (oh * 3600 + om * 60);
    } else {
      return fail(" (the UTC offset is missing: add Z or +hh:mm)");
    }
    if (pos != s.size()) return fail(" (unexpected text after it)");
  }
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 || minute > 59 ||
      second > 60) {
    error = invalid(s, "no such date or time");
    return std::nullopt;
  }
  // Four-digit years: these seconds fit in int64 with room to spare.
  int64_t seconds = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
                    hour * 3600 + minute * 60 + second - offset_s;
  auto ns = seconds_to_ns(seconds, fraction_ns);
  if (!ns) error = out_of_range(quoted(s));
  return ns;
}

// Nanoseconds per unit of an epoch number of this magnitude (|value|).
inline int64_t ns_per_unit_by_magnitude(long double magnitude) {
  return magnitude < 1e11L ? 1'000'000'000 : magnitude < 1e14L ? 1'000'000 : magnitude < 1e17L ? 1'000 : 1;
}

// Epoch digits with an optional fraction ("1714564800", "1714564800.25"),
// unit by magnitude of the integer part, exact in integer arithmetic.
inline std::optional<int64_t> epoch_digits(std::string_view text, std::string &error, bool &is_epoch) {
  is_epoch = !text.empty() && text.find_first_not_of("0123456789.") == std::string_view::npos;
  if (!is_epoch) return std::nullopt;
  size_t dot = text.find('.');
  std::string_view whole = text.substr(0, dot);
  std::string_view fraction = dot == std::string_view::npos ? std::string_view() : text.substr(dot + 1);
  if (whole.empty() || fraction.find('.') != std::string_view::npos ||
      (dot != std::string_view::npos && fraction.empty())) {
    error = invalid(text, "expected epoch digits like 1714564800 or 1714564800.25");
    return std::nullopt;
  }
  int64_t integer = 0;
  auto [ptr, ec] = std::from_chars(whole.data(), whole.data() + whole.size(), integer);
  if (ec != std::errc() || ptr != whole.data() + whole.size()) {  // only digits: too large is the one failure
    error = out_of_range(quoted(text));
    return std::nullopt;
  }
  const int64_t ns_per_unit = ns_per_unit_by_magnitude(static_cast<long double>(integer));
  int64_t ns;
  if (__builtin_mul_overflow(integer, ns_per_unit, &ns)) {
    error = out_of_range(quoted(text));
    return std::nullopt;
  }
  int64_t scale = ns_per_unit / 10;  // digits past the nanosecond are dropped
  for (char c : fraction) {
    if (__builtin_add_overflow(ns, (c - '0') * scale, &ns)) {
      error = out_of_range(quoted(text));
      return std::nullopt;
    }
    scale /= 10;
  }
  return ns;
}

}  // namespace time_detail

// "ns", "us", "ms", "s", and InfluxDB's "n" and "u"; nothing for anything else.
inline std::optional<TimePrecision> parse_time_precision(std::string_view text) {
  if (text == "ns" || text == "n") return TimePrecision::ns;
  if (text == "us" || text == "u") return TimePrecision::us;
  if (text == "ms") return TimePrecision::ms;
  if (text == "s") return TimePrecision::s;
  return std::nullopt;
}

inline std::string_view time_precision_name(TimePrecision precision) {
  switch (precision) {
    case TimePrecision::ns:
      return "ns";
    case TimePrecision::us:
      return "us";
    case TimePrecision::ms:
      return "ms";
    case TimePrecision::s:
      return "s";
  }
  return "?";
}

// value * precision in nanoseconds, or nothing when that leaves int64.
// Inline and without a message: line protocol calls it once per line.
inline std::optional<int64_t> epoch_to_ns(int64_t value, TimePrecision precision) {
  int64_t ns;
  if (__builtin_mul_overflow(value, static_cast<int64_t>(precision), &ns)) return std::nullopt;
  return ns;
}

// An epoch integer in `precision` units: an optional '-' and decimal digits,
// nothing else ("1714564800" at TimePrecision::s). On failure returns nothing
// and sets `error` to a message naming the text.
inline std::optional<int64_t> parse_epoch(std::string_view text, TimePrecision precision, std::string &error) {
  int64_t value = 0;
  const char *end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec == std::errc::result_out_of_range && ptr == end) {
    error = time_detail::out_of_range(time_detail::quoted(text));
    return std::nullopt;
  }
  if (ec != std::errc() || ptr != end) {
    error = time_detail::invalid(text, "expected an integer");
    return std::nullopt;
  }
  auto ns = epoch_to_ns(value, precision);
  if (!ns)
    error = time_detail::out_of_range(time_detail::quoted(text),
                                      " at this precision (" + std::string(time_precision_name(precision)) + ")");
  return ns;
}

// An epoch number whose unit follows from its magnitude (|value| below 1e11
// seconds, 1e14 milliseconds, 1e17 microseconds, else nanoseconds), as a
// double: JSON has no other numbers. Seconds and milliseconds are rounded to
// the microsecond (a double holds no more at today's dates). On failure
// (not finite, outside int64 nanoseconds) returns nothing and sets `error`.
inline std::optional<int64_t> epoch_number_to_ns(double value, std::string &error) {
  char shown[32];
  auto shown_text = [&] {
    auto r = std::to_chars(shown, shown + sizeof shown, value);
    return std::string(shown, r.ptr);
  };
  if (!std::isfinite(value)) {
    error = "invalid timestamp " + shown_text() + ": not a finite number";
    return std::nullopt;
  }
  const long double v = value;
  const int64_t ns_per_unit = time_detail::ns_per_unit_by_magnitude(std::fabs(v));
  long double ns = ns_per_unit >= 1'000'000 ? std::roundl(v * (ns_per_unit / 1000)) * 1e3L
                   : ns_per_unit == 1'000   ? std::roundl(v * 1e3L)
                                            : std::roundl(v);
  // 2^63 is exact in long double; anything at or past it does not fit.
  constexpr long double limit = 9223372036854775808.0L;
  if (ns >= limit || ns < -limit) {
    error = time_detail::out_of_range(shown_text());
    return std::nullopt;
  }
  return static_cast<int64_t>(ns);
}

// An RFC 3339 date-time and nothing else: 2024-05-01T12:00:00Z,
// 2024-05-01T14:00:00.123456789+02:00 ('t', 'z' and a space separator
// accepted). A day that does not exist (2023-02-29, 2024-04-31) is refused.
// On failure returns nothing and sets `error` to a message naming the text.
inline std::optional<int64_t> parse_rfc3339(std::string_view text, std::string &error) {
  return time_detail::rfc3339(text, false, error);
}

// A time as a user writes it, `now_ns` anchoring the relative forms:
//   RFC 3339         2026-11-24T05:00:00Z, 2026-11-24T06:00:00.5+01:00
//   a date           2026-11-24 (midnight UTC)
//   epoch digits     1795496400, 1795496400.25, 1795496400123 (unit by magnitude)
//   now              now_ns
//   relative         -1h, +30m, -1d12h, now-30m, now+5m (units of parse_duration)
// On failure returns nothing and sets `error` to a message naming the text.
inline std::optional<int64_t> parse_time(std::string_view text, int64_t now_ns, std::string &error) {
  if (text == "now") return now_ns;
  std::string_view relative = text.starts_with("now") ? text.substr(3) : text;
  if (!relative.empty() && (relative[0] == '-' || relative[0] == '+')) {
    auto d = parse_duration(relative.substr(1));
    if (!d) {
      error = time_detail::invalid(text, "expected a relative time like -1h, +30m or now-30m");
      return std::nullopt;
    }
    int64_t t;
    if (relative[0] == '-' ? __builtin_sub_overflow(now_ns, *d, &t) : __builtin_add_overflow(now_ns, *d, &t)) {
      error = time_detail::out_of_range(time_detail::quoted(text));
      return std::nullopt;
    }
    return t;
  }
  bool is_epoch = false;
  if (auto ns = time_detail::epoch_digits(text, error, is_epoch); ns || is_epoch) return ns;
  // Four digits and a '-' start a date: say what is wrong with it.
  size_t pos = 0;
  int year;
  if (time_detail::digits(text, pos, 4, year) && time_detail::expect(text, pos, '-'))
    return time_detail::rfc3339(text, true, error);
  error = time_detail::invalid(
      text, "use RFC 3339 (2026-11-24T05:00:00Z), epoch seconds/ms/us/ns, now, or a relative time like -1h");
  return std::nullopt;
}

}  // namespace vitals
