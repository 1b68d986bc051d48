// Input `memory`: physical memory and swap in bytes and percent used, read
// from /proc/meminfo.
#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "sample_toml.h"
#include "vitals/plugin.hpp"
#include "vitals/proc_file.hpp"
#include "vitals/settings.hpp"

namespace {

enum Field : size_t { kMemTotal, kMemFree, kMemAvailable, kBuffers, kCached, kSwapTotal, kSwapFree, kFields };
constexpr std::array<std::string_view, kFields> kFieldNames = {"MemTotal", "MemFree",   "MemAvailable", "Buffers",
                                                               "Cached",   "SwapTotal", "SwapFree"};

class Memory final : public vitals::Input {
 public:
  struct Settings {
    std::string path;
  };
  static constexpr auto schema = vitals::settings<Settings>(
      vitals::key("path", &Settings::path, "\"/proc/meminfo\"", "file to read (tests point it elsewhere)"));
  static constexpr const char *sample_config = vitals_sample_toml;

  Memory(vitals::Host host, const vitals::Config &config) : Input(host), path_(schema.read(config).path) {
    total_ = host.intern("memory_total_bytes");
    available_ = host.intern("memory_available_bytes");
    used_ = host.intern("memory_used_bytes");
    free_ = host.intern("memory_free_bytes");
    buffers_ = host.intern("memory_buffers_bytes");
    cached_ = host.intern("memory_cached_bytes");
    used_percent_ = host.intern("memory_used_percent");
    swap_total_ = host.intern("swap_total_bytes");
    swap_free_ = host.intern("swap_free_bytes");
    swap_used_ = host.intern("swap_used_bytes");
    swap_used_percent_ = host.intern("swap_used_percent");
  }

  void collect(int64_t now_ns) override {
    read_file();
    std::array<std::optional<uint64_t>, kFields> kb{};
    parse(kb);
    for (size_t f = 0; f < kFields; ++f)
      if (!kb[f] && f != kMemAvailable)
        throw std::runtime_error(std::string(kFieldNames[f]) + " is missing from " + path_);

    double total = bytes(*kb[kMemTotal]), free = bytes(*kb[kMemFree]);
    double buffers = bytes(*kb[kBuffers]), cached = bytes(*kb[kCached]);
    double available;
    if (kb[kMemAvailable]) {
      available = bytes(*kb[kMemAvailable]);
    } else {
      // Kernels before 3.14 lack MemAvailable; this estimate ignores unreclaimable page cache.
      if (!warned_estimate_)
        host().info("MemAvailable is missing from " + path_ + ": using MemFree + Buffers + Cached");
      warned_estimate_ = true;
      available = std::min(total, free + buffers + cached);
    }
    double used = std::max(0.0, total - available);
    double swap_total = bytes(*kb[kSwapTotal]), swap_free = bytes(*kb[kSwapFree]);
    double swap_used = std::max(0.0, swap_total - swap_free);

    batch_.clear();
    batch_.add(total_, now_ns, total);
    batch_.add(available_, now_ns, available);
    batch_.add(used_, now_ns, used);
    batch_.add(free_, now_ns, free);
    batch_.add(buffers_, now_ns, buffers);
    batch_.add(cached_, now_ns, cached);
    batch_.add(used_percent_, now_ns, percent(used, total));
    batch_.add(swap_total_, now_ns, swap_total);
    batch_.add(swap_free_, now_ns, swap_free);
    batch_.add(swap_used_, now_ns, swap_used);
    batch_.add(swap_used_percent_, now_ns, percent(swap_used, swap_total));
    host().emit(batch_);
  }

 private:
  static double bytes(uint64_t kb) { return static_cast<double>(kb) * 1024.0; }
  // A machine without swap reports 0 percent used, never NaN.
  static double percent(double part, double whole) { return whole > 0 ? 100.0 * part / whole : 0.0; }

  void read_file() { text_ = vitals::read_proc_file(path_, buffer_); }

  // Lines read "Key:   123 kB"; only the keys this plugin reports are checked.
  void parse(std::array<std::optional<uint64_t>, kFields> &kb) const {
    for (size_t pos = 0; pos < text_.size();) {
      size_t end = text_.find('\n', pos);
      if (end == std::string_view::npos) end = text_.size();
      std::string_view line = text_.substr(pos, end - pos);
      pos = end + 1;
      size_t colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      std::string_view key = line.substr(0, colon);
      size_t f = 0;
      while (f < kFields && kFieldNames[f] != key) ++f;
      if (f == kFields || kb[f]) continue;

      std::string_view rest = line.substr(colon + 1);
      size_t digits = rest.find_first_not_of(" \t");
      if (digits == std::string_view::npos) bad_value(key);
      rest.remove_prefix(digits);
      uint64_t value = 0;
      auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), value);
      if (ec != std::errc{}) bad_value(key);
      rest.remove_prefix(static_cast<size_t>(p - rest.data()));
      // The kernel prints every one of these in kB; anything else is not a file we understand.
      if (rest != " kB") bad_value(key);
      kb[f] = value;
    }
  }

  [[noreturn]] void bad_value(std::string_view key) const {
    throw std::runtime_error("unexpected value for " + std::string(key) + " in " + path_ + " (expected '<number> kB')");
  }

  std::string path_;
  std::vector<char> buffer_;
  std::string_view text_;
  bool warned_estimate_ = false;
  vitals::SeriesId total_, available_, used_, free_, buffers_, cached_, used_percent_;
  vitals::SeriesId swap_total_, swap_free_, swap_used_, swap_used_percent_;
  vitals::Batch batch_;
};

}  // namespace

VITALS_PLUGIN(Memory, "memory", "1.0.0", "Memory and swap usage from /proc/meminfo")
