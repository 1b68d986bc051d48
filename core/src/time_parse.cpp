// Timestamp parsing for queries.
#include "time_parse.hpp"

#include <charconv>
#include <ctime>

#include "vitals/units.hpp"

namespace vitals::core {

namespace {

// Times are int64 nanoseconds since the epoch, which reach from 1677 to 2262.
// Arithmetic on user input is checked: a time outside that range is refused
// rather than wrapped (signed overflow is undefined behaviour).
bool checked_mul(int64_t a, int64_t b, int64_t &out) { return !__builtin_mul_overflow(a, b, &out); }
bool checked_add(int64_t a, int64_t b, int64_t &out) { return !__builtin_add_overflow(a, b, &out); }

// Seconds plus a nanosecond fraction in [0, 1e9), as nanoseconds.
std::optional<int64_t> seconds_to_ns(int64_t secs, int64_t frac_ns) {
  // Before 1970 with a fraction, secs * 1e9 alone may fall below INT64_MIN
  // when the sum does not (1677-09-21T00:12:43.145224192Z is INT64_MIN).
  if (secs < 0 && frac_ns > 0) {
    secs += 1;
    frac_ns -= 1'000'000'000;
  }
  int64_t ns;
  if (!checked_mul(secs, 1'000'000'000, ns) || !checked_add(ns, frac_ns, ns)) return std::nullopt;
  return ns;
}

bool is_leap_year(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int days_in_month(int year, int month) {
  static constexpr int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap_year(year) ? 29 : days[month - 1];
}

bool digits(std::string_view s, size_t pos, size_t n, int &out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

// days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

// Parses an RFC 3339 time into seconds since the epoch and a nanosecond
// fraction; nothing if it is malformed or names a date that does not exist.
struct CivilTime {
  int64_t secs = 0;
  int64_t frac_ns = 0;
};
std::optional<CivilTime> parse_rfc3339(std::string_view s) {
  int year, month, day, hour = 0, minute = 0, second = 0;
  if (!digits(s, 0, 4, year) || s.size() < 10 || s[4] != '-' || !digits(s, 5, 2, month) || s[7] != '-' ||
      !digits(s, 8, 2, day))
    return std::nullopt;
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)) return std::nullopt;
  size_t i = 10;
  int64_t frac_ns = 0, offset_s = 0;
  if (i < s.size()) {
    if (s[i] != 'T' && s[i] != 't' && s[i] != ' ') return std::nullopt;
    if (!digits(s, i + 1, 2, hour) || s.size() < i + 9 || s[i + 3] != ':' || !digits(s, i + 4, 2, minute) ||
        s[i + 6] != ':' || !digits(s, i + 7, 2, second))
      return std::nullopt;
    if (hour > 23 || minute > 59 || second > 60) return std::nullopt;
    i += 9;
    if (i < s.size() && s[i] == '.') {
      int64_t scale = 100'000'000;
      size_t start = ++i;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        frac_ns += (s[i] - '0') * scale;
        scale /= 10;
        ++i;
      }
      if (i == start) return std::nullopt;
    }
    if (i >= s.size()) return std::nullopt;  // RFC 3339 requires a zone
    if (s[i] == 'Z' || s[i] == 'z') {
      ++i;
    } else if (s[i] == '+' || s[i] == '-') {
      int oh, om;
      if (!digits(s, i + 1, 2, oh) || s.size() < i + 6 || s[i + 3] != ':' || !digits(s, i + 4, 2, om))
        return std::nullopt;
      offset_s = (oh * 3600 + om * 60) * (s[i] == '+' ? 1 : -1);
      i += 6;
    } else {
      return std::nullopt;
    }
    if (i != s.size()) return std::nullopt;
  }
  // Four-digit years: these seconds fit in int64 with room to spare.
  int64_t secs = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 + hour * 3600 +
                 minute * 60 + second - offset_s;
  return CivilTime{secs, frac_ns};
}

}  // namespace

std::optional<int64_t> parse_time(std::string_view text, int64_t now_ns, std::string &error) {
  auto fail = [&]() -> std::optional<int64_t> {
    error = "invalid time '" + std::string(text) +
            "': use RFC 3339 (2026-11-24T05:00:00Z), epoch seconds/ms/ns, now, or a relative time like -1h";
    return std::nullopt;
  };
  auto out_of_range = [&]() -> std::optional<int64_t> {
    error = "invalid time '" + std::string(text) +
            "': outside the range of nanosecond timestamps, 1677-09-21T00:12:43.145224192Z to "
            "2262-04-11T23:47:16.854775807Z";
    return std::nullopt;
  };
  if (text.empty()) return fail();
  if (text == "now") return now_ns;
  if (text[0] == '-' || text[0] == '+') {
    auto d = parse_duration(text.substr(1));
    if (!d) return fail();
    int64_t t;
    bool ok = text[0] == '-' ? !__builtin_sub_overflow(now_ns, *d, &t) : checked_add(now_ns, *d, t);
    if (!ok) return out_of_range();
    return t;
  }
  // Plain numbers: epoch seconds, milliseconds, microseconds or nanoseconds,
  // told apart by magnitude (seconds reach 1e11 only in the year 5138).
  // Integer arithmetic throughout, so nanoseconds stay exact.
  bool is_number = text.find_first_not_of("0123456789.") == std::string_view::npos;
  if (is_number) {
    size_t dot = text.find('.');
    std::string_view whole = text.substr(0, dot);
    std::string_view fraction = dot == std::string_view::npos ? std::string_view() : text.substr(dot + 1);
    int64_t integer = 0;
    auto [ptr, ec] = std::from_chars(whole.data(), whole.data() + whole.size(), integer);
    if (ec == std::errc::result_out_of_range) return out_of_range();
    if (whole.empty() || ec != std::errc() || ptr != whole.data() + whole.size()) return fail();
    if (fraction.find('.') != std::string_view::npos || (dot != std::string_view::npos && fraction.empty()))
      return fail();
    int64_t ns_per_unit = integer < 100'000'000'000           ? 1'000'000'000
                          : integer < 100'000'000'000'000     ? 1'000'000
                          : integer < 100'000'000'000'000'000 ? 1'000
                                                              : 1;
    int64_t ns;
    if (!checked_mul(integer, ns_per_unit, ns)) return out_of_range();
    int64_t scale = ns_per_unit / 10;
    for (char c : fraction) {
      if (!checked_add(ns, (c - '0') * scale, ns)) return out_of_range();
      scale /= 10;
    }
    return ns;
  }
  if (auto t = parse_rfc3339(text)) {
    if (auto ns = seconds_to_ns(t->secs, t->frac_ns)) return ns;
    return out_of_range();
  }
  return fail();
}

}  // namespace vitals::core
