// Unit tests of the thermal_zone input, run in the SDK's in-process host on a
// fixture tree laid out like /sys/class/thermal, made in a temporary folder.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "sample_toml.h"
#include "vitals/testing.hpp"

namespace fs = std::filesystem;

namespace {

// A temporary /sys/class/thermal look-alike, removed when the test ends.
class Fixture {
 public:
  Fixture() {
    std::string pattern = (fs::temp_directory_path() / "thermal_zone_test.XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    root_ = pattern;
  }
  ~Fixture() { fs::remove_all(root_); }
  Fixture(const Fixture &) = delete;
  Fixture &operator=(const Fixture &) = delete;

  // Writes <root>/<dir>/<file> with the text the kernel would give.
  void write(const std::string &dir, const std::string &file, const std::string &text) const {
    fs::create_directories(root_ / dir);
    std::ofstream(root_ / dir / file) << text;
  }
  std::string config() const { return "root = \"" + root_.string() + "\"\n"; }
  const fs::path &root() const { return root_; }

 private:
  fs::path root_;
};

std::vector<std::string> texts(const std::vector<vitals::testing::Sample> &samples) {
  std::vector<std::string> out;
  for (const auto &s : samples) out.push_back(s.series + " " + std::to_string(s.value));
  std::sort(out.begin(), out.end());  // the kernel lists zones in no set order
  return out;
}

}  // namespace

TEST_CASE("thermal_zone emits each zone's temperature in degrees Celsius, labelled with its type") {
  Fixture sys;
  sys.write("thermal_zone0", "temp", "45000\n");
  sys.write("thermal_zone0", "type", "x86_pkg_temp\n");
  sys.write("thermal_zone1", "temp", "-5500\n");
  sys.write("thermal_zone1", "type", "acpitz\n");
  sys.write("cooling_device0", "type", "Processor\n");  // not a zone: ignored
  sys.write("cooling_device0", "cur_state", "0\n");
  sys.write("not_a_zone", "temp", "99000\n");  // ignored too, though it reads like one
  sys.write("not_a_zone", "type", "stray\n");

  vitals::testing::Host host;
  auto input = host.create(vitals_plugin(), sys.config());
  REQUIRE(input.collect(1000) == VITALS_OK);
  CHECK(texts(host.samples()) == std::vector<std::string>{
                                     "thermal_zone_celsius{type=\"acpitz\",zone=\"thermal_zone1\"} -5.500000",
                                     "thermal_zone_celsius{type=\"x86_pkg_temp\",zone=\"thermal_zone0\"} 45.000000",
                                 });
  CHECK(host.samples()[0].ts_ns == 1000);
}

TEST_CASE("thermal_zone skips a zone that does not read, and picks up zones that appear later") {
  Fixture sys;
  sys.write("thermal_zone0", "temp", "41000\n");
  sys.write("thermal_zone0", "type", "acpitz\n");
  sys.write("thermal_zone1", "type", "iwlwifi_1\n");  // the kernel answers EIO for a sleeping sensor

  vitals::testing::Host host;
  auto input = host.create(vitals_plugin(), sys.config());
  REQUIRE(input.collect(1) == VITALS_OK);
  CHECK(texts(host.take_samples()) ==
        std::vector<std::string>{"thermal_zone_celsius{type=\"acpitz\",zone=\"thermal_zone0\"} 41.000000"});

  sys.write("thermal_zone1", "temp", "38000\n");
  sys.write("thermal_zone0", "temp", "42000\n");
  REQUIRE(input.collect(2) == VITALS_OK);
  CHECK(texts(host.take_samples()) ==
        std::vector<std::string>{"thermal_zone_celsius{type=\"acpitz\",zone=\"thermal_zone0\"} 42.000000",
                                 "thermal_zone_celsius{type=\"iwlwifi_1\",zone=\"thermal_zone1\"} 38.000000"});
  CHECK(host.series_count() == 2);  // each series interned once
}

TEST_CASE("thermal_zone emits nothing where there are no zones, as in most virtual machines") {
  Fixture sys;
  sys.write("cooling_device0", "type", "Processor\n");
  vitals::testing::Host host;
  auto input = host.create(vitals_plugin(), sys.config());
  REQUIRE(input.collect(1) == VITALS_OK);
  CHECK(host.emit_calls() == 0);
}

TEST_CASE("thermal_zone reports a missing root as a failed collect, naming it") {
  Fixture sys;
  vitals::testing::Host host;
  auto input = host.create(vitals_plugin(), "root = \"" + (sys.root() / "absent").string() + "\"\n");
  CHECK(input.collect(1) != VITALS_OK);
  CHECK(input.last_error().find((sys.root() / "absent").string()) != std::string::npos);
  CHECK(host.samples().empty());
}

TEST_CASE("thermal_zone reads /sys/class/thermal unless told otherwise") {
  CHECK(vitals::testing::Host::check_config(vitals_plugin(), "").find("\"root\":\"/sys/class/thermal\"") !=
        std::string::npos);
  CHECK_THROWS_WITH_AS(vitals::testing::Host::check_config(vitals_plugin(), "root = 1\n"),
                       doctest::Contains("line 1: 'root' must be a string"), std::runtime_error);
}

TEST_CASE("thermal_zone publishes sample.toml as its sample, and the sample passes the schema") {
  CHECK(std::string(vitals_plugin()->sample_config) == vitals_sample_toml);
  toml::table sample = toml::parse(vitals_plugin()->sample_config);
  toml::table *component = sample["input"]["thermal_zone"].as_table();
  REQUIRE(component != nullptr);
  component->erase("interval");  // a key every input has; the host handles it
  std::ostringstream plugin_keys;
  plugin_keys << *component;
  CHECK_NOTHROW(vitals::testing::Host::check_config(vitals_plugin(), plugin_keys.str()));
}
