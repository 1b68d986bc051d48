// Behaviour of the synthetic input: sample counts, timestamps and values per shape and rate.
#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <numbers>
#include <set>

#include "vitals/testing.hpp"

namespace {

constexpr int64_t second = 1'000'000'000;
// A realistic wall-clock tick, and a whole number of minutes since the epoch.
constexpr int64_t t0 = 1'699'999'980 * second;

std::map<std::string, std::vector<vitals::testing::Sample>> by_series(const std::vector<vitals::testing::Sample> &all) {
  std::map<std::string, std::vector<vitals::testing::Sample>> out;
  for (const auto &s : all) out[s.series].push_back(s);
  return out;
}

}  // namespace

TEST_CASE("synthetic with the default config emits one sine sample per signal on the first collect") {
  vitals::testing::Host host;
  auto input = host.create(vitals_plugin());
  REQUIRE(input.collect(t0) == VITALS_OK);
  auto samples = host.samples();
  REQUIRE(samples.size() == 10);
  for (size_t i = 0; i < 10; ++i) {
    CHECK(samples[i].series == "synthetic{signal=\"" + std::to_string(i) + "\"}");
    CHECK(samples[i].ts_ns == t0);
  }
  // t0 starts a default 60 s period.
  CHECK(samples[0].value == doctest::Approx(0.0));
}

TEST_CASE("synthetic at rate 1 emits one sample per signal per 1 s tick") {
  vitals::testing::Host host;
  auto input = host.create(vitals_plugin(), "signals = 3");
  for (int tick = 0; tick < 5; ++tick) REQUIRE(input.collect(t0 + tick * second) == VITALS_OK);
  auto series = by_series(host.samples());
  REQUIRE(series.size() == 3);
  for (auto &[name, samples] : series) {
    REQUIRE(samples.size() == 5);
    for (int k = 0; k < 5; ++k) CHECK(samples[k].ts_ns == t0 + k * second);
  }
}

TEST_CASE("synthetic at rate 100 emits 100 evenly spaced samples per signal per 1 s tick") {
  vitals::testing::Host host;
  auto input = host.create(vitals_plugin(), "signals = 4\nrate = 100");
  REQUIRE(input.collect(t0) == VITALS_OK);
  CHECK(host.take_samples().size() == 4);
  REQUIRE(input.collect(t0 + second) == VITALS_OK);
  auto series = by_series(host.take_samples());
  REQUIRE(series.size() == 4);
  for (auto &[name, samples] : series) {
    REQUIRE(samples.size() == 100);
    for (int k = 0; k < 100; ++k) CHECK(samples[k].ts_ns == t0 + (k + 1) * 10'000'000);
  }
  REQUIRE(input.collect(t0 + 2 * second) == VITALS_OK);
  auto third = host.take_samples();
  CHECK(third.size() == 400);
  CHECK(third.front().ts_ns == t0 + second + 10'000'000);
  CHECK(third.back().ts_ns == t0 + 2 * second);
}

TEST_CASE("synthetic at rate 0.5 emits on every other 1 s tick") {
  vitals::testing::Host host;
  auto input = host.create(vitals_plugin(), "signals = 2\nrate = 0.5");
  std::vector<size_t> per_tick;
  for (int tick = 0; tick < 6; ++tick) {
    REQUIRE(input.collect(t0 + tick * second) == VITALS_OK);
    per_tick.push_back(host.take_samples().size());
  }
  CHECK(per_tick == std::vector<size_t>{2, 0, 2, 0, 2, 0});
}

TEST_CASE("synthetic spaces fractional intervals without drift") {
  vitals::testing::Host host;
  auto input = host.create(vitals_plugin(), "signals = 1\nrate = 3");
  input.collect(t0);
  for (int tick = 1; tick <= 1000; ++tick) input.collect(t0 + tick * second);
  auto samples = host.samples();
  REQUIRE(samples.size() == 3001);
  CHECK(samples[1].ts_ns == t0 + 333'333'333);
  CHECK(samples[2].ts_ns == t0 + 666'666'667);
  CHECK(samples[3].ts_ns == t0 + second);
  CHECK(samples.back().ts_ns == t0 + 1000 * second);
}

TEST_CASE("synthetic catches up every sample of a late tick") {
  vitals::testing::Host host;
  auto input = host.create(vitals_plugin(), "signals = 2");
  input.collect(t0);
  input.collect(t0 + 3 * second + 500'000'000);
  auto samples = host.samples();
  REQUIRE(samples.size() == 8);
  // Time-major: every signal at one timestamp before the next timestamp.
  CHECK(samples[2].ts_ns == t0 + second);
  CHECK(samples[3].ts_ns == t0 + second);
  CHECK(samples[7].ts_ns == t0 + 3 * second);
}

TEST_CASE("synthetic sine is offset + amplitude * sin(2 pi t / period) of the timestamp") {
  vitals::testing::Host host;
  auto input = host.create(vitals_plugin(), "signals = 2\nperiod = \"4s\"\namplitude = 2.0\noffset = 10\nrate = 2");
  for (int tick = 0; tick <= 4; ++tick) input.collect(t0 + tick * second);
  auto samples = by_series(host.samples())["synthetic{signal=\"1\"}"];
  REQUIRE(samples.size() == 9);
  for (const auto &s : samples) {
    double phase = static_cast<double>((s.ts_ns - t0) % (4 * second)) / (4.0 * second);
    CHECK(s.value == doctest::Approx(10 + 2 * std::sin(2 * std::numbers::pi * phase)));
  }
  CHECK(samples[0].value == doctest::Approx(10));  // t = 0
  CHECK(samples[2].value == doctest::Approx(12));  // t = 1 s, a quarter period
  CHECK(samples[6].value == doctest::Approx(8));   // t = 3 s
  CHECK(samples[8].value == doctest::Approx(10));  // t = 4 s, a full period
}

TEST_CASE("synthetic square is offset + amplitude for the first half period, offset - amplitude after") {
  vitals::testing::Host host;
  auto input =
      host.create(vitals_plugin(), "signals = 1\nshape = \"square\"\nperiod = \"4s\"\namplitude = 3\noffset = 1");
  std::vector<double> values;
  for (int tick = 0; tick < 8; ++tick) input.collect(t0 + tick * second);
  for (const auto &s : host.samples()) values.push_back(s.value);
  CHECK(values == std::vector<double>{4, 4, -2, -2, 4, 4, -2, -2});
}

TEST_CASE("synthetic counter counts samples from offset, one per sample") {
  vitals::testing::Host host;
  auto input = host.create(vitals_plugin(), "signals = 2\nshape = \"counter\"\nrate = 2\noffset = 100");
  input.collect(t0);
  input.collect(t0 + second);
  input.collect(t0 + 2 * second);
  auto series = by_series(host.samples());
  for (auto &[name, samples] : series) {
    std::vector<double> values;
    for (const auto &s : samples) values.push_back(s.value);
    CHECK(values == std::vector<double>{100, 101, 102, 103, 104});
  }
}

TEST_CASE("synthetic random walk is deterministic per seed, distinct per signal, with bounded steps") {
  auto run = [](const std::string &config) {
    vitals::testing::Host host;
    auto input = host.create(vitals_plugin(), config);
    for (int tick = 0; tick < 50; ++tick) input.collect(t0 + tick * second);
    std::map<std::string, std::vector<double>> values;
    for (const auto &s : host.samples()) values[s.series].push_back(s.value);
    return values;
  };
  auto a = run("signals = 3\nshape = \"random_walk\"\nseed = 42\namplitude = 0.5\noffset = 20");
  auto b = run("signals = 3\nshape = \"random_walk\"\nseed = 42\namplitude = 0.5\noffset = 20");
  auto c = run("signals = 3\nshape = \"random_walk\"\nseed = 43\namplitude = 0.5\noffset = 20");
  CHECK(a == b);
  CHECK(a != c);
  auto &walk0 = a["synthetic{signal=\"0\"}"];
  auto &walk1 = a["synthetic{signal=\"1\"}"];
  REQUIRE(walk0.size() == 50);
  CHECK(walk0 != walk1);
  CHECK(walk0[0] == 20);
  std::set<double> distinct(walk0.begin(), walk0.end());
  CHECK(distinct.size() > 40);
  for (size_t k = 1; k < walk0.size(); ++k) CHECK(std::abs(walk0[k] - walk0[k - 1]) <= 0.5);
}

TEST_CASE("synthetic names its series <name>{signal=\"i\"}") {
  vitals::testing::Host host;
  auto input = host.create(vitals_plugin(), "signals = 12\nname = \"bench.temp\"");
  input.collect(t0);
  auto samples = host.samples();
  REQUIRE(samples.size() == 12);
  CHECK(samples[11].series == "bench.temp{signal=\"11\"}");
}

TEST_CASE("synthetic emits in batches of at most max_batch samples") {
  vitals::testing::Host host;
  auto input = host.create(vitals_plugin(), "signals = 10\nrate = 100\nmax_batch = 250");
  input.collect(t0);
  CHECK(host.emit_calls() == 1);
  input.collect(t0 + second);
  CHECK(host.emit_calls() == 1 + 4);  // 1000 samples
  CHECK(host.samples().size() == 1010);
  input.collect(t0 + second + 50'000'000);
  CHECK(host.emit_calls() == 1 + 4 + 1);  // 50 samples
}

TEST_CASE("synthetic counts samples a full downstream refused, and warns once") {
  vitals::testing::Host host;
  auto input = host.create(vitals_plugin(), "signals = 5");
  host.set_backpressure(true);
  input.collect(t0);
  input.collect(t0 + second);
  host.set_backpressure(false);
  input.collect(t0 + 2 * second);
  CHECK(host.samples().size() == 5);
  CHECK(host.samples()[0].ts_ns == t0 + 2 * second);
  auto stats = input.stats();
  CHECK(stats["samples_refused"] == 10);
  CHECK(stats["samples_emitted"] == 5);
  CHECK(host.logs().size() == 1);
}

TEST_CASE("synthetic collects on the loop thread") {
  CHECK((vitals_plugin()->flags & VITALS_FLAG_COLLECT_ON_LOOP) != 0);
}

TEST_CASE("synthetic refuses bad settings naming the key") {
  vitals::testing::Host host;
  auto refused = [&](const std::string &config) {
    try {
      host.create(vitals_plugin(), config);
    } catch (const std::runtime_error &e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  // Ranges and choices are the schema's: the host refuses them before create(), naming key, line and value.
  CHECK(refused("shape = \"triangle\"") ==
        "line 1: 'shape' must be one of \"sine\", \"square\", \"random_walk\", \"counter\" (got \"triangle\")");
  CHECK(refused("rate = 0").find("rate: must be above 0") != std::string::npos);
  CHECK(refused("rate = -1.5") == "line 1: 'rate' must be at least 0 (got -1.5)");
  CHECK(refused("signals = 0") == "line 1: 'signals' must be at least 1 (got 0)");
  CHECK(refused("period = \"0s\"") == "line 1: 'period' must be at least \"1ns\" (got \"0s\")");
  CHECK(refused("max_batch = 0") == "line 1: 'max_batch' must be at least 1 (got 0)");
  CHECK(refused("max_batch = 10000001") == "line 1: 'max_batch' must be at most 10000000 (got 10000001)");
  CHECK(refused("name = \"1bad\"").find("name: '1bad' is not a valid metric name") != std::string::npos);
  CHECK(refused("rate = \"fast\"").find("'rate' must be a number") != std::string::npos);
  CHECK(refused("period = \"soon\"").find("'period' must be a duration") != std::string::npos);
}
