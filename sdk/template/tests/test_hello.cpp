// Unit tests of the hello input, run in the SDK's in-process host
// (vitals/testing.hpp): no agent needed.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <sstream>
#include <string>

#include "sample_toml.h"
#include "vitals/testing.hpp"

TEST_CASE("hello emits hello_value with the configured greeting and value") {
  vitals::testing::Host host;
  auto hello = host.create(vitals_plugin(), "greeting = \"bonjour\"\nvalue = 2.5\n");
  REQUIRE(hello.collect(1000) == VITALS_OK);
  auto samples = host.samples();
  REQUIRE(samples.size() == 1);
  CHECK(samples[0].series == "hello_value{greeting=\"bonjour\"}");
  CHECK(samples[0].value == 2.5);
  CHECK(samples[0].ts_ns == 1000);
}

TEST_CASE("hello greets the world with 1 by default, once per collection") {
  vitals::testing::Host host;
  auto hello = host.create(vitals_plugin());
  REQUIRE(hello.collect(1) == VITALS_OK);
  REQUIRE(hello.collect(2) == VITALS_OK);
  auto samples = host.samples();
  REQUIRE(samples.size() == 2);
  CHECK(samples[1].series == "hello_value{greeting=\"world\"}");
  CHECK(samples[1].value == 1.0);
  CHECK(samples[1].ts_ns == 2);
}

TEST_CASE("hello refuses unknown keys and wrong types, naming the line") {
  CHECK_THROWS_WITH_AS(vitals::testing::Host::check_config(vitals_plugin(), "\ngretting = \"hi\"\n"),
                       doctest::Contains("line 2: unknown key 'gretting'"), std::runtime_error);
  CHECK_THROWS_WITH_AS(vitals::testing::Host::check_config(vitals_plugin(), "value = \"high\"\n"),
                       doctest::Contains("line 1: 'value' must be a number"), std::runtime_error);
}

TEST_CASE("hello publishes sample.toml as its sample, and the sample passes the schema") {
  // sample_toml.h is generated from sample.toml by the SDK's embed_sample.py.
  CHECK(std::string(vitals_plugin()->sample_config) == vitals_sample_toml);

  // The sample configures this plugin, and every key of it is one the schema
  // accepts: a key renamed in one place but not the other fails here.
  toml::table sample = toml::parse(vitals_plugin()->sample_config);
  toml::table *component = sample["input"]["hello"].as_table();
  REQUIRE(component != nullptr);
  component->erase("interval");  // a key every input has; the host handles it
  std::ostringstream plugin_keys;
  plugin_keys << *component;
  CHECK_NOTHROW(vitals::testing::Host::check_config(vitals_plugin(), plugin_keys.str()));
}
