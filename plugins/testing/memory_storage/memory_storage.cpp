// Test-only storage `memory_storage`: keeps samples in memory and answers the
// storage contract (vitals/storage.hpp). It exists to prove the contract is
// not shaped after sqlite, so it differs where it may: no file, no rollup
// tiers (every query reads raw samples; asking for 1m or 1h is refused),
// synchronous acknowledgements, retention applied as samples arrive and
// again when read, no backup. Both pass the same conformance suite.
#include <algorithm>
#include <chrono>
#include <iterator>
#include <map>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "vitals/plugin.hpp"
#include "vitals/settings.hpp"
#include "vitals/storage.hpp"

namespace {

namespace st = vitals::storage;

class MemoryStorage final : public vitals::TypedStorage {
 public:
  struct Settings {
    std::chrono::nanoseconds retention{};
    int64_t max_samples = 0;
  };
  static constexpr auto schema = vitals::settings<Settings>(
      vitals::key("retention", &Settings::retention, "\"30d\"", "how long samples are kept",
                  vitals::at_least("\"1s\"")),
      vitals::key("max_samples", &Settings::max_samples, "10000000",
                  "refuse batches once this many samples are held (memory is bounded)", vitals::at_least("1")));

  MemoryStorage(vitals::Host host, const vitals::Config &config) : TypedStorage(host), settings_(schema.read(config)) {}

  // On the loop thread; queries run on the pool meanwhile, hence the lock.
  vitals::Status consume(const vitals::BatchView &batch, vitals_ack_t *) override {
    const int64_t oldest = oldest_kept(st::wall_clock_ns());
    std::unique_lock lock(mutex_);
    if (samples_ + batch.size() > static_cast<uint64_t>(settings_.max_samples))
      throw std::runtime_error("holding " + std::to_string(samples_) + " samples, max_samples is " +
                               std::to_string(settings_.max_samples));
    for (size_t i = 0; i < batch.size(); ++i) {
      if (batch.ts_ns(i) < oldest) {
        ++expired_;
        continue;
      }
      const vitals_series_t *s = host().series(batch.series(i));
      if (!s) continue;
      auto [it, fresh] = series_.try_emplace(s->text);
      SeriesData &data = it->second;
      if (fresh) {
        data.name = s->name;
        for (uint32_t k = 0; k < s->n_labels; ++k) data.labels.push_back({s->labels[k].key, s->labels[k].value});
      }
      // Last write wins for the same timestamp.
      if (data.points.insert_or_assign(batch.ts_ns(i), batch.value(i)).second) ++samples_;
      // What retention let go of leaves memory as the series is written.
      auto keep = data.points.lower_bound(oldest);
      samples_ -= static_cast<uint64_t>(std::distance(data.points.begin(), keep));
      data.points.erase(data.points.begin(), keep);
    }
    return vitals::Status::ok;
  }

  st::Answer series(const st::SeriesQuery &q) override {
    std::shared_lock lock(mutex_);
    st::SeriesList list;
    for (const auto &[text, s] : series_)
      if (q.selector.matches(s.name, s.labels)) list.add(text, s.name, s.labels);
    return list.finish();
  }

  st::Answer latest(const st::LatestQuery &q) override {
    const int64_t oldest = oldest_kept(st::wall_clock_ns());
    std::shared_lock lock(mutex_);
    st::SeriesList list;
    for (const auto &[text, s] : series_) {
      if (s.points.empty() || !q.selector.matches(s.name, s.labels)) continue;
      auto newest = std::prev(s.points.end());
      if (newest->first >= oldest) list.add_latest(text, s.name, s.labels, newest->first, newest->second);
    }
    return list.finish();
  }

  st::Answer range(const st::RangeQuery &q, int64_t now_ns) override {
    if (q.tier && *q.tier != st::Tier::raw)
      throw st::BadRequest(std::string("memory_storage keeps no ") + st::tier_name(*q.tier) +
                           " tier, only raw samples");
    const int64_t from = std::max(q.from, oldest_kept(now_ns));
    // Copied under the lock, written out after it: consume() runs on the
    // agent's loop and must not wait for a reply to be formatted.
    struct Selected {
      const std::string *text;  // series are never removed, so these stay valid
      const SeriesData *series;
      std::vector<st::Point> points;
    };
    std::vector<Selected> selected;
    {
      std::shared_lock lock(mutex_);
      int64_t budget = st::max_raw_samples;
      for (const auto &[text, s] : series_) {
        if (!q.selector.matches(s.name, s.labels) || from > q.to) continue;
        Selected pick{&text, &s, {}};
        for (auto it = s.points.lower_bound(from); it != s.points.end() && it->first <= q.to; ++it)
          pick.points.push_back({it->first, it->second});
        if (q.method == st::Method::raw && (budget -= static_cast<int64_t>(pick.points.size())) < 0)
          throw st::BadRequest("the range holds more than " + std::to_string(st::max_raw_samples) +
                               " raw samples; ask for a shorter range, fewer series, or a downsampling method");
        if (!pick.points.empty()) selected.push_back(std::move(pick));
      }
    }
    st::RangeReply reply(q, st::Tier::raw);
    for (const auto &pick : selected) {
      reply.begin_series(*pick.text, pick.series->name, pick.series->labels);
      if (q.method == st::Method::raw) {
        for (const auto &p : pick.points) reply.point(p.ts, p.value);
      } else {
        for (const auto &p : st::downsample(q, pick.points)) reply.point(p.ts, p.value);
      }
      reply.end_series();
    }
    return reply.finish();
  }

  st::Answer query_stats() override {
    std::shared_lock lock(mutex_);
    int64_t with_data =
        std::count_if(series_.begin(), series_.end(), [](const auto &e) { return !e.second.points.empty(); });
    return st::StatsReply(with_data, static_cast<int64_t>(samples_))
        .field("expired_on_arrival", static_cast<int64_t>(expired_))
        .finish();
  }

 private:
  struct SeriesData {
    std::string name;
    std::vector<vitals::Label> labels;
    std::map<int64_t, double> points;
  };

  int64_t oldest_kept(int64_t now_ns) const { return now_ns - settings_.retention.count(); }

  Settings settings_;
  std::shared_mutex mutex_;
  std::map<std::string, SeriesData> series_;  // by text: the order replies list them in
  uint64_t samples_ = 0, expired_ = 0;
};

}  // namespace

VITALS_PLUGIN(MemoryStorage, "memory_storage", "1.0.0",
              "Test-only storage in memory: raw samples only, to prove the storage contract is not sqlite's")
