// Input `load`: the kernel's 1, 5 and 15 minute load averages and the number
// of runnable and total scheduling entities, read from /proc/loadavg.
#include <cstdio>
#include <stdexcept>
#include <string>

#include "sample_toml.h"
#include "vitals/plugin.hpp"
#include "vitals/settings.hpp"

namespace {

class Load final : public vitals::Input {
 public:
  struct Settings {
    std::string path;
  };
  static constexpr auto schema = vitals::settings<Settings>(
      vitals::key("path", &Settings::path, "\"/proc/loadavg\"", "file to read (tests point it elsewhere)"));
  static constexpr const char *sample_config = vitals_sample_toml;

  Load(vitals::Host host, const vitals::Config &config) : Input(host), path_(schema.read(config).path) {
    load1_ = host.intern("load1");
    load5_ = host.intern("load5");
    load15_ = host.intern("load15");
    running_ = host.intern("load_procs_running");
    total_ = host.intern("load_procs_total");
  }

  void collect(int64_t now_ns) override {
    FILE *f = std::fopen(path_.c_str(), "re");
    if (!f) throw std::runtime_error("cannot open " + path_);
    double l1 = 0, l5 = 0, l15 = 0;
    long running = 0, total = 0;
    int n = std::fscanf(f, "%lf %lf %lf %ld/%ld", &l1, &l5, &l15, &running, &total);
    std::fclose(f);
    if (n != 5) throw std::runtime_error("unexpected format in " + path_);
    batch_.clear();
    batch_.add(load1_, now_ns, l1);
    batch_.add(load5_, now_ns, l5);
    batch_.add(load15_, now_ns, l15);
    batch_.add(running_, now_ns, static_cast<double>(running));
    batch_.add(total_, now_ns, static_cast<double>(total));
    host().emit(batch_);
  }

 private:
  std::string path_;
  vitals::SeriesId load1_, load5_, load15_, running_, total_;
  vitals::Batch batch_;
};

}  // namespace

VITALS_PLUGIN(Load, "load", "1.0.0", "Load averages and runnable process counts from /proc/loadavg")
