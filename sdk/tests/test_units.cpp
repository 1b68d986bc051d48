// parse_duration and parse_size: the units users write in every config.
#include <doctest/doctest.h>

#include <cstdint>
#include <optional>

#include "vitals/units.hpp"

// Prints optionals in failure messages instead of {?}.
namespace doctest {
template <typename T>
struct StringMaker<std::optional<T>> {
  static String convert(const std::optional<T> &value) { return value ? toString(*value) : String("nullopt"); }
};
}  // namespace doctest

using vitals::parse_duration;
using vitals::parse_size;

constexpr int64_t ms = 1'000'000;
constexpr int64_t s = 1'000 * ms;

TEST_CASE("parse_duration reads every unit") {
  CHECK(parse_duration("7ns") == 7);
  CHECK(parse_duration("7us") == 7'000);
  CHECK(parse_duration("500ms") == 500 * ms);
  CHECK(parse_duration("1s") == s);
  CHECK(parse_duration("5m") == 5 * 60 * s);
  CHECK(parse_duration("2h") == 2 * 3600 * s);
  CHECK(parse_duration("30d") == 30 * 86400 * s);
  CHECK(parse_duration("1w") == 7 * 86400 * s);
  CHECK(parse_duration("0s") == 0);
}

TEST_CASE("parse_duration adds up compound durations") {
  CHECK(parse_duration("1h30m") == 90 * 60 * s);
  CHECK(parse_duration("1m30s") == 90 * s);
  CHECK(parse_duration("1s500ms") == 1500 * ms);
}

TEST_CASE("parse_duration accepts fractions") {
  CHECK(parse_duration("1.5s") == 1500 * ms);
  CHECK(parse_duration("0.25h") == 15 * 60 * s);
}

TEST_CASE("parse_duration is exact for decimal fractions") {
  CHECK(parse_duration("1.001s") == 1001 * ms);
  CHECK(parse_duration("1.005s") == 1005 * ms);
  CHECK(parse_duration("1.001us") == 1'001);
}

TEST_CASE("parse_duration refuses malformed text") {
  CHECK(parse_duration("") == std::nullopt);
  CHECK(parse_duration("5") == std::nullopt);  // a unit is required
  CHECK(parse_duration("1x") == std::nullopt);
  CHECK(parse_duration("s") == std::nullopt);
  CHECK(parse_duration("1S") == std::nullopt);  // units are lower case
  CHECK(parse_duration("1s ") == std::nullopt);
  CHECK(parse_duration(" 1s") == std::nullopt);
  CHECK(parse_duration("1h30") == std::nullopt);
  CHECK(parse_duration("1.2.3s") == std::nullopt);
}

TEST_CASE("parse_duration refuses negative durations") {
  CHECK(parse_duration("-1s") == std::nullopt);
  CHECK(parse_duration("1s-1ms") == std::nullopt);
}

TEST_CASE("parse_duration refuses what does not fit in int64 nanoseconds") {
  CHECK(parse_duration("106751d") == 106751LL * 86400 * s);  // about 292 years fits
  CHECK(parse_duration("106752d") == std::nullopt);
  CHECK(parse_duration("99999999999999999999s") == std::nullopt);
  CHECK(parse_duration("100000d100000d") == std::nullopt);  // the sum overflows, not one part
}

TEST_CASE("parse_size reads bytes, decimal and binary units") {
  CHECK(parse_size("0") == 0u);
  CHECK(parse_size("65536") == 65536u);
  CHECK(parse_size("10B") == 10u);
  CHECK(parse_size("64KB") == 64'000u);
  CHECK(parse_size("64kB") == 64'000u);
  CHECK(parse_size("10MB") == 10'000'000u);
  CHECK(parse_size("2GB") == 2'000'000'000u);
  CHECK(parse_size("3TB") == 3'000'000'000'000u);
  CHECK(parse_size("64KiB") == 65'536u);
  CHECK(parse_size("10MiB") == 10u * 1024 * 1024);
  CHECK(parse_size("2GiB") == 2ull * 1024 * 1024 * 1024);
  CHECK(parse_size("1TiB") == 1ull << 40);
}

TEST_CASE("parse_size accepts fractions and a space before the unit") {
  CHECK(parse_size("1.5KB") == 1'500u);
  CHECK(parse_size("0.5MiB") == 512u * 1024);
  CHECK(parse_size("64 KB") == 64'000u);
}

// Same truncation bug as parse_duration: "1.001KB" reads as 1000 bytes.
TEST_CASE("parse_size is exact for decimal fractions") {
  CHECK(parse_size("1.001KB") == 1'001u);
  CHECK(parse_size("1.003KB") == 1'003u);
}

TEST_CASE("parse_size refuses malformed, negative and overflowing sizes") {
  CHECK(parse_size("") == std::nullopt);
  CHECK(parse_size("KB") == std::nullopt);
  CHECK(parse_size("-1") == std::nullopt);
  CHECK(parse_size("-1KB") == std::nullopt);
  CHECK(parse_size("10XB") == std::nullopt);
  CHECK(parse_size("10kb") == std::nullopt);  // bits are not bytes
  CHECK(parse_size("10 MB extra") == std::nullopt);
  CHECK(parse_size("1.2.3MB") == std::nullopt);
  CHECK(parse_size("20000000TB") == std::nullopt);
  CHECK(parse_size("99999999999999999999") == std::nullopt);
}
