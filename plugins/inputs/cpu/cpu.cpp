// Input `cpu`: time spent in each mode, per core and for all cores together,
// as a percent of the time since the previous collect, from /proc/stat.
#include <array>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sample_toml.h"
#include "vitals/plugin.hpp"
#include "vitals/proc_file.hpp"
#include "vitals/settings.hpp"

namespace {

// The kernel's column order. guest and guest_nice follow steal in the file but
// are already included in user and nice, so they are never read.
constexpr size_t kModes = 8;
constexpr std::array<const char *, kModes> kModeNames = {"user",   "nice", "system",  "idle",
                                                         "iowait", "irq",  "softirq", "steal"};
constexpr size_t kIdle = 3, kIowait = 4;
// Kernels before 2.5.41 print only user, nice, system and idle; later columns read as 0.
constexpr size_t kMinColumns = 4;
// Far above any real NR_CPUS; stops a corrupt file from sizing the state vector.
constexpr uint64_t kMaxCpuIndex = 65535;

using Ticks = std::array<uint64_t, kModes>;

class Cpu final : public vitals::Input {
 public:
  struct Settings {
    std::string path;
    bool per_cpu = false, total = false, report_active = false;
  };
  static constexpr auto schema = vitals::settings<Settings>(
      vitals::key("path", &Settings::path, "\"/proc/stat\"", "file to read (tests point it elsewhere)"),
      vitals::key("per_cpu", &Settings::per_cpu, "true", "report each core, labelled cpu=\"0\", cpu=\"1\", ..."),
      vitals::key("total", &Settings::total, "true", "report all cores together, labelled cpu=\"total\""),
      vitals::key("report_active", &Settings::report_active, "true",
                  "also report mode=\"active\" = 100 - idle - iowait"));
  static constexpr const char *sample_config = vitals_sample_toml;

  Cpu(vitals::Host host, const vitals::Config &config) : Cpu(host, schema.read(config)) {}
  Cpu(vitals::Host host, const Settings &s)
      : Input(host), path_(s.path), per_cpu_(s.per_cpu), total_(s.total), report_active_(s.report_active) {
    if (!per_cpu_ && !total_) throw std::invalid_argument("per_cpu and total are both false: nothing to report");
  }

  void collect(int64_t now_ns) override {
    read_file();
    ++round_;
    parse();  // throws before any state changes, so a bad read does not lose the previous counters
    batch_.clear();
    for (const Reading &r : readings_) update(r, now_ns);
    // A core that went offline restarts from a fresh baseline when it returns.
    for (Slot &s : slots_)
      if (s.seen_round != round_) s.primed = false;
    if (!batch_.empty()) host().emit(batch_);
  }

 private:
  // Per slot: 0 is the "cpu" total line, N + 1 is "cpuN".
  struct Slot {
    uint64_t seen_round = 0;
    bool primed = false;
    Ticks previous{};
    std::array<vitals::SeriesId, kModes + 1> series{};  // the modes, then active; 0 until first seen
  };
  struct Reading {
    size_t slot;
    Ticks ticks;
  };

  void read_file() { text_ = vitals::read_proc_file(path_, buffer_); }

  void parse() {
    readings_.clear();
    size_t line_no = 0;
    for (size_t pos = 0; pos < text_.size();) {
      size_t end = text_.find('\n', pos);
      if (end == std::string_view::npos) end = text_.size();
      std::string_view line = text_.substr(pos, end - pos);
      pos = end + 1;
      ++line_no;
      if (line.starts_with("cpu")) parse_line(line, line_no);
    }
    if (readings_.empty()) throw std::runtime_error("no cpu lines in " + path_);
  }

  void parse_line(std::string_view line, size_t line_no) {
    auto fail = [&](const std::string &why) {
      throw std::runtime_error(path_ + ":" + std::to_string(line_no) + ": " + why);
    };
    size_t name_end = line.find_first_of(" \t");
    std::string_view name = line.substr(0, name_end);
    Reading r{0, {}};
    if (name.size() > 3) {
      uint64_t index = 0;
      auto [p, ec] = std::from_chars(name.data() + 3, name.data() + name.size(), index);
      if (ec != std::errc{} || p != name.data() + name.size() || index > kMaxCpuIndex)
        fail("bad cpu name '" + std::string(name) + "'");
      r.slot = static_cast<size_t>(index) + 1;
    }
    const char *p = line.data() + name.size();
    const char *end = line.data() + line.size();
    size_t columns = 0;
    for (; columns < kModes; ++columns) {
      while (p < end && (*p == ' ' || *p == '\t')) ++p;
      if (p == end) break;
      auto [next, ec] = std::from_chars(p, end, r.ticks[columns]);
      if (ec != std::errc{} || (next < end && *next != ' ' && *next != '\t'))
        fail("bad number in column " + std::to_string(columns + 1) + " of " + std::string(name));
      p = next;
    }
    if (columns < kMinColumns)
      fail(std::string(name) + " has " + std::to_string(columns) + " columns, expected 4 or more");
    if (r.slot >= slots_.size()) slots_.resize(r.slot + 1);
    if (slots_[r.slot].seen_round == round_) fail(std::string(name) + " appears twice");
    slots_[r.slot].seen_round = round_;
    readings_.push_back(r);
  }

  void update(const Reading &r, int64_t now_ns) {
    if (!(r.slot == 0 ? total_ : per_cpu_)) return;
    Slot &s = slots_[r.slot];
    if (s.series[0] == 0) intern(r.slot, s);
    bool primed = std::exchange(s.primed, true);
    Ticks previous = std::exchange(s.previous, r.ticks);
    if (!primed) return;

    Ticks delta{};
    uint64_t sum = 0, previous_sum = 0, current_sum = 0;
    for (size_t m = 0; m < kModes; ++m) {
      previous_sum += previous[m];
      current_sum += r.ticks[m];
      // iowait may go backwards on tickless kernels (see the kernel's proc.rst);
      // counting that column as 0 keeps every value within 0..100.
      delta[m] = r.ticks[m] > previous[m] ? r.ticks[m] - previous[m] : 0;
      sum += delta[m];
    }
    // Counters that went back as a whole mean the core was reset or replaced:
    // the new reading is only a baseline. No elapsed ticks means no percentages.
    if (current_sum < previous_sum || sum == 0) return;

    // Multiply first, divide last: a mode that took every tick is exactly 100.
    auto percent = [sum](uint64_t ticks) { return static_cast<double>(ticks) * 100.0 / static_cast<double>(sum); };
    for (size_t m = 0; m < kModes; ++m) batch_.add(s.series[m], now_ns, percent(delta[m]));
    if (report_active_) batch_.add(s.series[kModes], now_ns, percent(sum - delta[kIdle] - delta[kIowait]));
  }

  void intern(size_t slot, Slot &s) {
    std::string cpu = slot == 0 ? "total" : std::to_string(slot - 1);
    for (size_t m = 0; m < kModes; ++m)
      s.series[m] = host().intern("cpu_usage", {{"cpu", cpu}, {"mode", kModeNames[m]}});
    s.series[kModes] = host().intern("cpu_usage", {{"cpu", cpu}, {"mode", "active"}});
  }

  std::string path_;
  bool per_cpu_, total_, report_active_;
  std::vector<char> buffer_;
  std::string_view text_;
  std::vector<Reading> readings_;
  std::vector<Slot> slots_;
  uint64_t round_ = 0;
  vitals::Batch batch_;
};

}  // namespace

VITALS_PLUGIN(Cpu, "cpu", "1.0.0", "CPU usage per core and in total, by mode, from /proc/stat")
