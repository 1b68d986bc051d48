// Pipeline lifecycle: start, reload and shutdown. Routing and acknowledgement
// live in routing.cpp, scheduling in scheduling.cpp.
#include "pipeline.hpp"

#include <algorithm>
#include <set>

#include "host/host_table.hpp"
#include "host/http_host.hpp"
#include "isolate/isolated_plugin.hpp"
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
  for (auto &[id, c] : components_) c->tick_timer_.reset();
  components_.clear();
  retiring_.clear();
  uv_close(reinterpret_cast<uv_handle_t *>(drain_idle_),
           [](uv_handle_t *h) { delete reinterpret_cast<uv_idle_t *>(h); });
  uv_close(reinterpret_cast<uv_handle_t *>(inbox_async_),
           [](uv_handle_t *h) { delete reinterpret_cast<uv_async_t *>(h); });
}

Component *Pipeline::find_component(const std::string &id) const {
  auto it = components_.find(id);
  return it == components_.end() ? nullptr : it->second.get();
}

const Component *Pipeline::find(const std::string &id) const { return find_component(id); }

std::vector<const Component *> Pipeline::components() const {
  std::vector<const Component *> out;
  for (const auto &id : order_)
    if (const auto *c = find(id)) out.push_back(c);
  return out;
}

std::shared_ptr<Component> Pipeline::make_component(const ComponentConfig &cfg, const CheckedConfig &checked,
                                                    Diagnostics &diags) {
  auto plugin_it = checked.plugins.find(cfg.plugin);
  if (plugin_it == checked.plugins.end()) {
    diags.error(cfg.file, cfg.line, "plugin '" + cfg.plugin + "' is not loaded");
    return nullptr;
  }
  // An isolated component drives a stand-in whose calls reach a child process.
  auto plugin = cfg.isolate ? make_isolated_plugin(plugin_it->second) : plugin_it->second;
  auto c = std::make_shared<Component>(*this, cfg, std::move(plugin), metrics_);
  c->interval_ns_ = cfg.interval_ns ? cfg.interval_ns : checked.config.agent.interval.count();
  std::string error;
  if (!c->create(host_template_, error)) {
    diags.error(cfg.file, cfg.line, "[" + std::string(kind_name(cfg.kind)) + "." + cfg.id + "]: " + error);
    return nullptr;
  }
  return c;
}

void Pipeline::wire(const Graph &graph) {
  for (auto &[id, c] : components_) c->downstream_.clear();
  for (const auto &[producer, consumers] : graph.downstream) {
    Component *from = find_component(producer);
    if (!from) continue;
    for (const auto &consumer : consumers)
      if (Component *to = find_component(consumer)) from->downstream_.push_back(to);
  }
  order_ = graph.topological_order;
}

bool Pipeline::start_component(Component &c, bool schedule) {
  bool ok = true;
  if (c.plugin().start && call_plugin(c.identity(), "start", c.plugin().start, c.instance()) != VITALS_OK) {
    note_error(c, "start failed: " + c.last_error());
    ok = false;
  }
  // A consumer that failed to start still takes batches, to fail them with
  // its reason; a producer that failed is not collected (nor stopped).
  if (!ok && !c.is_consumer()) return false;
  c.started_ = true;
  if (c.is_consumer() && c.consumes_on_thread()) c.worker_ = std::thread([this, comp = &c] { worker_main(comp); });
  if (schedule) schedule_component(c);
  log_debug(c.id(), std::string("started ") + kind_name(c.kind()) + " (plugin " + c.config().plugin + ")");
  return ok;
}

void Pipeline::schedule_component(Component &c) {
  if (c.is_scheduled()) {
    c.tick_timer_ = std::make_unique<UvTimer>(loop_, [this, comp = &c] { on_tick(*comp); });
    int64_t now = wall_clock_ns();
    c.next_tick_ns_ = next_aligned_tick(now, c.interval_ns_);
    schedule_next(c);
    // Collect once right away: waiting for the first aligned tick would leave
    // a 5-minute input silent for up to 5 minutes after start or reload.
    if (c.kind() == VITALS_KIND_INPUT) dispatch_collect(c, now);
  }
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
  // Consumers first, so nothing an input emits at start finds its sink
  // unstarted. At start-up a component that cannot start (a storage whose
  // file is locked by another agent) stops the agent with its reason; after
  // a reload it stays, failing what reaches it, and its error is logged.
  // Nothing is collected before every component started: a failure must
  // not leave a collect running on the pool for an instance freed below.
  for (auto it = order_.rbegin(); it != order_.rend(); ++it) {
    Component &c = *find_component(*it);
    if (start_component(c, /*schedule=*/false)) continue;
    diags.error(c.config().file, c.config().line,
                "[" + std::string(kind_name(c.kind())) + "." + c.id() + "]: start failed: " + c.last_error());
    for (auto &[id, other] : components_) {
      other->tick_timer_.reset();
      if (other->worker_.joinable()) {
        other->queue_.close();
        other->worker_.join();
      }
      if (other->started_ && other->plugin().stop)
        call_plugin(other->identity(), "stop", other->plugin().stop, other->instance());
      other->started_ = false;
      remove_component_routes(http_, *other);
    }
    components_.clear();
    order_.clear();
    uv_unref(reinterpret_cast<uv_handle_t *>(inbox_async_));
    return false;
  }
  if (schedule)
    for (auto it = order_.rbegin(); it != order_.rend(); ++it) schedule_component(*find_component(*it));
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

  // Retire in the old topological order (producers first), so a processor
  // hands what it holds to consumers that are still there.
  std::vector<std::shared_ptr<Component>> old_ones;
  for (const auto &id : order_) {
    auto it = components_.find(id);
    if (it == components_.end()) continue;
    if (keep.count(id)) {
      report.kept.push_back(id);
    } else {
      report.stopped.push_back(id);
      old_ones.push_back(it->second);
    }
  }
  for (auto &c : old_ones) components_.erase(c->id());
  for (auto &c : old_ones) retire(c);
  for (auto &c : fresh) {
    report.started.push_back(c->id());
    components_[c->id()] = c;
    awaiting_start_.push_back(c.get());
  }
  wire(checked.graph);
  // Successors start once their predecessors are destroyed (now, for most):
  // hold no reference here that would keep one alive.
  old_ones.clear();
  sweep_retiring();
  return true;
}

// Takes a component out of service: no new data reaches it; it delivers what
// it holds, is flushed and stopped, and is destroyed when nothing of it is
// left in flight (sweep_retiring).
void Pipeline::retire(const std::shared_ptr<Component> &c) {
  for (auto &[id, other] : components_) {
    auto &ds = other->downstream_;
    ds.erase(std::remove(ds.begin(), ds.end(), c.get()), ds.end());
  }
  awaiting_start_.erase(std::remove(awaiting_start_.begin(), awaiting_start_.end(), c.get()), awaiting_start_.end());
  c->retiring_ = true;
  c->tick_timer_.reset();
  c->plugin_timers_.clear();
  remove_component_routes(http_, *c);  // its successor may register the same paths
  retiring_.push_back(c);
}

bool Pipeline::feeds_retiring_consumer(const Component &upstream) const {
  for (const Component *d : upstream.downstream_)
    if (d->retiring_) return true;
  return false;
}

bool Pipeline::can_quiesce(const Component &c) const {
  if (c.collect_in_flight_ || c.offloop_pending_.load() > 0 || !c.parked_.empty()) return false;
  if (!c.is_consumer()) return true;
  // A successor replaced before it ever started fails what reached it.
  if (c.started_ && !abandoning_ && c.queue_.depth_batches() > 0) return false;
  // Upstream first: a consumer stops only when no retiring producer can
  // still hand it a batch.
  for (const auto &r : retiring_) {
    if (r.get() == &c) continue;
    bool feeds = std::find(r->downstream_.begin(), r->downstream_.end(), &c) != r->downstream_.end();
    if (feeds && (!r->quiesced_ || !r->parked_.empty() || r->offloop_pending_.load() > 0)) return false;
  }
  return true;
}

void Pipeline::quiesce(Component &c) {
  c.quiesced_ = true;
  if (c.is_consumer() && !c.started_) {
    c.queue_.close();
    for (auto &item : c.queue_.take_all())
      resolve_delivery(item.delivery_id, VITALS_ERROR, "component replaced before it started");
    ready_.erase(&c);
  } else if (c.is_consumer()) {
    if (c.worker_.joinable()) {
      c.queue_.close();  // the worker drains what is left, then returns
      c.worker_.join();
    } else {
      // Mid-consume context: what the plugin emits now parks instead of failing.
      while (auto item = c.queue_.try_pop()) consume_on_loop(c, std::move(*item));
    }
    ready_.erase(&c);
    c.queue_.close();
    Component *prev = consuming_;
    AckNode *prev_node = consuming_node_;
    consuming_ = &c;
    consuming_node_ = nullptr;
    if (c.plugin().flush && call_plugin(c.identity(), "flush", c.plugin().flush, c.instance()) != VITALS_OK)
      note_error(c, "flush failed: " + c.last_error());
    consuming_ = prev;
    consuming_node_ = prev_node;
    if (c.started_ && c.plugin().stop) call_plugin(c.identity(), "stop", c.plugin().stop, c.instance());
    c.started_ = false;
    process_inbox();  // completions the last consumes and the flush posted
  } else {
    stop_producer(c);
  }
  remove_component_routes(http_, c);
  c.websockets_.close_all(1001, "component stopped");  // what stop() left open
  log_debug(c.id(), "stopped");
}

bool Pipeline::can_destroy(const Component &c) const {
  // Its callbacks run its code, and its parked batches still name it.
  return c.quiesced_ && c.parked_.empty() && c.pending_ack_callbacks_ == 0 && c.offloop_pending_.load() == 0;
}

void Pipeline::destroy(const std::shared_ptr<Component> &c) {
  // Deliveries the plugin never completed fail now: their senders must know.
  std::vector<uint64_t> orphaned;
  for (const auto &[id, d] : deliveries_)
    if (d.target == c.get()) orphaned.push_back(id);
  for (uint64_t id : orphaned) resolve_delivery(id, VITALS_ERROR, "component stopped before completing");
  auto forget = [&](std::vector<Component *> &ds) { ds.erase(std::remove(ds.begin(), ds.end(), c.get()), ds.end()); };
  for (auto &[id, other] : components_) forget(other->downstream_);
  for (auto &r : retiring_) forget(r->downstream_);
  parked_.erase(c.get());
  ready_.erase(c.get());
  retiring_.erase(std::remove(retiring_.begin(), retiring_.end(), c), retiring_.end());
}

void Pipeline::sweep_retiring() {
  // quiesce() runs plugin code that may route and come back here.
  if (sweeping_) {
    sweep_again_ = true;
    return;
  }
  sweeping_ = true;
  for (bool progress = true; progress;) {
    progress = false;
    sweep_again_ = false;
    for (auto &c : std::vector<std::shared_ptr<Component>>(retiring_)) {
      if (!c->quiesced_ && can_quiesce(*c)) {
        quiesce(*c);
        progress = true;
      }
      if (can_destroy(*c)) {
        destroy(c);
        progress = true;
      }
    }
    progress = progress || sweep_again_;
  }
  sweeping_ = false;
  start_successors();
}

void Pipeline::start_successors() {
  if (awaiting_start_.empty()) return;
  std::vector<Component *> waiting;
  waiting.swap(awaiting_start_);
  for (Component *c : waiting) {
    // The predecessor must have stopped: stop() releases what two instances
    // cannot share (routes, ports, a database file and its lock). It may
    // live on a little (acks to deliver, a query still running on the pool).
    bool predecessor_holds = std::any_of(retiring_.begin(), retiring_.end(),
                                         [&](const auto &r) { return r->id() == c->id() && !r->quiesced_; });
    if (predecessor_holds) {
      awaiting_start_.push_back(c);
      continue;
    }
    start_component(*c);
    // What reached it while it waited.
    if (c->is_consumer() && !c->consumes_on_thread() && c->queue_.depth_batches() > 0) {
      ready_.insert(c);
      uv_idle_start(drain_idle_, [](uv_idle_t *h) { static_cast<Pipeline *>(h->data)->drain_ready(); });
    }
  }
}

void Pipeline::stop_producer(Component &c) {
  if (!c.started_) return;
  c.started_ = false;
  if (c.plugin().stop && call_plugin(c.identity(), "stop", c.plugin().stop, c.instance()) != VITALS_OK)
    note_error(c, "stop failed: " + c.last_error());
}

bool Pipeline::drained() const {
  auto busy = [](const Component &c) {
    return c.collect_in_flight_ || !c.parked_.empty() || c.queue_.depth_batches() > 0 || c.offloop_pending_.load() > 0;
  };
  for (const auto &[id, c] : components_)
    if (busy(*c)) return false;
  for (const auto &c : retiring_)
    if (busy(*c)) return false;
  std::lock_guard lock(const_cast<std::mutex &>(inbox_mutex_));
  return deliveries_.empty() && inbox_.empty();
}

void Pipeline::shutdown(int64_t timeout_ns, std::function<void(bool)> done) {
  if (stopping_) return;
  stopping_ = true;
  shutdown_done_ = std::move(done);
  shutdown_deadline_ns_ = monotonic_ns() + timeout_ns;
  for (auto &[id, c] : components_) {
    c->tick_timer_.reset();
    c->plugin_timers_.clear();
  }
  // Inputs stop first so nothing new enters while the rest drains; one whose
  // collect is still running stops when it returns (after_collect).
  inputs_stopped_ = true;
  for (auto &[id, c] : components_)
    if (c->kind() == VITALS_KIND_INPUT && !c->collect_in_flight_) stop_producer(*c);
  shutdown_timer_ = std::make_unique<UvTimer>(loop_, [this] {
    bool done_draining = drained();
    if (done_draining || monotonic_ns() >= shutdown_deadline_ns_) finish_shutdown(done_draining);
  });
  shutdown_timer_->start(0, 5);
}

void Pipeline::finish_shutdown(bool drained_in_time) {
  shutdown_timer_.reset();
  drained_in_time_ = drained_in_time;
  if (!drained_in_time) {
    size_t queued = 0;
    for (auto &[id, c] : components_) queued += c->queue_.depth_samples();
    log_error("agent", "shutdown timeout: " + std::to_string(queued) + " queued samples and " +
                           std::to_string(deliveries_.size()) + " unacknowledged batches abandoned");
  }
  // Everything retires at once, links between components intact: producers
  // are quiesced first (a processor's flush may still emit), consumers after.
  std::vector<std::shared_ptr<Component>> all;
  for (const auto &id : order_)
    if (auto it = components_.find(id); it != components_.end()) all.push_back(it->second);
  for (auto &[id, c] : components_)
    if (std::find(all.begin(), all.end(), c) == all.end()) all.push_back(c);
  components_.clear();
  awaiting_start_.clear();
  for (auto &c : all) retire(c);
  if (!drained_in_time) {
    abandoning_ = true;
    for (auto &c : retiring_) {
      for (auto &item : c->queue_.take_all()) resolve_delivery(item.delivery_id, VITALS_ERROR, "agent stopped");
      for (auto &p : c->parked_)
        if (p.node) acks_.resolve(p.node, VITALS_ERROR, "agent stopped before delivering");
      c->parked_.clear();
      parked_.erase(c.get());
      c->queue_.set_paused(false);
    }
  }
  sweep_retiring();
  if (retiring_.empty()) {
    complete_shutdown();
    return;
  }
  // A collect still running on the pool, or output still on its way: the
  // instances live until it returns.
  for (auto &c : retiring_)
    if (c->collect_in_flight_) log_info(c->id(), "waiting for a collect still running before stopping");
  shutdown_timer_ = std::make_unique<UvTimer>(loop_, [this] {
    sweep_retiring();
    if (retiring_.empty()) complete_shutdown();
  });
  shutdown_timer_->start(5, 5);
}

void Pipeline::complete_shutdown() {
  shutdown_timer_.reset();
  retiring_.clear();
  uv_unref(reinterpret_cast<uv_handle_t *>(inbox_async_));
  uv_idle_stop(drain_idle_);
  started_ = false;
  if (shutdown_done_) shutdown_done_(drained_in_time_);
}

}  // namespace vitals::core
