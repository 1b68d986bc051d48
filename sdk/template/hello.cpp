// Input `hello`, the template plugin of the Vitals SDK: each collection emits
// hello_value{greeting="..."} with the configured value. Copy this folder,
// rename `hello` everywhere, and put your measurement in collect().
#include <cstdint>
#include <string>

#include "vitals/plugin.hpp"
#include "vitals/settings.hpp"

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
  // Each key declared once: the host checks the TOML table against it before
  // create() (type, range; `vitals check` shows errors with file:line), and
  // read() fills the struct with the checked values, defaults included.
  struct Settings {
    std::string greeting;
    double value = 0;
  };
  static constexpr auto schema = vitals::settings<Settings>(
      vitals::key("greeting", &Settings::greeting, "\"world\"", "value of the greeting label"),
      vitals::key("value", &Settings::value, "1.0", "the number emitted on each collection"));
  static constexpr const char *sample_config = hello_sample_toml;
  // collect() is cheap and never blocks, so the host may call it on its loop.
  static constexpr uint64_t flags = VITALS_FLAG_COLLECT_ON_LOOP;

  Hello(vitals::Host host, const vitals::Config &config) : Hello(host, schema.read(config)) {}
  Hello(vitals::Host host, const Settings &s)
      : Input(host), series_(host.intern("hello_value", {{"greeting", s.greeting}})), value_(s.value) {}

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
