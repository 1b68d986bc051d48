// Test-only input: each collect emits `samples` samples of
// <name>{input="<id>"} whose values count up 1, 2, 3, ... across collects, so
// a test can tell exactly which samples reached a sink, and `events` events
// per collect, source <id>, messages "n1", "n2", ... across collects. It also logs
// "fake_input created" with its interval knobs so reload tests can count
// restarts, and with log_acks each batch's acknowledgement. A batch emit()
// refuses (VITALS_AGAIN, or any status but OK) is numbered again by the next
// one, so a gap at a sink is a sample lost after it was accepted; refusals
// are counted in the "fake_input: N emits refused" line it logs when
// destroyed (and the first is logged when it happens).
// `hold_loop` makes it misbehave on the agent's loop: a timer that sleeps
// there, so that whatever waits for the loop piles up.
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
    int64_t batches = 1;
    std::chrono::nanoseconds hold_loop{};
    bool log_collects = false;
  };
  static constexpr auto schema = vitals::settings<Settings>(
      vitals::key("samples", &Settings::samples, "1", "samples per collect"),
      vitals::key("name", &Settings::name, "\"fake\"", "metric name"),
      vitals::key("collect_sleep", &Settings::collect_sleep, "\"0s\"", "sleep in collect (a slow sensor)"),
      vitals::key("fail_create", &Settings::fail_create, "false", "throw from the constructor"),
      vitals::key("throw_in_collect", &Settings::throw_in_collect, "false", "throw from collect"),
      vitals::key("events", &Settings::events, "0", "events per collect"),
      vitals::key("log_acks", &Settings::log_acks, "false",
                  "log each batch's acknowledgement: \"fake_input: batch <n> acknowledged: ok|failed\""),
      vitals::key("batches", &Settings::batches, "1", "batches of `samples` each per collect", vitals::at_least("1")),
      vitals::key("hold_loop", &Settings::hold_loop, "\"0s\"",
                  "sleep this long on the agent's loop every second (a plugin blocking the loop); 0: never"),
      vitals::key("log_collects", &Settings::log_collects, "false",
                  "log \"fake_input: collect <n> begins\" as each collect starts"));

  FakeInput(vitals::Host host, const vitals::Config &config) : Input(host), settings_(schema.read(config)) {
    if (settings_.fail_create) throw std::runtime_error("fake_input told to fail at create");
    series_ = host.intern(settings_.name, {{"input", host.instance_id()}});
    host.info("fake_input created");
    if (settings_.hold_loop.count())
      start_timer(1000, 1000, [hold = settings_.hold_loop] { std::this_thread::sleep_for(hold); });
  }
  ~FakeInput() override {
    if (refused_) host().info("fake_input: " + std::to_string(refused_) + " emits refused");
  }

  void collect(int64_t now_ns) override {
    if (settings_.log_collects) host().info("fake_input: collect " + std::to_string(++collects_) + " begins");
    if (settings_.collect_sleep.count()) std::this_thread::sleep_for(settings_.collect_sleep);
    if (settings_.throw_in_collect) throw std::runtime_error("fake_input told to throw in collect");
    for (int64_t b = 0; b < settings_.batches; ++b) emit_batch(now_ns);
  }

 private:
  void emit_batch(int64_t now_ns) {
    const int64_t first = sequence_, first_event = event_sequence_;
    batch_.clear();
    for (int64_t i = 0; i < settings_.samples; ++i) batch_.add(series_, now_ns + i, static_cast<double>(++sequence_));
    for (int64_t i = 0; i < settings_.events; ++i)
      batch_.add_event(now_ns, VITALS_SEVERITY_INFO, host().instance_id(), "n" + std::to_string(++event_sequence_));
    int status;
    if (!settings_.log_acks) {
      status = host().emit(batch_);
    } else {
      status = host().emit(batch_, [this, n = ++batches_](int acked, std::string_view) {
        host().info("fake_input: batch " + std::to_string(n) +
                    " acknowledged: " + (acked == VITALS_OK ? "ok" : "failed"));
      });
    }
    if (status != VITALS_OK) {
      sequence_ = first;
      event_sequence_ = first_event;
      if (++refused_ == 1) host().info("fake_input: an emit was refused (status " + std::to_string(status) + ")");
    }
  }

 private:
  Settings settings_;
  vitals::SeriesId series_;
  int64_t sequence_ = 0, event_sequence_ = 0, batches_ = 0, refused_ = 0, collects_ = 0;
  vitals::Batch batch_;
};

}  // namespace

VITALS_PLUGIN(FakeInput, "fake_input", "1.0.0", "Test-only numbered sample stream")
