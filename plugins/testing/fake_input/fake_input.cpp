// Test-only input: each collect emits `samples` samples of
// <name>{input="<id>"} whose values count up 1, 2, 3, ... across collects, so
// a test can tell exactly which samples reached a sink, and `events` events
// per collect, source <id>, messages "n1", "n2", ... across collects. It also logs
// "fake_input created" with its interval knobs so reload tests can count
// restarts, and with log_acks each batch's acknowledgement.
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

#include "vitals/plugin.hpp"
#include "vitals/settings.hpp"

namespace {

class FakeInput final : public vitals::Input {
 public:
  struct Settings {
    int64_t samples = 0;
    std::string name;
    std::chrono::nanoseconds collect_sleep{};
    bool fail_create = false, throw_in_collect = false;
    int64_t events = 0;
    bool log_acks = false;
  };
  static constexpr auto schema = vitals::settings<Settings>(
      vitals::key("samples", &Settings::samples, "1", "samples per collect"),
      vitals::key("name", &Settings::name, "\"fake\"", "metric name"),
      vitals::key("collect_sleep", &Settings::collect_sleep, "\"0s\"", "sleep in collect (a slow sensor)"),
      vitals::key("fail_create", &Settings::fail_create, "false", "throw from the constructor"),
      vitals::key("throw_in_collect", &Settings::throw_in_collect, "false", "throw from collect"),
      vitals::key("events", &Settings::events, "0", "events per collect"),
      vitals::key("log_acks", &Settings::log_acks, "false",
                  "log each batch's acknowledgement: \"fake_input: batch <n> acknowledged: ok|failed\""));

  FakeInput(vitals::Host host, const vitals::Config &config) : Input(host), settings_(schema.read(config)) {
    if (settings_.fail_create) throw std::runtime_error("fake_input told to fail at create");
    series_ = host.intern(settings_.name, {{"input", host.instance_id()}});
    host.info("fake_input created");
  }

  void collect(int64_t now_ns) override {
    if (settings_.collect_sleep.count()) std::this_thread::sleep_for(settings_.collect_sleep);
    if (settings_.throw_in_collect) throw std::runtime_error("fake_input told to throw in collect");
    batch_.clear();
    for (int64_t i = 0; i < settings_.samples; ++i) batch_.add(series_, now_ns + i, static_cast<double>(++sequence_));
    for (int64_t i = 0; i < settings_.events; ++i)
      batch_.add_event(now_ns, VITALS_SEVERITY_INFO, host().instance_id(), "n" + std::to_string(++event_sequence_));
    if (!settings_.log_acks) {
      host().emit(batch_);
      return;
    }
    host().emit(batch_, [this, n = ++batches_](int status, std::string_view) {
      host().info("fake_input: batch " + std::to_string(n) +
                  " acknowledged: " + (status == VITALS_OK ? "ok" : "failed"));
    });
  }

 private:
  Settings settings_;
  vitals::SeriesId series_;
  int64_t sequence_ = 0, event_sequence_ = 0, batches_ = 0;
  vitals::Batch batch_;
};

}  // namespace

VITALS_PLUGIN(FakeInput, "fake_input", "1.0.0", "Test-only numbered sample stream")
