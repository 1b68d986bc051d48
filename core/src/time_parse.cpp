// Timestamp parsing for queries.
#include "time_parse.hpp"

#include <charconv>
#include <ctime>

#include "vitals/units.hpp"

namespace vitals::core {

namespace {

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

std::optional<int64_t> parse_rfc3339(std::string_view s) {
  int year, month, day, hour = 0, minute = 0, second = 0;
  if (!digits(s, 0, 4, year) || s.size() < 10 || s[4] != '-' || !digits(s, 5, 2, month) || s[7] != '-' ||
      !digits(s, 8, 2, day))
    return std::nullopt;
  if (month < 1 || month > 12 || day < 1 || day > 31) return std::nullopt;
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
  int64_t secs = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 + hour * 3600 +
                 minute * 60 + second - offset_s;
  return secs * 1'000'000'000 + frac_ns;
}

}  // namespace

std::optional<int64_t> parse_time(std::string_view text, int64_t now_ns, std::string &error) {
  auto fail = [&]() -> std::optional<int64_t> {
    error = "invalid time '" + std::string(text) +
            "': use RFC 3339 (2026-11-24T05:00:00Z), epoch seconds/ms/ns, now, or a relative time like -1h";
    return std::nullopt;
  };
  if (text.empty()) return fail();
  if (text == "now") return now_ns;
  if (text[0] == '-' || text[0] == '+') {
    auto d = parse_duration(text.substr(1));
    if (!d) return fail();
    return text[0] == '-' ? now_ns - *d : now_ns + *d;
  }
  // Plain numbers: epoch seconds, milliseconds or nanoseconds, told apart by
  // magnitude (seconds until the year 5138, ms until 2286 * 1000, ...).
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
    if (whole.empty() || ec != std::errc() || ptr != whole.data() + whole.size()) return fail();
    if (fraction.find('.') != std::string_view::npos || (dot != std::string_view::npos && fraction.empty()))
      return fail();
    int64_t ns_per_unit = integer < 100'000'000'000           ? 1'000'000'000
                          : integer < 100'000'000'000'000     ? 1'000'000
                          : integer < 100'000'000'000'000'000 ? 1'000
                                                              : 1;
    int64_t ns = integer * ns_per_unit;
    int64_t scale = ns_per_unit / 10;
    for (char c : fraction) {
      ns += (c - '0') * scale;
      scale /= 10;
    }
    return ns;
  }
  if (auto t = parse_rfc3339(text)) return t;
  return fail();
}

}  // namespace vitals::core
