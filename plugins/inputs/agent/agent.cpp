// Input `agent`: the agent's self-metrics, read from the host's snapshot and
// emitted as ordinary series, so they flow to storage and outputs like any
// other data.
#include <string>
#include <vector>

#include "sample_toml.h"
#include "vitals/plugin.hpp"
#include "vitals/selector.hpp"
#include "vitals/settings.hpp"

namespace {

class Agent final : public vitals::Input {
 public:
  // The loader refuses this plugin on an agent without these.
  static constexpr vitals_service_ref_t required_services[] = {
      vitals::require_service(VITALS_SERVICE_CONTROL, VITALS_SERVICE_CONTROL_VERSION)};
  struct Settings {
    std::vector<std::string> include;
    bool histograms = false;
  };
  static constexpr auto schema =
      vitals::settings<Settings>(vitals::key("include", &Settings::include, "[\"*\"]", "metric name globs to emit"),
                                 vitals::key("histograms", &Settings::histograms, "true",
                                             "emit histogram _bucket series (the _sum and _count always go)"));
  static constexpr const char *sample_config = vitals_sample_toml;
  // The snapshot may only be read on the loop thread; it is cheap.
  static constexpr uint64_t flags = VITALS_FLAG_COLLECT_ON_LOOP;

  Agent(vitals::Host host, const vitals::Config &config) : Agent(host, schema.read(config)) {}
  Agent(vitals::Host host, Settings s) : Input(host), include_(std::move(s.include)), histograms_(s.histograms) {}

  void collect(int64_t now_ns) override {
    batch_.clear();
    host().control().metrics([&](const char *name, const vitals_label_t *labels, uint32_t n, double value) {
      std::string_view metric(name);
      if (!histograms_ && metric.ends_with("_bucket")) return;
      if (!included(metric)) return;
      std::vector<vitals::Label> ls;
      ls.reserve(n);
      for (uint32_t i = 0; i < n; ++i) ls.push_back({labels[i].key, labels[i].value});
      batch_.add(host().intern(name, ls), now_ns, value);
    });
    host().emit(batch_);
  }

 private:
  bool included(std::string_view metric) const {
    for (const auto &pattern : include_)
      if (vitals::glob_match(pattern, metric)) return true;
    return false;
  }

  std::vector<std::string> include_;
  bool histograms_;
  vitals::Batch batch_;
};

}  // namespace

VITALS_PLUGIN(Agent, "agent", "1.0.0", "The agent's own metrics: throughput, queues, drops, errors, CPU, memory")
