// Pipeline lifecycle: start, reload and shutdown. Routing and acknowledgement
// live in routing.cpp, scheduling in scheduling.cpp.
#include "pipeline.hpp"

#include <algorithm>
#include <set>

#include "host_table.hpp"
#include "http_host.hpp"
#include "log.hpp"
#include "scheduler.hpp"

namespace vitals::core {

Pipeline::Pipeline(uv_loop_t *loop, SeriesRegistry &series, MetricsRegistry &metrics, std::string data_dir)
    : loop_(loop),
      loop_thread_(std::this_thread::get_id()),
      series_(series),
      metrics_(metrics),
      data_dir_(std::move(data_dir)),
      host_template_(make_host_template()) {
  drain_idle_ = new uv_idle_t;
  uv_idle_init(loop_, drain_idle_);
  drain_idle_->data = this;
  inbox_async_ = new uv_async_t;
  uv_async_init(loop_, inbox_async_, [](uv_async_t *a) { static_cast<Pipeline *>(a->data)->process_inbox(); });
  inbox_async_->data = this;
  // The inbox only matters while components run; it must not keep the loop alive.
  uv_unref(reinterpret_cast<uv_handle_t *>(inbox_async_));
}

Pipeline::~Pipeline() {
  for (auto &[id, c] : components_) c->tick_timer.reset();
  components_.clear();
  retiring_.clear();
  uv_close(reinterpret_cast<uv_handle_t *>(drain_idle_),
           [](uv_handle_t *h) { delete reinterpret_cast<uv_idle_t *>(h); });
  uv_close(reinterpret_cast<uv_handle_t *>(inbox_async_),
           [](uv_handle_t *h) { delete reinterpret_cast<uv_async_t *>(h); });
}

Component *Pipeline::find(const std::string &id) const {
  auto it = components_.find(id);
  return it == components_.end() ? nullptr : it->second.get();
}

std::vector<Component *> Pipeline::components() const {
  std::vector<Component *> out;
  for (const auto &id : order_)
    if (auto *c = find(id)) out.push_back(c);
  return out;
}

std::shared_ptr<Component> Pipeline::make_component(const ComponentConfig &cfg, const CheckedConfig &checked,
                                                    Diagnostics &diags) {
  auto plugin_it = checked.plugins.find(cfg.plugin);
  if (plugin_it == checked.plugins.end()) {
    diags.error(cfg.file, cfg.line, "plugin '" + cfg.plugin + "' is not loaded");
    return nullptr;
  }
  auto c = std::make_shared<Component>(*this, cfg, plugin_it->second, metrics_);
  c->interval_ns = cfg.interval_ns ? cfg.interval_ns : checked.config.agent.interval_ns;
  std::string error;
  if (!c->create(host_template_, error)) {
    diags.error(cfg.file, cfg.line, "[" + std::string(kind_name(cfg.kind)) + "." + cfg.id + "]: " + error);
    return nullptr;
  }
  return c;
}

void Pipeline::wire(const Graph &graph) {
  for (auto &[id, c] : components_) c->downstream.clear();
  for (const auto &[producer, consumers] : graph.downstream) {
    Component *from = find(producer);
    if (!from) continue;
    for (const auto &consumer : consumers)
      if (Component *to = find(consumer)) from->downstream.push_back(to);
  }
  order_ = graph.topological_order;
}

void Pipeline::start_component(Component &c, bool schedule) {
  if (c.plugin().start && c.plugin().start(c.instance()) != VITALS_OK) {
    note_error(c, "start failed: " + c.last_error());
  }
  c.started = true;
  if (c.is_consumer() && c.consumes_on_thread()) c.worker = std::thread([this, comp = &c] { worker_main(comp); });
  if (schedule && c.is_scheduled()) {
    c.tick_timer = std::make_unique<UvTimer>(loop_, [this, comp = &c] { on_tick(*comp); });
    int64_t now = wall_clock_ns();
    c.next_tick_ns = next_aligned_tick(now, c.interval_ns);
    schedule_next(c);
    // Collect once right away: waiting for the first aligned tick would leave
    // a 5-minute input silent for up to 5 minutes after start or reload.
    if (c.kind() == VITALS_KIND_INPUT) dispatch_collect(c, now);
  }
  log_debug(c.id(), std::string("started ") + kind_name(c.kind()) + " (plugin " + c.config().plugin + ")");
}

bool Pipeline::start(const CheckedConfig &checked, Diagnostics &diags, bool schedule) {
  uv_ref(reinterpret_cast<uv_handle_t *>(inbox_async_));
  std::vector<std::shared_ptr<Component>> created;
  for (const auto &id : checked.graph.topological_order) {
    const ComponentConfig *cfg = checked.config.find(id);
    if (!cfg) continue;
    if (auto c = make_component(*cfg, checked, diags)) created.push_back(std::move(c));
  }
  if (diags.has_errors()) {
    for (auto &c : created) remove_component_routes(http_, *c);
    return false;
  }
  for (auto &c : created) components_[c->id()] = c;
  wire(checked.graph);
  // Consumers first, so nothing an input emits at start finds its sink unstarted.
  for (auto it = order_.rbegin(); it != order_.rend(); ++it) start_component(*find(*it), schedule);
  started_ = true;
  log_info("agent", "pipeline started: " + std::to_string(components_.size()) + " components");
  return true;
}

bool Pipeline::reload(const CheckedConfig &checked, Diagnostics &diags, ReloadReport &report) {
  std::vector<std::shared_ptr<Component>> fresh;
  std::set<std::string> keep;
  for (const auto &id : checked.graph.topological_order) {
    const ComponentConfig *cfg = checked.config.find(id);
    if (!cfg) continue;
    auto old = components_.find(id);
    auto plugin_it = checked.plugins.find(cfg->plugin);
    bool same = old != components_.end() && old->second->config().fingerprint == cfg->fingerprint &&
                plugin_it != checked.plugins.end() && old->second->loaded_plugin().path == plugin_it->second->path;
    if (same) {
      keep.insert(id);
      continue;
    }
    // A changed component gets a new instance; its metrics owner is shared
    // with the old one until the old one retires, so create under a new map.
    if (auto c = make_component(*cfg, checked, diags)) fresh.push_back(std::move(c));
  }
  if (diags.has_errors()) {  // the new instances are destroyed here; nothing changed
    for (auto &c : fresh) remove_component_routes(http_, *c);
    return false;
  }

  std::vector<std::shared_ptr<Component>> old_ones;
  for (auto it = components_.begin(); it != components_.end();) {
    if (keep.count(it->first)) {
      report.kept.push_back(it->first);
      ++it;
    } else {
      report.stopped.push_back(it->first);
      old_ones.push_back(it->second);
      it = components_.erase(it);
    }
  }
  for (auto &c : old_ones) retire(c);
  for (auto &c : fresh) {
    report.started.push_back(c->id());
    components_[c->id()] = c;
  }
  wire(checked.graph);
  for (auto &c : fresh) start_component(*c);
  return true;
}

// Takes a component out of service: no new data reaches it; it finishes what
// it holds, flushes, stops and is destroyed (now, or when its collect ends).
void Pipeline::retire(const std::shared_ptr<Component> &c) {
  for (auto &[id, other] : components_) {
    auto &ds = other->downstream;
    ds.erase(std::remove(ds.begin(), ds.end(), c.get()), ds.end());
  }
  c->retiring = true;
  c->tick_timer.reset();
  c->plugin_timers.clear();
  remove_component_routes(http_, *c);  // its successor may register the same paths
  // Let it deliver what it already holds; stop() waits for a running collect.
  retiring_.push_back(c);
  // A producer waits for its batches' acks: their callbacks run its code.
  if (!c->collect_in_flight && c->parked.empty() && (c->is_consumer() || c->pending_ack_callbacks == 0)) finalize(c);
}

void Pipeline::finalize(const std::shared_ptr<Component> &c) {
  if (c->is_consumer()) {
    if (c->worker.joinable()) {
      c->queue.close();
      c->worker.join();
    } else {
      while (auto item = c->queue.try_pop()) consume_on_loop(*c, std::move(*item));
      ready_.erase(c.get());
    }
    if (c->plugin().flush && c->plugin().flush(c->instance()) != VITALS_OK)
      note_error(*c, "flush failed: " + c->last_error());
    if (c->started && c->plugin().stop) c->plugin().stop(c->instance());
    process_inbox();  // completions the last consumes and the flush posted
  } else {
    stop_producer(*c);
  }
  remove_component_routes(http_, *c);
  c->websockets.close_all(1001, "component stopped");  // what stop() left open
  // Deliveries the plugin never completed fail now: their senders must know.
  std::vector<uint64_t> orphaned;
  for (const auto &[id, d] : deliveries_)
    if (d.target == c.get()) orphaned.push_back(id);
  for (uint64_t id : orphaned) resolve_delivery(id, VITALS_ERROR, "component stopped before completing");
  for (auto &p : c->parked)
    if (p.node) acks_.resolve(p.node, VITALS_ERROR, "component stopped before delivering");
  c->parked.clear();
  parked_.erase(c.get());
  ready_.erase(c.get());
  log_debug(c->id(), "stopped");
  retiring_.erase(std::remove(retiring_.begin(), retiring_.end(), c), retiring_.end());
}

void Pipeline::stop_producer(Component &c) {
  if (!c.started) return;
  c.started = false;
  if (c.plugin().stop && c.plugin().stop(c.instance()) != VITALS_OK) note_error(c, "stop failed: " + c.last_error());
}

bool Pipeline::drained() const {
  for (const auto &[id, c] : components_) {
    if (c->collect_in_flight || !c->parked.empty() || c->queue.depth_batches() > 0) return false;
  }
  std::lock_guard lock(const_cast<std::mutex &>(inbox_mutex_));
  return deliveries_.empty() && inbox_.empty();
}

void Pipeline::shutdown(int64_t timeout_ns, std::function<void(bool)> done) {
  if (stopping_) return;
  stopping_ = true;
  shutdown_done_ = std::move(done);
  shutdown_deadline_ns_ = monotonic_ns() + timeout_ns;
  for (auto &[id, c] : components_) {
    c->tick_timer.reset();
    c->plugin_timers.clear();
  }
  // Inputs stop first so nothing new enters while the rest drains; one whose
  // collect is still running stops when it returns (after_collect).
  inputs_stopped_ = true;
  for (auto &[id, c] : components_)
    if (c->kind() == VITALS_KIND_INPUT && !c->collect_in_flight) stop_producer(*c);
  shutdown_timer_ = std::make_unique<UvTimer>(loop_, [this] {
    bool done_draining = drained();
    if (done_draining || monotonic_ns() >= shutdown_deadline_ns_) finish_shutdown(done_draining);
  });
  shutdown_timer_->start(0, 5);
}

void Pipeline::finish_shutdown(bool drained_in_time) {
  shutdown_timer_.reset();
  if (!drained_in_time) {
    size_t queued = 0;
    for (auto &[id, c] : components_) queued += c->queue.depth_samples();
    log_error("agent", "shutdown timeout: " + std::to_string(queued) + " queued samples and " +
                           std::to_string(deliveries_.size()) + " unacknowledged batches abandoned");
  }
  // Producers first: a processor's flush may emit, and its consumers come later.
  for (const auto &id : order_) {
    auto it = components_.find(id);
    if (it == components_.end()) continue;
    auto c = it->second;
    if (c->kind() == VITALS_KIND_PROCESSOR || c->kind() == VITALS_KIND_OPTIMIZER) {
      if (c->plugin().flush) c->plugin().flush(c->instance());
      drain_ready();
    }
    if (c->is_consumer() && !drained_in_time) {
      for (auto &item : c->queue.take_all()) resolve_delivery(item.delivery_id, VITALS_ERROR, "agent stopped");
    }
    finalize(c);
  }
  components_.clear();
  retiring_.clear();
  uv_unref(reinterpret_cast<uv_handle_t *>(inbox_async_));
  uv_idle_stop(drain_idle_);
  started_ = false;
  if (shutdown_done_) shutdown_done_(drained_in_time);
}

}  // namespace vitals::core
