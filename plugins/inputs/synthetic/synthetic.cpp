// Input `synthetic`: generated signals (sine, square, random walk, counter) at
// a chosen rate per signal, the load source for tests and benchmarks.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <stdexcept>
#include <string>
#include <vector>

#include "sample_toml.h"
#include "vitals/plugin.hpp"

namespace {

enum class Shape { sine, square, random_walk, counter };

Shape parse_shape(const std::string &text) {
  if (text == "sine") return Shape::sine;
  if (text == "square") return Shape::square;
  if (text == "random_walk") return Shape::random_walk;
  if (text == "counter") return Shape::counter;
  throw std::invalid_argument("shape: unknown shape '" + text + "' (expected sine, square, random_walk or counter)");
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
  static constexpr vitals_config_field_t config_fields[] = {
      vitals::config_field("signals", VITALS_CONFIG_INT, 0, "10", "number of series, <name>{signal=\"0\"} and up"),
      vitals::config_field("shape", VITALS_CONFIG_STRING, 0, "\"sine\"", "sine, square, random_walk or counter"),
      vitals::config_field("rate", VITALS_CONFIG_FLOAT, 0, "1.0", "samples per second per signal"),
      vitals::config_field("name", VITALS_CONFIG_STRING, 0, "\"synthetic\"", "metric name"),
      vitals::config_field("period", VITALS_CONFIG_DURATION, 0, "\"60s\"", "period of sine and square"),
      vitals::config_field("amplitude", VITALS_CONFIG_FLOAT, 0, "1.0",
                           "peak deviation (sine, square) or largest step (random_walk)"),
      vitals::config_field("offset", VITALS_CONFIG_FLOAT, 0, "0.0",
                           "centre of sine and square, start of random_walk and counter"),
      vitals::config_field("seed", VITALS_CONFIG_INT, 0, "1", "random_walk seed: the same seed gives the same walk"),
      vitals::config_field("max_batch", VITALS_CONFIG_INT, 0, "10000", "most samples per emitted batch"),
  };
  static constexpr const char *sample_config = vitals_sample_toml;
  static constexpr uint64_t flags = VITALS_FLAG_COLLECT_ON_LOOP;

  static constexpr int64_t max_rate = 1'000'000'000;  // one sample per nanosecond
  static constexpr int64_t max_batch_limit = 10'000'000;

  Synthetic(vitals::Host host, const vitals::Config &config)
      : Input(host),
        shape_(parse_shape(config.string("shape"))),
        period_ns_(config.duration_ns("period")),
        amplitude_(config.number("amplitude")),
        offset_(config.number("offset")) {
    int64_t signals = config.integer("signals");
    if (signals < 1) throw std::invalid_argument("signals: must be at least 1 (got " + std::to_string(signals) + ")");
    double rate = config.number("rate");
    if (!(rate > 0) || rate > max_rate)
      throw std::invalid_argument("rate: must be above 0 and at most 1e9 samples per second (got " +
                                  std::to_string(rate) + ")");
    step_ns_ = 1e9L / static_cast<long double>(rate);
    if (period_ns_ <= 0) throw std::invalid_argument("period: must be longer than 0");
    int64_t max_batch = config.integer("max_batch");
    if (max_batch < 1 || max_batch > max_batch_limit)
      throw std::invalid_argument("max_batch: must be between 1 and " + std::to_string(max_batch_limit) + " (got " +
                                  std::to_string(max_batch) + ")");
    max_batch_ = static_cast<size_t>(max_batch);

    std::string name = config.string("name");
    ids_.reserve(static_cast<size_t>(signals));
    for (int64_t i = 0; i < signals; ++i) {
      try {
        ids_.push_back(host.intern(name, {{"signal", std::to_string(i)}}));
      } catch (const std::invalid_argument &) {
        throw std::invalid_argument("name: '" + name + "' is not a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:.]*)");
      }
    }
    if (shape_ == Shape::random_walk) {
      uint64_t seed_state = static_cast<uint64_t>(config.integer("seed"));
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
