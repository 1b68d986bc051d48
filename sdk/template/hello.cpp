// Input `hello`, the template plugin of the Vitals SDK: each collection emits
// hello_value{greeting="..."} with the configured value. Copy this folder,
// rename `hello` everywhere, and put your measurement in collect().
#include <cstdint>

#include "vitals/plugin.hpp"

namespace {

// What `vitals plugins --describe hello` prints. It must equal sample.toml;
// tests/test_hello.cpp fails when the two drift apart.
constexpr const char hello_sample_toml[] = R"toml(# Emits hello_value{greeting="world"} = 1 on every collection.
[input.hello]
interval = "10s"
greeting = "world"
value = 1.0
)toml";

class Hello final : public vitals::Input {
 public:
  // The host checks the TOML table against these rows before create(), and
  // hands the constructor the checked values with defaults filled in.
  static constexpr vitals_config_field_t config_fields[] = {
      vitals::config_field("greeting", VITALS_CONFIG_STRING, 0, "\"world\"", "value of the greeting label"),
      vitals::config_field("value", VITALS_CONFIG_FLOAT, 0, "1.0", "the number emitted on each collection"),
  };
  static constexpr const char *sample_config = hello_sample_toml;
  // collect() is cheap and never blocks, so the host may call it on its loop.
  static constexpr uint64_t flags = VITALS_FLAG_COLLECT_ON_LOOP;

  Hello(vitals::Host host, const vitals::Config &config)
      : Input(host),
        series_(host.intern("hello_value", {{"greeting", config.string("greeting")}})),
        value_(config.number("value")) {}

  // Anything thrown here becomes an error the host logs; it never crashes the agent.
  void collect(int64_t now_ns) override {
    batch_.clear();
    batch_.add(series_, now_ns, value_);
    host().emit(batch_);
  }

 private:
  vitals::SeriesId series_;
  double value_;
  vitals::Batch batch_;
};

}  // namespace

VITALS_PLUGIN(Hello, "hello", "1.0.0", "Template plugin: emits hello_value{greeting=\"...\"}")
