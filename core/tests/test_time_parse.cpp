// Query timestamps in every form a user may write them.
#include <doctest/doctest.h>

#include <cstdint>

#include "time_parse.hpp"

using namespace vitals::core;

namespace {
const int64_t kNow = 1'795'497'349'123'456'789;
int64_t t(std::string_view text) {
  std::string err;
  auto v = parse_time(text, kNow, err);
  REQUIRE_MESSAGE(v, err);
  return *v;
}
}  // namespace

TEST_CASE("RFC 3339 times with zones and fractions") {
  CHECK(t("1970-01-01T00:00:00Z") == 0);
  CHECK(t("2026-11-24T05:00:00Z") == 1'795'496'400'000'000'000);
  CHECK(t("2026-11-24T06:00:00+01:00") == 1'795'496'400'000'000'000);
  CHECK(t("2026-11-24T05:00:00.5Z") == 1'795'496'400'500'000'000);
  CHECK(t("2026-11-24T05:00:00.000000001Z") == 1'795'496'400'000'000'001);
  CHECK(t("2000-02-29T12:00:00-05:30") == 951'845'400'000'000'000);
  CHECK(t("2026-11-24") == 1'795'478'400'000'000'000);
}

TEST_CASE("epoch numbers in seconds, milliseconds and nanoseconds") {
  CHECK(t("1795496400") == 1'795'496'400'000'000'000);
  CHECK(t("1795496400.25") == 1'795'496'400'250'000'000);
  CHECK(t("1795496400123") == 1'795'496'400'123'000'000);
  CHECK(t("1795496400123456789") == 1'795'496'400'123'456'789);
}

TEST_CASE("now and relative times") {
  CHECK(t("now") == kNow);
  CHECK(t("-1h") == kNow - 3'600'000'000'000);
  CHECK(t("-1d12h") == kNow - 129'600'000'000'000);
  CHECK(t("+5m") == kNow + 300'000'000'000);
}

TEST_CASE("malformed times are refused with a message naming them") {
  for (const char *bad : {"", "yesterday", "2026-13-01T00:00:00Z", "2026-11-24T05:00:00", "2026-11-24T25:00:00Z", "-1x",
                          "12abc", "2026-11-24T05:00:00Zjunk"}) {
    std::string err;
    CHECK_MESSAGE(!parse_time(bad, kNow, err), std::string(bad));
    CHECK(err.find("invalid time '" + std::string(bad) + "'") != std::string::npos);
  }
}

// Times are int64 nanoseconds: 1677-09-21T00:12:43.145224192Z to
// 2262-04-11T23:47:16.854775807Z. Anything outside is refused, never wrapped
// (signed overflow is undefined behaviour; UBSan runs these in CI).
TEST_CASE("times outside the int64 nanosecond range are refused with a message naming them") {
  for (const char *bad : {"2263-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "1677-01-01T00:00:00Z",
                          "2262-04-11T23:47:17Z", "10000000000", "99999999999", "99999999999999", "99999999999999999",
                          "9223372036854775808", "99999999999999999999", "9300000000.5", "+106000d", "+1000000w"}) {
    std::string err;
    CHECK_MESSAGE(!parse_time(bad, kNow, err), std::string(bad));
    CHECK_MESSAGE(err.find("'" + std::string(bad) + "'") != std::string::npos, err);
  }
}

TEST_CASE("the ends of the int64 nanosecond range are accepted") {
  CHECK(t("2262-04-11T23:47:16.854775807Z") == INT64_MAX);
  CHECK(t("1677-09-21T00:12:43.145224192Z") == INT64_MIN);
  CHECK(t("9223372036854775807") == INT64_MAX);
  CHECK(t("9223372036.854775807") == INT64_MAX);
  CHECK(t("+1d") == kNow + 86'400'000'000'000);
  CHECK(t("-106000d") == kNow - 106'000 * 86'400'000'000'000);
}

TEST_CASE("dates that do not exist are refused") {
  for (const char *bad : {"2026-02-31T00:00:00Z", "2026-02-29", "2100-02-29", "2026-04-31T00:00:00Z", "2026-06-31",
                          "2026-00-10", "2026-01-00"}) {
    std::string err;
    CHECK_MESSAGE(!parse_time(bad, kNow, err), std::string(bad));
    CHECK(err.find("invalid time '" + std::string(bad) + "'") != std::string::npos);
  }
  CHECK(t("2024-02-29") == 1'709'164'800'000'000'000);
  CHECK(t("2000-02-29") == 951'782'400'000'000'000);
  CHECK(t("2026-12-31") == 1'798'675'200'000'000'000);
}
