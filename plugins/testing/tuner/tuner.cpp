// Test-only optimizer: the in-tree user of vitals.control. On its first
// collect it reads the stats of the `target` component and sets one of its
// tunables to `value`, giving `reason`; it emits what it saw and what the
// host answered, so a test can check both downstream:
//   tuner_target_stats{target}  how many stats of the target it read
//   tuner_set_status{target}    the host's answer (0 OK, -3 refused as out of
//                               range or unknown, -1 refused by the plugin)
// The host's event naming the change flows to the same outputs.
#include <string>

#include "vitals/plugin.hpp"
#include "vitals/settings.hpp"

namespace {

class Tuner final : public vitals::Optimizer {
 public:
  static constexpr vitals_service_ref_t required_services[] = {
      vitals::require_service(VITALS_SERVICE_CONTROL, VITALS_SERVICE_CONTROL_VERSION)};
  struct Settings {
    std::string target, tunable;
    double value = 0;
    std::string reason;
    int64_t skip = 0;
  };
  static constexpr auto schema =
      vitals::settings<Settings>(vitals::key("target", &Settings::target, nullptr, "component whose tunable to set"),
                                 vitals::key("tunable", &Settings::tunable, nullptr, "name of the tunable"),
                                 vitals::key("value", &Settings::value, nullptr, "value to set"),
                                 vitals::key("reason", &Settings::reason, "\"test\"", "why, as the event says"),
                                 vitals::key("skip", &Settings::skip, "0", "collects to let pass before acting"));
  // vitals.control is loop-thread only.
  static constexpr uint64_t flags = VITALS_FLAG_COLLECT_ON_LOOP;

  Tuner(vitals::Host host, const vitals::Config &config)
      : Optimizer(host), settings_(schema.read(config)), to_skip_(settings_.skip) {
    stats_series_ = host.intern("tuner_target_stats", {{"target", settings_.target}});
    status_series_ = host.intern("tuner_set_status", {{"target", settings_.target}});
  }

  void collect(int64_t now_ns) override {
    if (done_ || to_skip_-- > 0) return;
    vitals::Control control = host().control();
    bool found = false;
    for (const auto &c : control.components()) found = found || c.id == settings_.target;
    if (!found) return;  // not started yet: try on the next tick
    done_ = true;
    double stats = 0;
    control.metrics([&](const char *, const vitals_label_t *labels, uint32_t n, double) {
      for (uint32_t i = 0; i < n; ++i)
        if (std::string_view(labels[i].key) == "component" && labels[i].value == settings_.target) ++stats;
    });
    int status = control.set_tunable(settings_.target, settings_.tunable, settings_.value, settings_.reason);
    batch_.clear();
    batch_.add(stats_series_, now_ns, stats);
    batch_.add(status_series_, now_ns, status);
    host().emit(batch_);
  }

 private:
  Settings settings_;
  int64_t to_skip_;
  vitals::SeriesId stats_series_, status_series_;
  bool done_ = false;
  vitals::Batch batch_;
};

}  // namespace

VITALS_PLUGIN(Tuner, "tuner", "1.0.0", "Test-only optimizer that sets one tunable through vitals.control")
