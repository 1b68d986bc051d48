// One running instance of a plugin ([kind.id] in conf.d): its plugin handle,
// the host table it was given, its inbound queue and worker thread (for
// consumers), its schedule (for inputs and optimizers) and its self-metrics.
// The Pipeline drives it; this class holds state and does no routing.
#pragma once

#include <uv.h>

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ack_tracker.hpp"
#include "config/config.hpp"
#include "edge_queue.hpp"
#include "host/plugin_call.hpp"
#include "host/plugin_loader.hpp"
#include "host/ws_host.hpp"
#include "self_metrics.hpp"
#include "uv_timer.hpp"
#include "vitals/plugin.h"
#include "vitals/selector.hpp"

namespace vitals::core {

class Pipeline;
class Component;

// What vitals_host_ctx_t points at: the way back from a C call to its owner.
struct HostContext {
  Pipeline *pipeline;
  Component *component;
};

// A batch waiting for room downstream (overflow "block").
struct ParkedBatch {
  BatchPtr batch;
  AckNode *node;  // may be null when nobody waits on it
};

class Component {
 public:
  Component(Pipeline &pipeline, const ComponentConfig &config, std::shared_ptr<LoadedPlugin> plugin,
            MetricsRegistry &metrics);
  ~Component();
  Component(const Component &) = delete;
  Component &operator=(const Component &) = delete;

  // The plugin's last_error() or a generic text.
  std::string last_error() const;

  const std::string &id() const { return config_.id; }
  // Owns this instance's self-metrics: unique per instance, so that a
  // component restarted by a reload never shares (or frees) its
  // predecessor's metrics while both exist.
  const std::string &metrics_owner() const { return metrics_owner_; }
  vitals_kind_t kind() const { return config_.kind; }
  const ComponentConfig &config() const { return config_; }
  const vitals_plugin_t &plugin() const { return plugin_->descriptor; }
  const LoadedPlugin &loaded_plugin() const { return *plugin_; }
  // Who a call into this instance's plugin is (PluginCall): the component id,
  // plugin name and file, owned here.
  const PluginIdentity &identity() const { return identity_; }
  void *instance() const { return instance_; }
  bool is_consumer() const {
    return kind() == VITALS_KIND_PROCESSOR || kind() == VITALS_KIND_STORAGE || kind() == VITALS_KIND_OUTPUT;
  }
  bool is_scheduled() const {
    return (kind() == VITALS_KIND_INPUT || kind() == VITALS_KIND_OPTIMIZER) && plugin().collect;
  }
  bool consumes_on_thread() const { return plugin().flags & VITALS_FLAG_CONSUME_ON_THREAD; }
  bool collects_on_loop() const { return plugin().flags & VITALS_FLAG_COLLECT_ON_LOOP; }
  // Runs in a child process (isolate = true): collects asynchronously.
  bool isolated() const { return plugin_->isolated != nullptr; }
  // A processor that takes the batch's events (and emits those it keeps).
  bool owns_events() const { return plugin().flags & VITALS_FLAG_PROCESSOR_EVENTS; }

  // ---- for the host services (host/*.cpp) -------------------------------------
  // A timer the plugin started (vitals_host_t timer_start); it lives until
  // stopped or until this instance goes.
  void add_plugin_timer(uint64_t id, std::unique_ptr<UvTimer> timer) { plugin_timers_[id] = std::move(timer); }
  void stop_plugin_timer(uint64_t id) { plugin_timers_.erase(id); }
  // A route the plugin registered on the agent's HTTP server, removed when
  // this instance stops (remove_component_routes).
  void remember_route(uint64_t route_id) { http_routes_.push_back(route_id); }
  // The routes remembered so far; none are remembered afterwards.
  std::vector<uint64_t> take_routes() { return std::exchange(http_routes_, {}); }
  // The WebSocket connections accepted on this instance's routes.
  ComponentWebSockets &websockets() { return websockets_; }

  // ---- read-only, for `vitals test` and tests ----------------------------------
  // Failed collect or consume calls so far (vitals_component_errors_total).
  double error_count() const { return m_.errors->value(); }
  // A consumer not taking input while its own output waits for room.
  bool held() const { return held_; }

 private:
  // The Pipeline creates, wires, schedules, feeds and retires components:
  // what follows is state it manages, and the calls only it makes.
  friend class Pipeline;

  // Calls the plugin's create() with the checked config; false + error on failure.
  bool create(const vitals_host_t &host_template, std::string &error);

  // Filters a batch for a storage or output by its `match` (events always
  // pass); returns the input itself when everything matches and nullptr when
  // nothing does. A processor gets every batch whole: split() divides it when
  // it is consumed.
  BatchPtr filter(const BatchPtr &batch, const class SeriesRegistry &series);

  // What a processor does with a batch delivered to it: the samples its
  // `match` selects (all without one), and the events if it owns them, go to
  // consume(); the rest passes downstream unchanged, on the same
  // acknowledgement. No copy when one side is empty or takes the batch whole.
  struct Split {
    BatchPtr consumed;        // null: the plugin is not called
    bool with_events = true;  // false: consume() sees consumed's samples only
    BatchPtr passed;          // null: nothing passes through
  };
  Split split(const BatchPtr &batch, const class SeriesRegistry &series);

  // These keep the order they had when they were public: members are built
  // in declaration order and destroyed in reverse, and teardown was tested
  // that way (~Component stops the timers and joins the worker itself).
  EdgeQueue queue_;
  std::thread worker_;
  std::vector<Component *> downstream_;
  std::deque<ParkedBatch> parked_;
  std::atomic<int64_t> offloop_pending_{0};  // samples emitted off-loop, not yet routed

  // Scheduling (inputs and optimizers).
  int64_t interval_ns_ = 0;
  int64_t next_tick_ns_ = 0;
  std::unique_ptr<UvTimer> tick_timer_;
  bool collect_in_flight_ = false;
  uv_work_t work_req_{};
  int64_t work_tick_ns_ = 0;
  int64_t work_started_ns_ = 0;
  int work_status_ = VITALS_OK;
  std::string work_error_;

  std::map<uint64_t, std::unique_ptr<UvTimer>> plugin_timers_;
  std::vector<uint64_t> http_routes_;  // RouteIds on the agent's HTTP server
  ComponentWebSockets websockets_;     // connections accepted on its routes
  uint64_t outstanding_deliveries_ = 0;
  uint64_t pending_ack_callbacks_ = 0;  // into this plugin's code: it must outlive them
  bool started_ = false;
  bool retiring_ = false;  // removed by a reload or shutdown; destroyed once idle
  bool quiesced_ = false;  // retiring, flushed and stopped; waits only for its output and callbacks
  bool held_ = false;      // consumer not taking input while its own output waits for room
  const uint64_t serial_;  // unique per instance for the process's life
  int64_t last_error_log_ns_ = 0;
  uint64_t suppressed_errors_ = 0;

  struct Metrics {
    SelfMetric *samples_in, *samples_out, *batches_in, *batches_out, *errors, *dropped, *queue_depth, *latency_seconds,
        *skipped_ticks;
  } m_{};

  const ComponentConfig config_;
  MetricsRegistry &metrics_;
  std::string metrics_owner_;
  std::shared_ptr<LoadedPlugin> plugin_;
  PluginIdentity identity_;
  HostContext ctx_;
  vitals_host_t host_table_{};
  void *instance_ = nullptr;
  bool matches(vitals_series_id_t id, const class SeriesRegistry &series);

  std::optional<Selector> match_;
  // Used by one thread only: the loop for storage and outputs (filter), the
  // consuming thread for processors (split).
  std::unordered_map<vitals_series_id_t, bool> match_cache_;
};

}  // namespace vitals::core
