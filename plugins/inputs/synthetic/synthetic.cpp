// Input `synthetic`: generated signals (sine, square, random walk, counter) at
// a chosen rate per signal, the load source for tests and benchmarks.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <stdexcept>
#include <string>
#include <vector>

#include "sample_toml.h"
#include "vitals/plugin.hpp"
#include "vitals/settings.hpp"

namespace {

enum class Shape { sine, square, random_walk, counter };
// In the order of Shape; the schema refuses any other name.
constexpr const char *kShapes[] = {"sine", "square", "random_walk", "counter", nullptr};

Shape parse_shape(const std::string &text) {
  for (int i = 0; kShapes[i]; ++i)
    if (text == kShapes[i]) return static_cast<Shape>(i);
  throw std::invalid_argument("shape: unknown shape '" + text + "'");
}

// splitmix64, so that a seed gives the same walk on every platform (the
// standard leaves the output of std::uniform_real_distribution open).
uint64_t next_random(uint64_t &state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Uniform in [-1, 1).
double next_step(uint64_t &state) { return static_cast<double>(next_random(state) >> 11) * 0x1.0p-52 - 1.0; }

class Synthetic final : public vitals::Input {
 public:
  struct Settings {
    int64_t signals = 0, seed = 0, max_batch = 0;
    std::string shape, name;
    double rate = 0, amplitude = 0, offset = 0;
    std::chrono::nanoseconds period{};
  };
  static constexpr auto schema = vitals::settings<Settings>(
      vitals::key("signals", &Settings::signals, "10", "number of series, <name>{signal=\"0\"} and up",
                  vitals::at_least("1")),
      vitals::key("shape", &Settings::shape, "\"sine\"", "what the values follow", vitals::one_of(kShapes)),
      vitals::key("rate", &Settings::rate, "1.0", "samples per second per signal (above 0)",
                  vitals::between("0", "1e9")),
      vitals::key("name", &Settings::name, "\"synthetic\"", "metric name"),
      vitals::key("period", &Settings::period, "\"60s\"", "period of sine and square", vitals::at_least("\"1ns\"")),
      vitals::key("amplitude", &Settings::amplitude, "1.0",
                  "peak deviation (sine, square) or largest step (random_walk)"),
      vitals::key("offset", &Settings::offset, "0.0", "centre of sine and square, start of random_walk and counter"),
      vitals::key("seed", &Settings::seed, "1", "random_walk seed: the same seed gives the same walk"),
      vitals::key("max_batch", &Settings::max_batch, "10000", "most samples per emitted batch",
                  vitals::between("1", "10000000")));
  static constexpr const char *sample_config = vitals_sample_toml;
  static constexpr uint64_t flags = VITALS_FLAG_COLLECT_ON_LOOP;

  Synthetic(vitals::Host host, const vitals::Config &config) : Synthetic(host, schema.read(config)) {}
  Synthetic(vitals::Host host, const Settings &s)
      : Input(host),
        shape_(parse_shape(s.shape)),
        period_ns_(s.period.count()),
        amplitude_(s.amplitude),
        offset_(s.offset) {
    if (!(s.rate > 0)) throw std::invalid_argument("rate: must be above 0 (got " + std::to_string(s.rate) + ")");
    step_ns_ = 1e9L / static_cast<long double>(s.rate);
    max_batch_ = static_cast<size_t>(s.max_batch);
    const int64_t signals = s.signals;

    const std::string &name = s.name;
    ids_.reserve(static_cast<size_t>(signals));
    for (int64_t i = 0; i < signals; ++i) {
      try {
        ids_.push_back(host.intern(name, {{"signal", std::to_string(i)}}));
      } catch (const std::invalid_argument &) {
        throw std::invalid_argument("name: '" + name + "' is not a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:.]*)");
      }
    }
    if (shape_ == Shape::random_walk) {
      uint64_t seed_state = static_cast<uint64_t>(s.seed);
      uint64_t base = next_random(seed_state);
      // Odd stride: every signal starts its own stretch of the sequence.
      for (size_t i = 0; i < ids_.size(); ++i) random_.push_back(base + i * 0xd1342543de82ef95ULL);
      walk_.assign(ids_.size(), offset_);
    }
    batch_.reserve(std::min(max_batch_, ids_.size()));
  }

  void collect(int64_t now_ns) override {
    if (!started_) {
      first_ns_ = now_ns;
      started_ = true;
    }
    for (int64_t ts = sample_ns(next_index_); ts <= now_ns; ts = sample_ns(++next_index_)) {
      double shared = shape_ == Shape::random_walk ? 0 : value_at(ts, next_index_);
      for (size_t i = 0; i < ids_.size(); ++i) {
        double value = shared;
        if (shape_ == Shape::random_walk) {
          value = walk_[i];
          walk_[i] += amplitude_ * next_step(random_[i]);
        }
        batch_.add(ids_[i], ts, value);
        if (batch_.size() >= max_batch_) send();
      }
    }
    send();
  }

  void stats(const vitals::StatsVisitor &visit) override {
    visit("samples_emitted", static_cast<double>(emitted_), {});
    visit("samples_refused", static_cast<double>(refused_), {});
  }

 private:
  // Sample k of every signal; computed from k, not accumulated, so that
  // fractional intervals (rate = 3) never drift.
  int64_t sample_ns(uint64_t index) const {
    return first_ns_ + static_cast<int64_t>(std::llround(static_cast<long double>(index) * step_ns_));
  }

  double value_at(int64_t ts_ns, uint64_t index) const {
    // Integer modulo keeps the phase exact however far ts is from the epoch.
    int64_t into_period = ((ts_ns % period_ns_) + period_ns_) % period_ns_;
    double phase = static_cast<double>(into_period) / static_cast<double>(period_ns_);
    switch (shape_) {
      case Shape::sine:
        return offset_ + amplitude_ * std::sin(2 * std::numbers::pi * phase);
      case Shape::square:
        return phase < 0.5 ? offset_ + amplitude_ : offset_ - amplitude_;
      case Shape::counter:
        return offset_ + static_cast<double>(index);
      case Shape::random_walk:
        break;
    }
    return offset_;
  }

  void send() {
    if (batch_.empty()) return;
    // A refused batch is dropped, not retried: the generator stays a function
    // of time, and the counts in stats() make the loss visible.
    if (host().emit(batch_) == VITALS_OK) {
      emitted_ += batch_.size();
      refusing_ = false;
    } else {
      if (!refusing_) host().warn("downstream refused generated samples; dropping them until it accepts again");
      refused_ += batch_.size();
      refusing_ = true;
    }
    batch_.clear();
  }

  Shape shape_;
  int64_t period_ns_;
  double amplitude_, offset_;
  long double step_ns_ = 0;
  size_t max_batch_ = 0;
  std::vector<vitals::SeriesId> ids_;
  std::vector<uint64_t> random_;
  std::vector<double> walk_;
  bool started_ = false;
  int64_t first_ns_ = 0;
  uint64_t next_index_ = 0;
  uint64_t emitted_ = 0, refused_ = 0;
  bool refusing_ = false;
  vitals::Batch batch_;
};

}  // namespace

VITALS_PLUGIN(Synthetic, "synthetic", "1.0.0", "Generated sine, square, random-walk or counter signals at a set rate")
