#include <doctest/doctest.h>

#include <fstream>

#include "vitals/testing.hpp"

TEST_CASE("load reports the five values of /proc/loadavg") {
  vitals::testing::Host host;
  std::string path = host.data_dir() + "/loadavg";
  std::ofstream(path) << "0.52 0.58 0.59 3/467 12345\n";
  auto load = host.create(vitals_plugin(), "path = \"" + path + "\"");
  REQUIRE(load.collect(1000) == VITALS_OK);
  auto samples = host.samples();
  REQUIRE(samples.size() == 5);
  CHECK(samples[0].series == "load1");
  CHECK(samples[0].value == doctest::Approx(0.52));
  CHECK(samples[2].series == "load15");
  CHECK(samples[3].value == 3);
  CHECK(samples[4].value == 467);
  CHECK(samples[0].ts_ns == 1000);
}

TEST_CASE("load reads the real /proc/loadavg with the default config") {
  vitals::testing::Host host;
  auto load = host.create(vitals_plugin());
  REQUIRE(load.collect(vitals::testing::Host::now_ns()) == VITALS_OK);
  CHECK(host.samples().size() == 5);
  CHECK(host.samples()[4].value >= 1);
}

TEST_CASE("load reports a missing file as an error, not a crash") {
  vitals::testing::Host host;
  auto load = host.create(vitals_plugin(), "path = \"/nonexistent/loadavg\"");
  CHECK(load.collect(1) == VITALS_ERROR);
  CHECK(load.last_error().find("/nonexistent/loadavg") != std::string::npos);
}

TEST_CASE("load refuses unknown keys with the line number") {
  CHECK_THROWS_WITH_AS(vitals::testing::Host::check_config(vitals_plugin(), "\nbogus = 1"),
                       doctest::Contains("line 2: unknown key 'bogus'"), std::runtime_error);
}
