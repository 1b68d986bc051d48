// vitals/time_parse.hpp: timestamps in every form users and clients write
// them, the int64 nanosecond range, and messages that name what they refuse.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include "vitals/time_parse.hpp"

// Prints optionals in failure messages instead of {?}.
namespace doctest {
template <typename T>
struct StringMaker<std::optional<T>> {
  static String convert(const std::optional<T> &value) { return value ? toString(*value) : String("nullopt"); }
};
}  // namespace doctest

using vitals::TimePrecision;

namespace {
const int64_t kNow = 1'795'497'349'123'456'789;

int64_t t(std::string_view text) {
  std::string err;
  auto v = vitals::parse_time(text, kNow, err);
  REQUIRE_MESSAGE(v, err);
  return *v;
}

std::optional<int64_t> rfc3339(std::string_view s) {
  std::string error;
  return vitals::parse_rfc3339(s, error);
}

std::optional<int64_t> epoch_number(double v) {
  std::string error;
  auto ns = vitals::epoch_number_to_ns(v, error);
  CHECK(ns.has_value() == error.empty());
  return ns;
}

std::optional<int64_t> epoch(std::string_view text, TimePrecision precision) {
  std::string error;
  return vitals::parse_epoch(text, precision, error);
}
}  // namespace

// parse_time: what users type in ?from= and --from, and what the query
// contract reads from a string.

TEST_CASE("parse_time: RFC 3339 times with zones and fractions, and dates") {
  CHECK(t("1970-01-01T00:00:00Z") == 0);
  CHECK(t("2026-11-24T05:00:00Z") == 1'795'496'400'000'000'000);
  CHECK(t("2026-11-24T06:00:00+01:00") == 1'795'496'400'000'000'000);
  CHECK(t("2026-11-24T05:00:00.5Z") == 1'795'496'400'500'000'000);
  CHECK(t("2026-11-24T05:00:00.000000001Z") == 1'795'496'400'000'000'001);
  CHECK(t("2000-02-29T12:00:00-05:30") == 951'845'400'000'000'000);
  CHECK(t("2026-11-24t05:00:00z") == 1'795'496'400'000'000'000);
  CHECK(t("2026-11-24 05:00:00Z") == 1'795'496'400'000'000'000);
  CHECK(t("2026-11-24") == 1'795'478'400'000'000'000);
  CHECK(t("1969-12-31T23:59:59Z") == -1'000'000'000);
}

TEST_CASE("parse_time: epoch digits, the unit by magnitude") {
  CHECK(t("0") == 0);
  CHECK(t("1795496400") == 1'795'496'400'000'000'000);
  CHECK(t("1795496400.25") == 1'795'496'400'250'000'000);
  CHECK(t("1795496400123") == 1'795'496'400'123'000'000);
  CHECK(t("1795496400123.5") == 1'795'496'400'123'500'000);
  CHECK(t("1795496400123456") == 1'795'496'400'123'456'000);
  CHECK(t("1795496400123456789") == 1'795'496'400'123'456'789);
  // The thresholds: 1e11 is milliseconds, 1e14 microseconds, 1e17 nanoseconds.
  CHECK(t("99999999") == 99'999'999'000'000'000);
  CHECK(t("100000000000") == 100'000'000'000'000'000);
  CHECK(t("100000000000000") == 100'000'000'000'000'000);
  CHECK(t("100000000000000000") == 100'000'000'000'000'000);
  // The value counts, not the digits: leading zeros change nothing.
  CHECK(t("0001795496400") == 1'795'496'400'000'000'000);
  CHECK(t("00000001795496400123") == 1'795'496'400'123'000'000);
}

TEST_CASE("parse_time: now and relative times") {
  CHECK(t("now") == kNow);
  CHECK(t("-1h") == kNow - 3'600'000'000'000);
  CHECK(t("-1d12h") == kNow - 129'600'000'000'000);
  CHECK(t("+5m") == kNow + 300'000'000'000);
  CHECK(t("-1.5s") == kNow - 1'500'000'000);
  CHECK(t("now-30m") == kNow - 1'800'000'000'000);
  CHECK(t("now+5m") == kNow + 300'000'000'000);
}

TEST_CASE("parse_time: malformed times are refused with a message naming them") {
  for (const char *bad : {"",
                          "yesterday",
                          "2026-13-01T00:00:00Z",
                          "2026-11-24T05:00:00",
                          "2026-11-24T25:00:00Z",
                          "-1x",
                          "12abc",
                          "2026-11-24T05:00:00Zjunk",
                          "now-",
                          "-",
                          "-5",
                          "nowish",
                          "1.",
                          ".5",
                          "1.2.3",
                          "2026-11-24T05:00:00.Z",
                          "2026-11-24T05:00Z",
                          "2026-11-24T05:00:00+0100",
                          "2026-11-24T05:00:00+24:00",
                          " 2026-11-24",
                          "0x10"}) {
    std::string err;
    CHECK_MESSAGE(!vitals::parse_time(bad, kNow, err), std::string(bad));
    CHECK_MESSAGE(err.find("invalid timestamp '" + std::string(bad) + "'") == 0, err);
  }
}

TEST_CASE("parse_time: a malformed date says what is wrong with it") {
  std::string err;
  CHECK_FALSE(vitals::parse_time("2026-11-24T05:00:00", kNow, err));
  CHECK(err ==
        "invalid timestamp '2026-11-24T05:00:00': expected an RFC 3339 date-time like 2024-05-01T12:00:00Z "
        "(the UTC offset is missing: add Z or +hh:mm)");
  CHECK_FALSE(vitals::parse_time("yesterday", kNow, err));
  CHECK(err.find("use RFC 3339") != std::string::npos);
}

TEST_CASE("parse_time: a long text is named by its first 64 bytes") {
  std::string long_text = "2026-11-24T05:00:00Z" + std::string(100, 'x');
  std::string err;
  CHECK_FALSE(vitals::parse_time(long_text, kNow, err));
  CHECK(err.find("'" + long_text.substr(0, 64) + "...'") != std::string::npos);
  CHECK(err.size() < 250);
}

// Times are int64 nanoseconds: 1677-09-21T00:12:43.145224192Z to
// 2262-04-11T23:47:16.854775807Z. Anything outside is refused, never wrapped
// (signed overflow is undefined behaviour; UBSan runs these in CI).
TEST_CASE("parse_time: times outside the int64 nanosecond range are refused with a message naming them") {
  for (const char *bad : {"2263-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "1677-01-01T00:00:00Z", "0000-01-01",
                          "2262-04-11T23:47:17Z", "2262-04-11T23:47:16.854775808Z", "10000000000", "99999999999",
                          "99999999999.5", "99999999999999", "99999999999999999", "9223372036854775808",
                          "99999999999999999999", "9300000000.5", "+106000d", "now+106000d"}) {
    std::string err;
    CHECK_MESSAGE(!vitals::parse_time(bad, kNow, err), std::string(bad));
    CHECK_MESSAGE(err.find("timestamp '" + std::string(bad) + "' out of range") == 0, err);
  }
  // A duration past int64 nanoseconds is not one (units.hpp): refused too.
  for (const char *bad : {"+1000000w", "-1000000w"}) {
    std::string err;
    CHECK_MESSAGE(!vitals::parse_time(bad, kNow, err), std::string(bad));
    CHECK_MESSAGE(err.find("'" + std::string(bad) + "'") != std::string::npos, err);
  }
}

TEST_CASE("parse_time: the ends of the int64 nanosecond range are accepted") {
  CHECK(t("2262-04-11T23:47:16.854775807Z") == INT64_MAX);
  CHECK(t("1677-09-21T00:12:43.145224192Z") == INT64_MIN);
  CHECK(t("9223372036854775807") == INT64_MAX);
  CHECK(t("9223372036.854775807") == INT64_MAX);
  CHECK(t("+1d") == kNow + 86'400'000'000'000);
  CHECK(t("-106000d") == kNow - 106'000 * 86'400'000'000'000);
}

TEST_CASE("parse_time: dates that do not exist are refused") {
  for (const char *bad : {"2026-02-31T00:00:00Z", "2026-02-29", "2100-02-29", "2026-04-31T00:00:00Z", "2026-06-31",
                          "2026-00-10", "2026-01-00", "2026-02-30T12:00:00+01:00"}) {
    std::string err;
    CHECK_MESSAGE(!vitals::parse_time(bad, kNow, err), std::string(bad));
    CHECK(err == "invalid timestamp '" + std::string(bad) + "': no such date or time");
  }
  CHECK(t("2024-02-29") == 1'709'164'800'000'000'000);
  CHECK(t("2000-02-29") == 951'782'400'000'000'000);
  CHECK(t("2026-12-31") == 1'798'675'200'000'000'000);
}

// parse_rfc3339: a date-time and nothing else (JSON telemetry timestamps).

TEST_CASE("parse_rfc3339: dates, fractions, offsets and the representable range") {
  CHECK(rfc3339("1970-01-01T00:00:00Z") == 0);
  CHECK(rfc3339("2024-05-01T12:00:00Z") == 1714564800'000'000'000);
  CHECK(rfc3339("2000-02-29T00:00:00Z") == 951782400'000'000'000);
  CHECK(rfc3339("2024-05-01T12:00:00.1Z") == 1714564800'100'000'000);
  CHECK(rfc3339("2024-05-01T12:00:00.123456789123Z") == 1714564800'123'456'789);  // past ns: dropped
  CHECK(rfc3339("2024-05-01T13:30:00+01:30") == 1714564800'000'000'000);
  CHECK(rfc3339("2024-05-01T00:00:00-12:00") == 1714564800'000'000'000);
  CHECK(rfc3339("1969-12-31T23:59:59Z") == -1'000'000'000);
  CHECK(rfc3339("1969-12-31T23:59:59.5Z") == -500'000'000);
  CHECK(rfc3339("2016-12-31T23:59:60Z") == rfc3339("2017-01-01T00:00:00Z"));  // a leap second
  CHECK(rfc3339("2262-04-11T23:47:16Z") == 9223372036'000'000'000);
  CHECK_FALSE(rfc3339("2262-04-11T23:47:17Z"));
  CHECK(rfc3339("1677-09-21T00:12:44Z") == -9223372036'000'000'000);
  CHECK_FALSE(rfc3339("1677-09-21T00:12:43Z"));
}

TEST_CASE("parse_rfc3339: malformed and impossible date-times say why, naming the text") {
  std::string error;
  for (std::string_view bad :
       {"2023-02-29T00:00:00Z", "2024-02-31T00:00:00Z", "2024-04-31T00:00:00Z", "2024-13-01T00:00:00Z",
        "2024-05-01T24:00:00Z", "2024-05-01T12:60:00Z", "2024-05-00T12:00:00Z"}) {
    INFO(bad);
    CHECK_FALSE(vitals::parse_rfc3339(bad, error));
    CHECK(error == "invalid timestamp '" + std::string(bad) + "': no such date or time");
  }
  for (std::string_view bad : {"", "2024", "24-05-01T12:00:00Z", "2024-05-01T12:00Z", "2024-05-01T12:00:00.Z",
                               "2024-05-01T12:00:00+0200", "2024-05-01T12:00:00Z ", "2024-05-01T12:00:00+25:00",
                               "2024-05-01T12:00:00", "2024-05-01", "1714564800", "now", "-1h", "yesterday"}) {
    INFO(bad);
    CHECK_FALSE(vitals::parse_rfc3339(bad, error));
    CHECK(error.find("invalid timestamp '" + std::string(bad) +
                     "': expected an RFC 3339 date-time like 2024-05-01T12:00:00Z") == 0);
  }
  CHECK_FALSE(vitals::parse_rfc3339("2024-05-01", error));
  CHECK(error.ends_with("(the time of day is missing)"));
  CHECK_FALSE(vitals::parse_rfc3339("2300-01-01T00:00:00Z", error));
  CHECK(error.find("timestamp '2300-01-01T00:00:00Z' out of range: int64 nanoseconds reach") == 0);
}

// epoch_number_to_ns: JSON numbers (doubles), the unit by magnitude.

TEST_CASE("epoch numbers: the unit follows from the magnitude") {
  CHECK(epoch_number(1714564800) == 1714564800'000'000'000);
  CHECK(epoch_number(1714564800.25) == 1714564800'250'000'000);
  CHECK(epoch_number(1714564800.123) == 1714564800'123'000'000);  // rounded to the microsecond
  CHECK(epoch_number(1714564800123.0) == 1714564800'123'000'000);
  CHECK(epoch_number(1714564800123456.0) == 1714564800'123'456'000);
  CHECK(epoch_number(1714564800123456768.0) == 1714564800'123'456'768);
  CHECK_FALSE(epoch_number(99999999999.0));              // seconds, past 2262
  CHECK(epoch_number(1e11) == 100'000'000'000'000'000);  // milliseconds from 1e11
  CHECK(epoch_number(1e14) == 100'000'000'000'000'000);  // microseconds from 1e14
  CHECK(epoch_number(1e17) == 100'000'000'000'000'000);  // nanoseconds from 1e17
  CHECK(epoch_number(-1714564800) == -1714564800'000'000'000);
  CHECK(epoch_number(0) == 0);
  CHECK_FALSE(epoch_number(1e19));
  CHECK_FALSE(epoch_number(9223372036854775808.0));
  CHECK_FALSE(epoch_number(std::numeric_limits<double>::infinity()));
  CHECK_FALSE(epoch_number(std::nan("")));
}

TEST_CASE("epoch numbers: a refusal names the number") {
  std::string error;
  CHECK_FALSE(vitals::epoch_number_to_ns(1e30, error));
  CHECK(error.find("timestamp 1e+30 out of range: int64 nanoseconds reach") == 0);
  CHECK_FALSE(vitals::epoch_number_to_ns(-99999999999.0, error));
  CHECK(error.find("timestamp -99999999999 out of range") == 0);
  CHECK_FALSE(vitals::epoch_number_to_ns(std::numeric_limits<double>::infinity(), error));
  CHECK(error == "invalid timestamp inf: not a finite number");
}

// parse_epoch and epoch_to_ns: integers at a stated precision (line protocol).

TEST_CASE("precision: the names InfluxDB clients send") {
  CHECK(vitals::parse_time_precision("ns") == TimePrecision::ns);
  CHECK(vitals::parse_time_precision("n") == TimePrecision::ns);
  CHECK(vitals::parse_time_precision("us") == TimePrecision::us);
  CHECK(vitals::parse_time_precision("u") == TimePrecision::us);
  CHECK(vitals::parse_time_precision("ms") == TimePrecision::ms);
  CHECK(vitals::parse_time_precision("s") == TimePrecision::s);
  for (const char *bad : {"h", "m", "", "S", "sec", "ns "}) CHECK_FALSE(vitals::parse_time_precision(bad));
}

TEST_CASE("precision scaling refuses overflow") {
  CHECK(vitals::epoch_to_ns(1700000000, TimePrecision::s) == 1700000000'000'000'000);
  CHECK(vitals::epoch_to_ns(-1, TimePrecision::ms) == -1'000'000);
  CHECK(vitals::epoch_to_ns(INT64_MAX, TimePrecision::ns) == INT64_MAX);
  CHECK(vitals::epoch_to_ns(9223372036, TimePrecision::s) == 9223372036'000'000'000);
  CHECK_FALSE(vitals::epoch_to_ns(9223372037, TimePrecision::s));
  CHECK_FALSE(vitals::epoch_to_ns(INT64_MIN, TimePrecision::us));
}

TEST_CASE("parse_epoch: a signed integer at its precision") {
  CHECK(epoch("0", TimePrecision::ns) == 0);
  CHECK(epoch("-1", TimePrecision::ns) == -1);
  CHECK(epoch("00001", TimePrecision::ns) == 1);
  CHECK(epoch("1700000000", TimePrecision::s) == 1700000000'000'000'000);
  CHECK(epoch("1700000000123", TimePrecision::ms) == 1700000000'123'000'000);
  CHECK(epoch("1700000000123456", TimePrecision::us) == 1700000000'123'456'000);
  CHECK(epoch("-5", TimePrecision::s) == -5'000'000'000);
  CHECK(epoch("9223372036854775807", TimePrecision::ns) == INT64_MAX);
  CHECK(epoch("-9223372036854775808", TimePrecision::ns) == INT64_MIN);
  std::string error;
  for (const char *bad : {"", "-", "+1", "1.5", "1e9", "0x10", "12a", "--1", " 1", "now"}) {
    CHECK_FALSE(vitals::parse_epoch(bad, TimePrecision::ns, error));
    CHECK(error == "invalid timestamp '" + std::string(bad) + "': expected an integer");
  }
  CHECK_FALSE(vitals::parse_epoch("9223372036854775808", TimePrecision::ns, error));
  CHECK(error.find("timestamp '9223372036854775808' out of range: int64 nanoseconds reach") == 0);
  CHECK_FALSE(vitals::parse_epoch("9223372037", TimePrecision::s, error));
  CHECK(error.find("timestamp '9223372037' out of range at this precision (s): int64 nanoseconds reach") == 0);
}
