// Component lifecycle pieces that do not involve routing.
#include "component.hpp"

#include <atomic>
#include <span>

#include "isolate/isolated_plugin.hpp"
#include "series_registry.hpp"

namespace vitals::core {

namespace {
uint64_t next_instance_serial() {
  static std::atomic<uint64_t> instances{0};
  return ++instances;
}
}  // namespace

Component::Component(Pipeline &pipeline, const ComponentConfig &config, std::shared_ptr<LoadedPlugin> plugin,
                     MetricsRegistry &metrics)
    : queue_(config.queue),
      serial_(next_instance_serial()),
      config_(config),
      metrics_(metrics),
      plugin_(std::move(plugin)),
      identity_{config_.id.c_str(), config_.plugin.c_str(), plugin_->path.c_str()},
      ctx_{&pipeline, this} {
  metrics_owner_ = config_.id + "#" + std::to_string(serial_);
  if (!config_.match.empty()) {
    Selector sel;
    std::string err;
    if (Selector::parse(config_.match, sel, err)) match_ = std::move(sel);
  }
  MetricLabels labels = {{"component", config_.id}, {"kind", kind_name(config_.kind)}, {"plugin", config_.plugin}};
  auto counter = [&](const char *name, const char *help) {
    return metrics.get(metrics_owner_, VITALS_METRIC_COUNTER, name, help, labels);
  };
  m_.samples_in = counter("vitals_component_samples_in_total", "Samples received by the component");
  m_.samples_out = counter("vitals_component_samples_out_total", "Samples emitted by the component");
  m_.batches_in = counter("vitals_component_batches_in_total", "Batches received by the component");
  m_.batches_out = counter("vitals_component_batches_out_total", "Batches emitted by the component");
  m_.errors = counter("vitals_component_errors_total", "Failed collect or consume calls");
  m_.dropped = counter("vitals_component_dropped_samples_total", "Samples dropped by a full queue");
  m_.skipped_ticks = counter("vitals_component_skipped_ticks_total",
                             "Collections skipped because the previous one was still running or blocked");
  m_.queue_depth = metrics.get(metrics_owner_, VITALS_METRIC_GAUGE, "vitals_component_queue_depth_samples",
                               "Samples waiting in the component's inbound queue", labels);
  m_.latency_seconds = metrics.get(metrics_owner_, VITALS_METRIC_HISTOGRAM, "vitals_component_latency_seconds",
                                   "Time spent in one collect or consume call", labels);
}

Component::~Component() {
  plugin_timers_.clear();
  tick_timer_.reset();
  if (worker_.joinable()) {
    queue_.close();
    worker_.join();
  }
  if (instance_) call_plugin(identity_, "destroy", plugin().destroy, instance_);
  // Metric handles are valid for the instance's whole life, destroy included.
  metrics_.remove_owner(metrics_owner_);
}

bool Component::create(const vitals_host_t &host_template, std::string &error) {
  host_table_ = host_template;
  host_table_.ctx = reinterpret_cast<vitals_host_ctx_t *>(&ctx_);
  if (plugin_->isolated) {
    instance_ =
        create_isolated_instance(*plugin_->isolated, &host_table_, config_.plugin_json, config_.watchdog_ns, error);
    return instance_ != nullptr;
  }
  char err[1024] = "";
  instance_ =
      call_plugin(identity_, "create", plugin().create, &host_table_, config_.plugin_json.c_str(), err, sizeof err);
  if (!instance_) {
    error = err[0] ? err : "create() failed without a message";
    return false;
  }
  return true;
}

std::string Component::last_error() const {
  if (instance_ && plugin().last_error) {
    const char *e = call_plugin(identity_, "last_error", plugin().last_error, instance_);
    if (e && *e) return e;
  }
  return "failed without a message";
}

bool Component::matches(vitals_series_id_t id, const SeriesRegistry &series) {
  auto [it, inserted] = match_cache_.try_emplace(id, false);
  if (inserted) {
    if (match_cache_.size() > 1'000'000) {  // bound memory under series churn
      match_cache_.clear();
      it = match_cache_.try_emplace(id, false).first;
    }
    if (const vitals_series_t *s = series.find(id)) {
      std::span<const vitals_label_t> labels(s->labels, s->n_labels);
      it->second = match_->matches(s->name, labels);
    }
  }
  return it->second;
}

namespace {
// The samples of `batch` whose match is `matching` (all of them when there
// is no selector), with its events or without.
template <typename Matches>
std::shared_ptr<Batch> part_of(const Batch &batch, size_t n, Matches &&matches, bool matching, bool with_events) {
  auto out = std::make_shared<Batch>();
  out->series.reserve(n);
  out->ts_ns.reserve(n);
  out->values.reserve(n);
  for (size_t i = 0; i < batch.series.size(); ++i) {
    if (matches(batch.series[i]) != matching) continue;
    out->series.push_back(batch.series[i]);
    out->ts_ns.push_back(batch.ts_ns[i]);
    out->values.push_back(batch.values[i]);
  }
  if (with_events) out->events = batch.events;
  return out;
}
}  // namespace

BatchPtr Component::filter(const BatchPtr &batch, const SeriesRegistry &series) {
  if (!match_ || kind() == VITALS_KIND_PROCESSOR) return batch;
  size_t kept = 0;
  for (auto id : batch->series) kept += matches(id, series);
  if (kept == batch->series.size()) return batch;
  if (kept == 0 && batch->events.empty()) return nullptr;
  // Events are not series: `match` does not filter them.
  return part_of(
      *batch, kept, [&](vitals_series_id_t id) { return matches(id, series); }, true, true);
}

Component::Split Component::split(const BatchPtr &batch, const SeriesRegistry &series) {
  const size_t n = batch->series.size();
  const bool events_pass = !batch->events.empty() && !owns_events();
  // The hot path: no selector, no events to set aside.
  if (!match_ && !events_pass) return {batch, true, nullptr};
  size_t kept = n;
  if (match_) {
    kept = 0;
    for (auto id : batch->series) kept += matches(id, series);
  }
  auto match_fn = [&](vitals_series_id_t id) { return !match_ || matches(id, series); };
  const bool has_events = !batch->events.empty();
  if (kept == n) {  // every sample is the processor's
    if (!events_pass) return {batch, true, nullptr};
    if (n == 0) return {nullptr, true, batch};  // events only: the processor is not called
    return {batch, false, part_of(*batch, 0, match_fn, false, true)};
  }
  if (kept == 0 && !(has_events && owns_events())) return {nullptr, true, batch};
  // Part for each: the events go with the processor that owns them, else on.
  return {part_of(*batch, kept, match_fn, true, !events_pass), true,
          part_of(*batch, n - kept, match_fn, false, events_pass)};
}

}  // namespace vitals::core
