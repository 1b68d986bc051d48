#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <string>

#include "vitals/testing.hpp"

namespace {

constexpr const char *kMeminfo =
    "MemTotal:        8000000 kB\n"
    "MemFree:         1000000 kB\n"
    "MemAvailable:    5000000 kB\n"
    "Buffers:          200000 kB\n"
    "Cached:          3000000 kB\n"
    "SwapCached:        70000 kB\n"
    "Active(file):     900000 kB\n"
    "SwapTotal:       2000000 kB\n"
    "SwapFree:        1500000 kB\n"
    "HugePages_Total:       0\n"
    "Hugepagesize:       2048 kB\n";

std::string write_meminfo(vitals::testing::Host &host, const std::string &text) {
  std::string path = host.data_dir() + "/meminfo";
  std::ofstream(path) << text;
  return path;
}

std::map<std::string, double> by_series(const std::vector<vitals::testing::Sample> &samples) {
  std::map<std::string, double> out;
  for (const auto &s : samples) out[s.series] = s.value;
  return out;
}

}  // namespace

TEST_CASE("memory reports bytes and percents computed from /proc/meminfo") {
  vitals::testing::Host host;
  auto memory = host.create(vitals_plugin(), "path = \"" + write_meminfo(host, kMeminfo) + "\"");
  REQUIRE(memory.collect(1000) == VITALS_OK);
  auto samples = host.samples();
  REQUIRE(samples.size() == 11);
  CHECK(samples[0].series == "memory_total_bytes");
  CHECK(samples[10].series == "swap_used_percent");
  for (const auto &s : samples) CHECK(s.ts_ns == 1000);
  auto v = by_series(samples);
  CHECK(v["memory_total_bytes"] == 8192000000.0);
  CHECK(v["memory_available_bytes"] == 5120000000.0);
  CHECK(v["memory_used_bytes"] == 3072000000.0);
  CHECK(v["memory_free_bytes"] == 1024000000.0);
  CHECK(v["memory_buffers_bytes"] == 204800000.0);
  CHECK(v["memory_cached_bytes"] == 3072000000.0);  // Cached, not SwapCached
  CHECK(v["memory_used_percent"] == doctest::Approx(37.5));
  CHECK(v["swap_total_bytes"] == 2048000000.0);
  CHECK(v["swap_free_bytes"] == 1536000000.0);
  CHECK(v["swap_used_bytes"] == 512000000.0);
  CHECK(v["swap_used_percent"] == doctest::Approx(25.0));
}

TEST_CASE("memory estimates available as free + buffers + cached when MemAvailable is missing") {
  vitals::testing::Host host;
  std::string old_kernel =
      "MemTotal:        8000000 kB\n"
      "MemFree:         1000000 kB\n"
      "Buffers:          200000 kB\n"
      "Cached:          3000000 kB\n"
      "SwapTotal:       2000000 kB\n"
      "SwapFree:        2000000 kB\n";
  auto memory = host.create(vitals_plugin(), "path = \"" + write_meminfo(host, old_kernel) + "\"");
  REQUIRE(memory.collect(1) == VITALS_OK);
  REQUIRE(memory.collect(2) == VITALS_OK);
  auto v = by_series(host.samples());
  CHECK(v["memory_available_bytes"] == 4200000.0 * 1024);
  CHECK(v["memory_used_bytes"] == 3800000.0 * 1024);
  CHECK(v["memory_used_percent"] == doctest::Approx(47.5));
  CHECK(v["swap_used_percent"] == 0);
  int notes = 0;
  for (const auto &line : host.logs()) notes += line.message.find("MemAvailable") != std::string::npos;
  CHECK(notes == 1);
}

TEST_CASE("memory reports 0 percent swap used, not NaN, on a machine without swap") {
  vitals::testing::Host host;
  std::string no_swap =
      "MemTotal: 1000 kB\nMemFree: 500 kB\nMemAvailable: 750 kB\nBuffers: 10 kB\nCached: 200 kB\n"
      "SwapTotal: 0 kB\nSwapFree: 0 kB\n";
  auto memory = host.create(vitals_plugin(), "path = \"" + write_meminfo(host, no_swap) + "\"");
  REQUIRE(memory.collect(1) == VITALS_OK);
  auto v = by_series(host.samples());
  CHECK(v["swap_total_bytes"] == 0);
  CHECK(v["swap_used_bytes"] == 0);
  CHECK(v["swap_used_percent"] == 0);
  CHECK_FALSE(std::isnan(v["swap_used_percent"]));
  CHECK(v["memory_used_percent"] == doctest::Approx(25.0));
}

TEST_CASE("memory reads the real /proc/meminfo with the default config") {
  vitals::testing::Host host;
  auto memory = host.create(vitals_plugin());
  REQUIRE(memory.collect(vitals::testing::Host::now_ns()) == VITALS_OK);
  auto samples = host.samples();
  REQUIRE(samples.size() == 11);
  auto v = by_series(samples);
  CHECK(v["memory_total_bytes"] > 0);
  CHECK(v["memory_used_bytes"] <= v["memory_total_bytes"]);
  CHECK(v["memory_used_bytes"] == doctest::Approx(v["memory_total_bytes"] - v["memory_available_bytes"]));
  for (const char *p : {"memory_used_percent", "swap_used_percent"}) {
    CHECK(v[p] >= 0);
    CHECK(v[p] <= 100);
  }
}

TEST_CASE("memory reports a missing file as an error, not a crash") {
  vitals::testing::Host host;
  auto memory = host.create(vitals_plugin(), "path = \"/nonexistent/meminfo\"");
  CHECK(memory.collect(1) == VITALS_ERROR);
  CHECK(memory.last_error().find("/nonexistent/meminfo") != std::string::npos);
  CHECK(host.emit_calls() == 0);
}

TEST_CASE("memory reports malformed files as errors naming the key") {
  vitals::testing::Host host;
  std::string path = write_meminfo(host, "");
  auto memory = host.create(vitals_plugin(), "path = \"" + path + "\"");

  CHECK(memory.collect(1) == VITALS_ERROR);
  CHECK(memory.last_error() == "MemTotal is missing from " + path);

  std::ofstream(path) << "MemTotal: 1000 kB\nMemFree: 500 kB\nBuffers: 10 kB\nCached: 200 kB\nSwapTotal: 0 kB\n";
  CHECK(memory.collect(2) == VITALS_ERROR);
  CHECK(memory.last_error() == "SwapFree is missing from " + path);

  std::ofstream(path) << "MemTotal: lots kB\n";
  CHECK(memory.collect(3) == VITALS_ERROR);
  CHECK(memory.last_error().find("unexpected value for MemTotal in " + path) == 0);

  std::ofstream(path) << "MemTotal: 1000 MB\n";
  CHECK(memory.collect(4) == VITALS_ERROR);
  CHECK(memory.last_error().find("unexpected value for MemTotal") == 0);

  CHECK(host.emit_calls() == 0);
}

TEST_CASE("memory refuses unknown keys with the line number") {
  CHECK_THROWS_WITH_AS(vitals::testing::Host::check_config(vitals_plugin(), "\nbogus = 1"),
                       doctest::Contains("line 2: unknown key 'bogus'"), std::runtime_error);
}
