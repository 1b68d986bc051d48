// Timestamp parsing for both request formats.
#include "timestamp.hpp"

#include <cmath>

namespace vitals::http_telemetry {

std::optional<Precision> parse_precision(std::string_view text) {
  if (text == "ns" || text == "n") return Precision::ns;
  if (text == "us" || text == "u") return Precision::us;
  if (text == "ms") return Precision::ms;
  if (text == "s") return Precision::s;
  return std::nullopt;
}

std::optional<int64_t> epoch_number_to_ns(double value) {
  if (!std::isfinite(value)) return std::nullopt;
  double magnitude = std::fabs(value);
  long double ns;
  if (magnitude < 1e11) {
    ns = std::roundl(static_cast<long double>(value) * 1e6L) * 1e3L;
  } else if (magnitude < 1e14) {
    ns = std::roundl(static_cast<long double>(value) * 1e3L) * 1e3L;
  } else if (magnitude < 1e17) {
    ns = std::roundl(static_cast<long double>(value) * 1e3L);
  } else {
    ns = std::roundl(static_cast<long double>(value));
  }
  // 2^63 is exact in long double; anything at or past it does not fit.
  constexpr long double limit = 9223372036854775808.0L;
  if (ns >= limit || ns < -limit) return std::nullopt;
  return static_cast<int64_t>(ns);
}

namespace {

// Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (Howard Hinnant's algorithm).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned days_in_month(int64_t y, unsigned m) {
  static constexpr unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : days[m - 1];
}

// Reads exactly n digits at s[pos]; advances pos.
bool digits(std::string_view s, size_t &pos, size_t n, unsigned &out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    out = out * 10 + static_cast<unsigned>(c - '0');
  }
  pos += n;
  return true;
}

bool expect(std::string_view s, size_t &pos, char c) {
  if (pos >= s.size() || s[pos] != c) return false;
  ++pos;
  return true;
}

}  // namespace

std::optional<int64_t> parse_rfc3339(std::string_view s, std::string &error) {
  const std::string shape = "expected an RFC 3339 date-time like 2024-05-01T12:00:00Z";
  size_t pos = 0;
  unsigned year, month, day, hour, minute, second;
  if (!digits(s, pos, 4, year) || !expect(s, pos, '-') || !digits(s, pos, 2, month) || !expect(s, pos, '-') ||
      !digits(s, pos, 2, day)) {
    error = shape;
    return std::nullopt;
  }
  if (pos >= s.size() || (s[pos] != 'T' && s[pos] != 't' && s[pos] != ' ')) {
    error = shape + " (the time of day is missing)";
    return std::nullopt;
  }
  ++pos;
  if (!digits(s, pos, 2, hour) || !expect(s, pos, ':') || !digits(s, pos, 2, minute) || !expect(s, pos, ':') ||
      !digits(s, pos, 2, second)) {
    error = shape;
    return std::nullopt;
  }
  int64_t fraction_ns = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    size_t start = pos;
    int64_t scale = 100000000;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      fraction_ns += (s[pos] - '0') * scale;  // digits past nanoseconds are dropped
      scale /= 10;
      ++pos;
    }
    if (pos == start) {
      error = shape + " (no digits after '.')";
      return std::nullopt;
    }
  }
  int64_t offset_s = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int sign = s[pos] == '-' ? -1 : 1;
    ++pos;
    unsigned oh, om;
    if (!digits(s, pos, 2, oh) || !expect(s, pos, ':') || !digits(s, pos, 2, om) || oh > 23 || om > 59) {
      error = shape + " (bad UTC offset)";
      return std::nullopt;
    }
    offset_s = sign * static_cast<int64_t>(oh * 3600 + om * 60);
  } else {
    error = shape + " (the UTC offset is missing: add Z or +hh:mm)";
    return std::nullopt;
  }
  if (pos != s.size()) {
    error = shape + " (unexpected text after it)";
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 || minute > 59 ||
      second > 60) {
    error = "no such date or time";
    return std::nullopt;
  }
  // A leap second (:60) reads as the first second of the next minute.
  int64_t seconds = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset_s;
  int64_t ns;
  if (__builtin_mul_overflow(seconds, int64_t{1000000000}, &ns) || __builtin_add_overflow(ns, fraction_ns, &ns)) {
    error = "timestamp out of range (representable: 1677-09-21 to 2262-04-11)";
    return std::nullopt;
  }
  return ns;
}

}  // namespace vitals::http_telemetry
