// Timestamp parsing: RFC 3339, epoch numbers by magnitude, precision scaling.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "../timestamp.hpp"

using namespace vitals::http_telemetry;

namespace {
std::optional<int64_t> rfc3339(std::string_view s) {
  std::string error;
  return parse_rfc3339(s, error);
}
}  // namespace

TEST_CASE("rfc3339: dates, fractions, offsets and the representable range") {
  CHECK(rfc3339("1970-01-01T00:00:00Z") == 0);
  CHECK(rfc3339("2024-05-01T12:00:00Z") == 1714564800'000'000'000);
  CHECK(rfc3339("2000-02-29T00:00:00Z") == 951782400'000'000'000);
  CHECK(rfc3339("2024-05-01T12:00:00.1Z") == 1714564800'100'000'000);
  CHECK(rfc3339("2024-05-01T12:00:00.123456789123Z") == 1714564800'123'456'789);  // past ns: dropped
  CHECK(rfc3339("2024-05-01T13:30:00+01:30") == 1714564800'000'000'000);
  CHECK(rfc3339("2024-05-01T00:00:00-12:00") == 1714564800'000'000'000);
  CHECK(rfc3339("1969-12-31T23:59:59Z") == -1'000'000'000);
  CHECK(rfc3339("2016-12-31T23:59:60Z") == rfc3339("2017-01-01T00:00:00Z"));  // a leap second
  CHECK(rfc3339("2262-04-11T23:47:16Z") == 9223372036'000'000'000);
  CHECK_FALSE(rfc3339("2262-04-11T23:47:17Z"));
  CHECK(rfc3339("1677-09-21T00:12:44Z") == -9223372036'000'000'000);
  CHECK_FALSE(rfc3339("1677-09-21T00:12:43Z"));
}

TEST_CASE("rfc3339: malformed and impossible date-times say why") {
  std::string error;
  CHECK_FALSE(parse_rfc3339("2024-13-01T00:00:00Z", error));
  CHECK(error == "no such date or time");
  for (std::string_view bad : {"2023-02-29T00:00:00Z", "2024-04-31T00:00:00Z", "2024-05-01T24:00:00Z",
                               "2024-05-01T12:60:00Z", "2024-05-00T12:00:00Z"}) {
    INFO(bad);
    CHECK_FALSE(parse_rfc3339(bad, error));
    CHECK(error == "no such date or time");
  }
  for (std::string_view bad :
       {"", "2024", "24-05-01T12:00:00Z", "2024-05-01T12:00Z", "2024-05-01T12:00:00.Z", "2024-05-01T12:00:00+0200",
        "2024-05-01T12:00:00Z ", "2024-05-01T12:00:00+25:00", "2024-05-01T12:00:00", "2024-05-01", "1714564800"}) {
    INFO(bad);
    CHECK_FALSE(parse_rfc3339(bad, error));
    CHECK(error.find("expected an RFC 3339 date-time") == 0);
  }
}

TEST_CASE("epoch numbers: the unit follows from the magnitude") {
  CHECK(epoch_number_to_ns(1714564800) == 1714564800'000'000'000);
  CHECK(epoch_number_to_ns(1714564800.25) == 1714564800'250'000'000);
  CHECK(epoch_number_to_ns(1714564800.123) == 1714564800'123'000'000);  // rounded to the microsecond
  CHECK(epoch_number_to_ns(1714564800123.0) == 1714564800'123'000'000);
  CHECK(epoch_number_to_ns(1714564800123456.0) == 1714564800'123'456'000);
  CHECK(epoch_number_to_ns(1714564800123456768.0) == 1714564800'123'456'768);
  CHECK_FALSE(epoch_number_to_ns(99999999999.0));              // seconds, past 2262
  CHECK(epoch_number_to_ns(1e11) == 100'000'000'000'000'000);  // milliseconds from 1e11
  CHECK(epoch_number_to_ns(1e14) == 100'000'000'000'000'000);  // microseconds from 1e14
  CHECK(epoch_number_to_ns(1e17) == 100'000'000'000'000'000);  // nanoseconds from 1e17
  CHECK(epoch_number_to_ns(-1714564800) == -1714564800'000'000'000);
  CHECK(epoch_number_to_ns(0) == 0);
  CHECK_FALSE(epoch_number_to_ns(1e19));
  CHECK_FALSE(epoch_number_to_ns(9223372036854775808.0));
  CHECK_FALSE(epoch_number_to_ns(std::numeric_limits<double>::infinity()));
  CHECK_FALSE(epoch_number_to_ns(std::nan("")));
}

TEST_CASE("precision scaling refuses overflow") {
  CHECK(scale_timestamp(1700000000, Precision::s) == 1700000000'000'000'000);
  CHECK(scale_timestamp(-1, Precision::ms) == -1'000'000);
  CHECK(scale_timestamp(std::numeric_limits<int64_t>::max(), Precision::ns) == std::numeric_limits<int64_t>::max());
  CHECK_FALSE(scale_timestamp(9223372037, Precision::s));
  CHECK_FALSE(scale_timestamp(std::numeric_limits<int64_t>::min(), Precision::us));
}
