// Test-only input: each collect emits `samples` samples of
// <name>{input="<id>"} whose values count up 1, 2, 3, ... across collects, so
// a test can tell exactly which samples reached a sink, and `events` events
// per collect, source <id>, messages "n1", "n2", ... across collects. It also logs
// "fake_input created" with its interval knobs so reload tests can count
// restarts.
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

#include "vitals/plugin.hpp"

namespace {

class FakeInput final : public vitals::Input {
 public:
  static constexpr vitals_config_field_t config_fields[] = {
      vitals::config_field("samples", VITALS_CONFIG_INT, 0, "1", "samples per collect"),
      vitals::config_field("name", VITALS_CONFIG_STRING, 0, "\"fake\"", "metric name"),
      vitals::config_field("collect_sleep", VITALS_CONFIG_DURATION, 0, "\"0s\"", "sleep in collect (a slow sensor)"),
      vitals::config_field("fail_create", VITALS_CONFIG_BOOL, 0, "false", "throw from the constructor"),
      vitals::config_field("throw_in_collect", VITALS_CONFIG_BOOL, 0, "false", "throw from collect"),
      vitals::config_field("events", VITALS_CONFIG_INT, 0, "0", "events per collect"),
  };

  FakeInput(vitals::Host host, const vitals::Config &config)
      : Input(host),
        samples_(config.integer("samples")),
        sleep_ns_(config.duration_ns("collect_sleep")),
        throw_in_collect_(config.boolean("throw_in_collect")),
        events_(config.integer("events")) {
    if (config.boolean("fail_create")) throw std::runtime_error("fake_input told to fail at create");
    series_ = host.intern(config.string("name"), {{"input", host.instance_id()}});
    host.info("fake_input created");
  }

  void collect(int64_t now_ns) override {
    if (sleep_ns_) std::this_thread::sleep_for(std::chrono::nanoseconds(sleep_ns_));
    if (throw_in_collect_) throw std::runtime_error("fake_input told to throw in collect");
    batch_.clear();
    for (int64_t i = 0; i < samples_; ++i) batch_.add(series_, now_ns + i, static_cast<double>(++sequence_));
    for (int64_t i = 0; i < events_; ++i)
      batch_.add_event(now_ns, VITALS_SEVERITY_INFO, host().instance_id(), "n" + std::to_string(++event_sequence_));
    host().emit(batch_);
  }

 private:
  int64_t samples_;
  int64_t sleep_ns_;
  bool throw_in_collect_;
  int64_t events_;
  vitals::SeriesId series_;
  int64_t sequence_ = 0, event_sequence_ = 0;
  vitals::Batch batch_;
};

}  // namespace

VITALS_PLUGIN(FakeInput, "fake_input", "1.0.0", "Test-only numbered sample stream")
