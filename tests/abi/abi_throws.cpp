// A C++ input that throws where config key `throw_in` says ("create" or
// "collect", the default): the loader tests check that the VITALS_PLUGIN
// trampolines turn each exception into an error the host can report, and
// that nothing thrown reaches the host.
#include <cstdint>
#include <stdexcept>
#include <string>

#include "vitals/plugin.hpp"

namespace {

class Throws final : public vitals::Input {
 public:
  static constexpr vitals_config_field_t config_fields[] = {
      vitals::config_field("throw_in", VITALS_CONFIG_STRING, 0, "\"collect\"",
                           "where to throw: \"create\" or \"collect\""),
  };

  Throws(vitals::Host host, const vitals::Config &config) : Input(host), throw_in_(config.string("throw_in")) {
    if (throw_in_ == "create") throw std::runtime_error("abi_throws: thrown in create, as configured");
  }

  void collect(int64_t) override {
    if (throw_in_ == "collect") throw std::runtime_error("abi_throws: thrown in collect, as configured");
  }

 private:
  std::string throw_in_;
};

}  // namespace

VITALS_PLUGIN(Throws, "abi_throws", "1.0.0", "ABI test fixture: throws in create or collect")
