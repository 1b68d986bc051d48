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

namespace {

class Tuner final : public vitals::Optimizer {
 public:
  static constexpr vitals_service_ref_t required_services[] = {
      vitals::require_service(VITALS_SERVICE_CONTROL, VITALS_SERVICE_CONTROL_VERSION)};
  static constexpr vitals_config_field_t config_fields[] = {
      vitals::config_field("target", VITALS_CONFIG_STRING, 1, nullptr, "component whose tunable to set"),
      vitals::config_field("tunable", VITALS_CONFIG_STRING, 1, nullptr, "name of the tunable"),
      vitals::config_field("value", VITALS_CONFIG_FLOAT, 1, nullptr, "value to set"),
      vitals::config_field("reason", VITALS_CONFIG_STRING, 0, "\"test\"", "why, as the event says"),
      vitals::config_field("skip", VITALS_CONFIG_INT, 0, "0", "collects to let pass before acting"),
  };
  // vitals.control is loop-thread only.
  static constexpr uint64_t flags = VITALS_FLAG_COLLECT_ON_LOOP;

  Tuner(vitals::Host host, const vitals::Config &config)
      : Optimizer(host),
        target_(config.string("target")),
        tunable_(config.string("tunable")),
        value_(config.number("value")),
        reason_(config.string("reason")),
        skip_(config.integer("skip")) {
    stats_series_ = host.intern("tuner_target_stats", {{"target", target_}});
    status_series_ = host.intern("tuner_set_status", {{"target", target_}});
  }

  void collect(int64_t now_ns) override {
    if (done_ || skip_-- > 0) return;
    vitals::Control control = host().control();
    bool found = false;
    for (const auto &c : control.components()) found = found || c.id == target_;
    if (!found) return;  // not started yet: try on the next tick
    done_ = true;
    double stats = 0;
    control.metrics([&](const char *, const vitals_label_t *labels, uint32_t n, double) {
      for (uint32_t i = 0; i < n; ++i)
        if (std::string_view(labels[i].key) == "component" && labels[i].value == target_) ++stats;
    });
    int status = control.set_tunable(target_, tunable_, value_, reason_);
    batch_.clear();
    batch_.add(stats_series_, now_ns, stats);
    batch_.add(status_series_, now_ns, status);
    host().emit(batch_);
  }

 private:
  std::string target_, tunable_;
  double value_;
  std::string reason_;
  int64_t skip_;
  vitals::SeriesId stats_series_, status_series_;
  bool done_ = false;
  vitals::Batch batch_;
};

}  // namespace

VITALS_PLUGIN(Tuner, "tuner", "1.0.0", "Test-only optimizer that sets one tunable through vitals.control")
