// Input `thermal_zone`: the temperature of every thermal zone the kernel
// exposes, in degrees Celsius, as
//   thermal_zone_celsius{zone="thermal_zone0",type="x86_pkg_temp"}
// read from <root>/thermal_zone*/temp (millidegrees) and labelled with the
// zone's <root>/thermal_zone*/type.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "sample_toml.h"
#include "vitals/plugin.hpp"
#include "vitals/settings.hpp"

namespace {

class ThermalZone final : public vitals::Input {
 public:
  struct Settings {
    std::string root;
  };
  static constexpr auto schema = vitals::settings<Settings>(
      vitals::key("root", &Settings::root, "\"/sys/class/thermal\"", "directory of the thermal_zone* folders"));
  static constexpr const char *sample_config = vitals_sample_toml;

  ThermalZone(vitals::Host host, const vitals::Config &config) : Input(host), root_(schema.read(config).root) {}

  // Zones are listed on every collect: a driver loaded later adds one. A
  // missing root throws, which the agent logs and counts as a failed collect.
  void collect(int64_t now_ns) override {
    batch_.clear();
    for (const auto &entry : std::filesystem::directory_iterator(root_)) {
      std::string zone = entry.path().filename();
      if (!zone.starts_with("thermal_zone")) continue;
      std::ifstream temp_file(entry.path() / "temp"), type_file(entry.path() / "type");
      double millidegrees = 0;
      std::string type;
      // A zone whose sensor is asleep (a wifi card that is down) fails to read: skip it this time.
      if (!(temp_file >> millidegrees) || !std::getline(type_file, type)) continue;
      // Interning a series the host knows answers its id (a hash lookup), so a
      // few zones are simply interned as they are read, new ones included.
      auto id = host().intern("thermal_zone_celsius", {{"zone", zone}, {"type", type}});
      batch_.add(id, now_ns, millidegrees / 1000);
    }
    if (!batch_.empty()) host().emit(batch_);  // a machine without zones (a VM) emits nothing
  }

 private:
  std::string root_;
  vitals::Batch batch_;
};

}  // namespace

VITALS_PLUGIN(ThermalZone, "thermal_zone", "1.0.0", "Temperature of each thermal zone, from /sys/class/thermal")
