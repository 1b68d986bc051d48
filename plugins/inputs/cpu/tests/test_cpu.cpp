#include <doctest/doctest.h>

#include <chrono>
#include <fstream>
#include <map>
#include <string>
#include <thread>

#include "vitals/testing.hpp"

namespace {

// Columns: user nice system idle iowait irq softirq steal guest guest_nice.
constexpr const char *kRound1 =
    "cpu  1000 100 500 8000 200 50 50 100 300 0\n"
    "cpu0 500 50 250 4000 100 25 25 50 150 0\n"
    "cpu1 500 50 250 4000 100 25 25 50 150 0\n"
    "intr 12345 0 0\n"
    "ctxt 99999\n";
// total: 200 ticks later; guest grew by 50 but is already inside user.
constexpr const char *kRound2 =
    "cpu  1060 100 520 8100 210 54 54 102 350 0\n"
    "cpu0 540 50 260 4040 105 27 27 51 175 0\n"
    "cpu1 520 50 260 4060 105 27 27 51 175 0\n"
    "intr 12400 0 0\n";

struct Fixture {
  vitals::testing::Host host;
  std::string path = host.data_dir() + "/stat";

  void write(const std::string &text) { std::ofstream(path) << text; }
  vitals::testing::Instance create(const std::string &extra = "") {
    return host.create(vitals_plugin(), "path = \"" + path + "\"\n" + extra);
  }
  std::map<std::string, double> take() {
    std::map<std::string, double> out;
    for (const auto &s : host.take_samples()) out[s.series] = s.value;
    return out;
  }
};

std::string usage(const std::string &cpu, const std::string &mode) {
  return "cpu_usage{cpu=\"" + cpu + "\",mode=\"" + mode + "\"}";
}

void check_modes(std::map<std::string, double> &v, const std::string &cpu, std::initializer_list<double> percents,
                 double active) {
  const char *modes[] = {"user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"};
  size_t i = 0;
  for (double p : percents) {
    INFO(usage(cpu, modes[i]));
    REQUIRE(v.count(usage(cpu, modes[i])) == 1);
    CHECK(v[usage(cpu, modes[i])] == doctest::Approx(p));
    ++i;
  }
  CHECK(v[usage(cpu, "active")] == doctest::Approx(active));
}

}  // namespace

TEST_CASE("cpu emits nothing on the first collect, which only primes the counters") {
  Fixture fx;
  fx.write(kRound1);
  auto cpu = fx.create();
  REQUIRE(cpu.collect(1000) == VITALS_OK);
  CHECK(fx.host.samples().empty());
  CHECK(fx.host.emit_calls() == 0);
}

TEST_CASE("cpu reports each mode as a percent of the ticks since the previous collect") {
  Fixture fx;
  fx.write(kRound1);
  auto cpu = fx.create();
  REQUIRE(cpu.collect(1000) == VITALS_OK);
  fx.write(kRound2);
  REQUIRE(cpu.collect(2000) == VITALS_OK);
  auto samples = fx.host.samples();
  REQUIRE(samples.size() == 3 * 9);
  CHECK(samples[0].series == usage("total", "user"));
  CHECK(samples[8].series == usage("total", "active"));
  CHECK(samples[9].series == usage("0", "user"));
  for (const auto &s : samples) CHECK(s.ts_ns == 2000);
  auto v = fx.take();
  // A guest counted twice would push user above 30 and the sum above 100.
  check_modes(v, "total", {30, 0, 10, 50, 5, 2, 2, 1}, 45);
  check_modes(v, "0", {40, 0, 10, 40, 5, 2, 2, 1}, 55);
  check_modes(v, "1", {20, 0, 10, 60, 5, 2, 2, 1}, 35);
}

TEST_CASE("cpu skips a core whose counters went back and resumes from the new baseline") {
  Fixture fx;
  fx.write(kRound1);
  auto cpu = fx.create();
  REQUIRE(cpu.collect(1) == VITALS_OK);
  fx.write(
      "cpu  1060 100 520 8100 210 54 54 102 0 0\n"
      "cpu0 540 50 260 4040 105 27 27 51 0 0\n"
      "cpu1 10 0 10 70 5 1 2 60 0 0\n");  // steal rose, the rest fell: a reset
  REQUIRE(cpu.collect(2) == VITALS_OK);
  auto v = fx.take();
  CHECK(v.size() == 2 * 9);
  CHECK(v.count(usage("1", "user")) == 0);
  for (auto &[series, value] : v) {
    INFO(series);
    CHECK(value >= 0);
    CHECK(value <= 100);
  }
  fx.write(
      "cpu  1100 100 540 8200 220 58 58 104 0 0\n"
      "cpu0 560 50 270 4080 110 29 29 52 0 0\n"
      "cpu1 30 0 20 130 10 3 4 61 0 0\n");
  REQUIRE(cpu.collect(3) == VITALS_OK);
  v = fx.take();
  CHECK(v.size() == 3 * 9);
  check_modes(v, "1", {20, 0, 10, 60, 5, 2, 2, 1}, 35);
}

TEST_CASE("cpu counts a column that went back as 0 and keeps the core") {
  Fixture fx;
  fx.write("cpu  100 0 100 700 100 0 0 0\n");
  auto cpu = fx.create("per_cpu = false");
  REQUIRE(cpu.collect(1) == VITALS_OK);
  // Tickless kernels may lower iowait while the same time shows up as idle.
  fx.write("cpu  110 0 110 780 98 0 0 0\n");
  REQUIRE(cpu.collect(2) == VITALS_OK);
  auto v = fx.take();
  check_modes(v, "total", {10, 0, 10, 80, 0, 0, 0, 0}, 20);
}

TEST_CASE("cpu follows cores that appear and disappear") {
  Fixture fx;
  fx.write(kRound1);
  auto cpu = fx.create();
  REQUIRE(cpu.collect(1) == VITALS_OK);

  // cpu1 went offline, cpu2 came online: only cores seen twice in a row report.
  fx.write(
      "cpu  1060 100 520 8100 210 54 54 102 350 0\n"
      "cpu0 540 50 260 4040 105 27 27 51 175 0\n"
      "cpu2 100 0 100 800 0 0 0 0 0 0\n");
  REQUIRE(cpu.collect(2) == VITALS_OK);
  auto v = fx.take();
  CHECK(v.size() == 2 * 9);
  CHECK(v.count(usage("0", "user")) == 1);
  CHECK(v.count(usage("2", "user")) == 0);

  // cpu1 is back: a fresh baseline for it, while cpu2 now has one.
  fx.write(
      "cpu  1100 100 540 8200 220 58 58 104 350 0\n"
      "cpu0 560 50 270 4080 110 29 29 52 175 0\n"
      "cpu1 520 50 260 4060 105 27 27 51 175 0\n"
      "cpu2 150 0 120 830 0 0 0 0 0 0\n");
  REQUIRE(cpu.collect(3) == VITALS_OK);
  v = fx.take();
  CHECK(v.size() == 3 * 9);
  CHECK(v.count(usage("1", "user")) == 0);
  check_modes(v, "2", {50, 0, 20, 30, 0, 0, 0, 0}, 70);

  fx.write(
      "cpu  1100 100 540 8200 220 58 58 104 350 0\n"
      "cpu0 560 50 270 4080 110 29 29 52 175 0\n"
      "cpu1 540 50 270 4100 110 29 29 52 175 0\n"
      "cpu2 150 0 120 830 0 0 0 0 0 0\n");
  REQUIRE(cpu.collect(4) == VITALS_OK);
  v = fx.take();
  CHECK(v.size() == 9);  // total, cpu0 and cpu2 had no ticks this round
  check_modes(v, "1", {25, 0, 12.5, 50, 6.25, 2.5, 2.5, 1.25}, 43.75);
}

TEST_CASE("cpu emits nothing for an interval with no ticks, never NaN") {
  Fixture fx;
  fx.write(kRound1);
  auto cpu = fx.create();
  REQUIRE(cpu.collect(1) == VITALS_OK);
  REQUIRE(cpu.collect(2) == VITALS_OK);
  CHECK(fx.host.samples().empty());
}

TEST_CASE("cpu options choose the total, the cores and the active series") {
  Fixture fx;
  fx.write(kRound1);
  auto totals = fx.create("per_cpu = false");
  auto cores = fx.create("total = false\nreport_active = false");
  REQUIRE(totals.collect(1) == VITALS_OK);
  REQUIRE(cores.collect(1) == VITALS_OK);
  fx.write(kRound2);

  REQUIRE(totals.collect(2) == VITALS_OK);
  auto v = fx.take();
  CHECK(v.size() == 9);
  check_modes(v, "total", {30, 0, 10, 50, 5, 2, 2, 1}, 45);

  REQUIRE(cores.collect(2) == VITALS_OK);
  v = fx.take();
  CHECK(v.size() == 2 * 8);
  CHECK(v.count(usage("total", "user")) == 0);
  CHECK(v.count(usage("0", "active")) == 0);
  CHECK(v[usage("1", "idle")] == doctest::Approx(60));
}

TEST_CASE("cpu refuses a config that turns off both per_cpu and total") {
  Fixture fx;
  CHECK_THROWS_WITH_AS(fx.create("per_cpu = false\ntotal = false"), doctest::Contains("nothing to report"),
                       std::runtime_error);
}

TEST_CASE("cpu reads kernels that print only four columns") {
  Fixture fx;
  fx.write("cpu 100 0 100 800\ncpu0 100 0 100 800\n");
  auto cpu = fx.create();
  REQUIRE(cpu.collect(1) == VITALS_OK);
  fx.write("cpu 130 10 160 900\ncpu0 130 10 160 900\n");
  REQUIRE(cpu.collect(2) == VITALS_OK);
  auto v = fx.take();
  check_modes(v, "total", {15, 5, 30, 50, 0, 0, 0, 0}, 50);
}

TEST_CASE("cpu reports a missing file as an error, not a crash") {
  vitals::testing::Host host;
  auto cpu = host.create(vitals_plugin(), "path = \"/nonexistent/stat\"");
  CHECK(cpu.collect(1) == VITALS_ERROR);
  CHECK(cpu.last_error().find("/nonexistent/stat") != std::string::npos);
}

TEST_CASE("cpu reports malformed files as errors and keeps the previous counters") {
  Fixture fx;
  fx.write(kRound1);
  auto cpu = fx.create();
  REQUIRE(cpu.collect(1) == VITALS_OK);

  fx.write("cpu  1060 100 520 8100 210 54 54 102 350 0\ncpu0 540 fifty 260 4040\n");
  CHECK(cpu.collect(2) == VITALS_ERROR);
  CHECK(cpu.last_error() == fx.path + ":2: bad number in column 2 of cpu0");

  fx.write("cpu  1060 100 520\n");
  CHECK(cpu.collect(3) == VITALS_ERROR);
  CHECK(cpu.last_error() == fx.path + ":1: cpu has 3 columns, expected 4 or more");

  fx.write("cpu  1060 100 520 8100\ncpux 1 2 3 4\n");
  CHECK(cpu.collect(4) == VITALS_ERROR);
  CHECK(cpu.last_error() == fx.path + ":2: bad cpu name 'cpux'");

  fx.write("cpu  1060 100 520 8100\ncpu0 1 2 3 4\ncpu0 1 2 3 4\n");
  CHECK(cpu.collect(5) == VITALS_ERROR);
  CHECK(cpu.last_error() == fx.path + ":3: cpu0 appears twice");

  fx.write("intr 1 2 3\n");
  CHECK(cpu.collect(6) == VITALS_ERROR);
  CHECK(cpu.last_error() == "no cpu lines in " + fx.path);

  fx.write("cpu  -5 100 520 8100\n");
  CHECK(cpu.collect(7) == VITALS_ERROR);
  CHECK(fx.host.emit_calls() == 0);

  // The deltas are still against the last good read.
  fx.write(kRound2);
  REQUIRE(cpu.collect(8) == VITALS_OK);
  auto v = fx.take();
  check_modes(v, "total", {30, 0, 10, 50, 5, 2, 2, 1}, 45);
}

TEST_CASE("cpu reads the real /proc/stat with the default config") {
  vitals::testing::Host host;
  auto cpu = host.create(vitals_plugin());
  REQUIRE(cpu.collect(vitals::testing::Host::now_ns()) == VITALS_OK);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  REQUIRE(cpu.collect(vitals::testing::Host::now_ns()) == VITALS_OK);
  auto samples = host.samples();
  REQUIRE(samples.size() >= 2 * 9);
  CHECK(samples.size() % 9 == 0);
  double total = 0;
  for (const auto &s : samples) {
    INFO(s.series);
    CHECK(s.value >= 0);
    CHECK(s.value <= 100);
    if (s.series.starts_with("cpu_usage{cpu=\"total\"") && s.series.find("active") == std::string::npos)
      total += s.value;
  }
  CHECK(total == doctest::Approx(100));
}

TEST_CASE("cpu refuses unknown keys with the line number") {
  CHECK_THROWS_WITH_AS(vitals::testing::Host::check_config(vitals_plugin(), "\nbogus = 1"),
                       doctest::Contains("line 2: unknown key 'bogus'"), std::runtime_error);
}
