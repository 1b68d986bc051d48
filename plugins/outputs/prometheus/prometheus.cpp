// Output `prometheus`: the latest value of every series it receives, on GET
// /metrics in the Prometheus text format; series not updated for
// stale_after leave the page.
#include <algorithm>
#include <chrono>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "exposition.hpp"
#include "sample_toml.h"
#include "vitals/plugin.hpp"
#include "vitals/settings.hpp"

namespace vitals::prometheus {

class Prometheus final : public Output {
 public:
  // The loader refuses this plugin on an agent without these.
  static constexpr vitals_service_ref_t required_services[] = {
      vitals::require_service(VITALS_SERVICE_HTTP, VITALS_SERVICE_HTTP_VERSION)};
  struct Settings {
    std::string path;
    std::chrono::nanoseconds stale_after{};
    int64_t max_series = 0;
    bool timestamps = false;
  };
  static constexpr auto schema = vitals::settings<Settings>(
      vitals::key("path", &Settings::path, "\"/metrics\"", "route of the scrape endpoint"),
      vitals::key("stale_after", &Settings::stale_after, "\"5m\"",
                  "series not updated for this long leave the page; 0: never"),
      vitals::key("max_series", &Settings::max_series, "100000",
                  "series kept; samples of further new series are counted and ignored", vitals::at_least("1")),
      vitals::key("timestamps", &Settings::timestamps, "false", "append each sample's timestamp (milliseconds)"));
  static constexpr const char *sample_config = vitals_sample_toml;
  static constexpr const char *content_type = "text/plain; version=0.0.4; charset=utf-8";

  Prometheus(Host host, const Config &config) : Prometheus(host, schema.read(config)) {}
  Prometheus(Host host, const Settings &s)
      : Output(host),
        path_(s.path),
        stale_after_ns_(s.stale_after.count()),
        max_series_(s.max_series),
        timestamps_(s.timestamps) {
    if (path_.empty() || path_[0] != '/') throw std::invalid_argument("path: must start with '/'");
    series_gauge_ = host.metric("vitals_prometheus_series", VITALS_METRIC_GAUGE, "Series on the /metrics page");
    ignored_ = host.metric("vitals_prometheus_samples_ignored_total", VITALS_METRIC_COUNTER,
                           "Samples of new series ignored because max_series were held");
    expired_ = host.metric("vitals_prometheus_series_expired_total", VITALS_METRIC_COUNTER,
                           "Series dropped from the page after stale_after without an update");
    scrapes_ = host.metric("vitals_prometheus_scrapes_total", VITALS_METRIC_COUNTER, "Pages served");
  }

  void start() override {
    try {
      route("GET", path_, 0, [this](const HttpRequest &, HttpResponse response) { scrape(response); });
    } catch (const vitals::HttpUnavailable &e) {
      // Without an HTTP server nobody can scrape, but the rest of the pipeline
      // runs on; a route another component owns stays an error.
      host().warn(std::string(e.what()) + ": prometheus serves nothing");
    }
    if (stale_after_ns_ > 0) {
      // Sweeps often enough that a series leaves within about 1.5 stale_after.
      uint64_t every_ms = std::clamp<uint64_t>(static_cast<uint64_t>(stale_after_ns_ / 2'000'000), 10, 60'000);
      start_timer(every_ms, every_ms, [this] { sweep(); });
    }
  }

  Status consume(const BatchView &batch, vitals_ack_t *) override {
    int64_t now = steady_ns();
    for (size_t i = 0; i < batch.size(); ++i) {
      auto it = latest_.find(batch.series(i));
      if (it == latest_.end()) {
        if (static_cast<int64_t>(latest_.size()) >= max_series_) {
          ignored_.update(1);
          continue;
        }
        const vitals_series_t *s = host().series(batch.series(i));
        if (!s) continue;
        it = latest_.emplace(batch.series(i), Entry{exposed(*s), 0}).first;
      } else if (batch.ts_ns(i) < it->second.sample.ts_ns) {
        continue;  // an older sample than the one shown
      }
      it->second.sample.ts_ns = batch.ts_ns(i);
      it->second.sample.value = batch.value(i);
      it->second.updated_ns = now;
      oldest_update_ns_ = std::min(oldest_update_ns_, now);
      page_valid_ = false;
    }
    series_gauge_.update(static_cast<double>(latest_.size()));
    return Status::ok;
  }

  void stats(const StatsVisitor &visit) override { visit("series", static_cast<double>(latest_.size()), {}); }

 private:
  struct Entry {
    ExposedSample sample;
    int64_t updated_ns;  // steady clock: when the value last changed
  };

  static int64_t steady_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  // Sanitised once per series, when it is first seen.
  static ExposedSample exposed(const vitals_series_t &s) {
    ExposedSample e;
    e.name = metric_name(s.name ? s.name : "");
    e.help = s.name ? s.name : "";
    std::vector<std::string> seen;
    for (uint32_t i = 0; i < s.n_labels; ++i) {
      std::string key = label_name(s.labels[i].key ? s.labels[i].key : "");
      if (std::find(seen.begin(), seen.end(), key) != seen.end()) continue;  // merged by sanitising
      seen.push_back(key);
      std::string value = s.labels[i].value ? s.labels[i].value : "";
      std::string pair = key + "=\"";
      append_label_value(pair, value);
      pair += '"';
      e.labels += (e.labels.empty() ? "" : ",") + pair;
      if (key == "le")
        e.le = value;
      else
        e.labels_without_le += (e.labels_without_le.empty() ? "" : ",") + pair;
    }
    if (e.le.empty()) e.labels_without_le = std::string();  // group_labels() gives `labels`
    return e;
  }

  void scrape(const HttpResponse &response) {
    sweep();
    if (!page_valid_) {
      std::vector<const ExposedSample *> samples;
      samples.reserve(latest_.size());
      for (const auto &[id, entry] : latest_) samples.push_back(&entry.sample);
      page_ = encode_page(std::move(samples), timestamps_);
      page_valid_ = true;
    }
    scrapes_.update(1);
    response.respond(200, content_type, page_);
  }

  // Drops series not updated for stale_after; cheap when none can be stale.
  void sweep() {
    if (stale_after_ns_ == 0 || latest_.empty()) return;
    int64_t now = steady_ns();
    if (now - oldest_update_ns_ < stale_after_ns_) return;
    size_t before = latest_.size();
    oldest_update_ns_ = std::numeric_limits<int64_t>::max();
    for (auto it = latest_.begin(); it != latest_.end();) {
      if (now - it->second.updated_ns >= stale_after_ns_) {
        it = latest_.erase(it);
      } else {
        oldest_update_ns_ = std::min(oldest_update_ns_, it->second.updated_ns);
        ++it;
      }
    }
    if (latest_.size() != before) {
      expired_.update(static_cast<double>(before - latest_.size()));
      series_gauge_.update(static_cast<double>(latest_.size()));
      page_valid_ = false;
    }
  }

  std::string path_;
  int64_t stale_after_ns_;
  int64_t max_series_;
  bool timestamps_;
  std::unordered_map<SeriesId, Entry> latest_;
  int64_t oldest_update_ns_ = std::numeric_limits<int64_t>::max();
  std::string page_;
  bool page_valid_ = false;
  Metric series_gauge_, ignored_, expired_, scrapes_;
};

}  // namespace vitals::prometheus

VITALS_PLUGIN(vitals::prometheus::Prometheus, "prometheus", "1.0.0",
              "Serves the latest value of every series on /metrics in the Prometheus text format")
