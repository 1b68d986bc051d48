#include <doctest/doctest.h>

#include "vitals/testing.hpp"

TEST_CASE("agent emits every self-metric the host reports") {
  vitals::testing::Host host;
  auto m = host.table()->metric(host.table()->ctx, "vitals_test_total", VITALS_METRIC_COUNTER, "help");
  host.table()->metric_update(m, 42);
  auto agent = host.create(vitals_plugin());
  REQUIRE(agent.collect(123) == VITALS_OK);
  auto samples = host.samples();
  REQUIRE(samples.size() == 1);
  CHECK(samples[0].series == "vitals_test_total");
  CHECK(samples[0].value == 42);
  CHECK(samples[0].ts_ns == 123);
}

TEST_CASE("agent include globs select metrics by name") {
  vitals::testing::Host host;
  for (const char *name : {"vitals_a_total", "other_total"}) {
    auto m = host.table()->metric(host.table()->ctx, name, VITALS_METRIC_COUNTER, "");
    host.table()->metric_update(m, 1);
  }
  auto agent = host.create(vitals_plugin(), "include = [\"vitals_*\"]");
  REQUIRE(agent.collect(1) == VITALS_OK);
  auto samples = host.samples();
  REQUIRE(samples.size() == 1);
  CHECK(samples[0].series == "vitals_a_total");
}
