// The running pipeline: creates components from a checked config, schedules
// collection, routes batches along the graph's edges into bounded queues,
// tracks end-to-end acknowledgements, applies reloads and shuts down with a
// drain. Everything here runs on the loop thread except where noted.
#pragma once

#include <uv.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "ack_tracker.hpp"
#include "component.hpp"
#include "config/config_check.hpp"
#include "self_metrics.hpp"
#include "series_registry.hpp"

namespace vitals::core {

class HttpServer;

struct ReloadReport {
  std::vector<std::string> kept, started, stopped;
};

class Pipeline {
 public:
  Pipeline(uv_loop_t *loop, SeriesRegistry &series, MetricsRegistry &metrics, std::string data_dir);
  ~Pipeline();
  Pipeline(const Pipeline &) = delete;
  Pipeline &operator=(const Pipeline &) = delete;

  // Creates and starts every enabled component. On any failure nothing is
  // left running and the errors are in diags.
  // With schedule false, inputs are not collected until collect_all_once().
  bool start(const CheckedConfig &checked, Diagnostics &diags, bool schedule = true);
  // Applies a new checked config: components whose settings are unchanged
  // keep running, changed ones are restarted, wiring is updated. If a new
  // component fails to create, the running pipeline is left untouched.
  bool reload(const CheckedConfig &checked, Diagnostics &diags, ReloadReport &report);
  // Stops inputs, drains queues, flushes and stops everything; calls done
  // with true if all data drained before the timeout.
  void shutdown(int64_t timeout_ns, std::function<void(bool drained)> done);

  bool ready() const { return started_ && !stopping_; }
  // The agent's HTTP server, if enabled; plugins register routes on it.
  void set_http_server(HttpServer *server) { http_ = server; }
  HttpServer *http_server() const { return http_; }
  uv_loop_t *loop() const { return loop_; }
  SeriesRegistry &series() { return series_; }
  MetricsRegistry &metrics() { return metrics_; }
  const std::string &data_dir() const { return data_dir_; }
  // Read-only views of the running components (the vitals.control service,
  // `vitals test`, tests); what changes them is the Pipeline's alone.
  const Component *find(const std::string &id) const;
  std::vector<const Component *> components() const;
  // Sees every batch any component emits (vitals test prints them).
  void set_tap(std::function<void(const Component &, const Batch &)> tap) { tap_ = std::move(tap); }
  // Runs one collect of every input now and waits for it (vitals test).
  void collect_all_once(std::function<void()> done);

  // Asks the agent to re-read its config (as SIGHUP does); the agent sets the
  // handler.
  void set_reload_handler(std::function<void()> fn) { reload_handler_ = std::move(fn); }
  void request_reload() {
    if (reload_handler_) reload_handler_();
  }

  // Sends a JSON query to a storage (by id; empty: the first storage in the
  // config) on the libuv thread pool; `done` runs on the loop with the answer.
  void query_storage(const std::string &storage_id, std::string request_json,
                     std::function<void(int status, const std::string &content_type, std::string body)> done);

  // ---- host services (host_table.cpp calls these) -----------------------------
  // Any thread.
  // parent_delivery: the open delivery to `from` this batch is made of
  // (emit_for); 0 for the one being consumed on this thread, if any.
  // already_accepted: off the loop, a batch an isolated plugin's process
  // already answered OK for: refused neither for the emits of `from` still
  // in the inbox (what can arrive so is bounded by the process's credit) nor
  // because the inputs are stopping (its instance has not been stopped yet:
  // the answer to its stop() follows everything it emitted before).
  int emit(Component &from, const vitals_batch_t *batch, vitals_ack_fn fn, void *user, uint64_t parent_delivery = 0,
           bool already_accepted = false);
  // Any thread.
  void complete(uint64_t delivery_id, int status, const char *error);
  bool on_loop_thread() const { return std::this_thread::get_id() == loop_thread_; }

  // While one lives, what this thread posts to the inbox (emits) waits there
  // without waking the loop, for the next post that does: an isolated
  // input's emits during a collect, whose answer always follows (the reply,
  // the child's death or the watchdog), wake the loop once for all of them.
  struct DeferInboxWake {
    DeferInboxWake();
    ~DeferInboxWake();
    DeferInboxWake(const DeferInboxWake &) = delete;
    DeferInboxWake &operator=(const DeferInboxWake &) = delete;
  };

 private:
  struct Delivery {
    AckNode *node;
    Component *target;
  };
  struct InboxItem {
    enum class Kind { emit, completion, space_freed, flush_failed, collected } kind;
    // The emitting instance (Component::serial): a retiring instance and its
    // successor share an id, and an emit belongs to the one that made it.
    uint64_t from_serial = 0;
    // The delivery an on-thread consumer was consuming when it emitted: what
    // it emits is part of that delivery's acknowledgement.
    uint64_t parent_delivery = 0;
    // What a processor on its own thread passes through (not its match, or
    // events it does not own): joins the parent delivery's node.
    bool passed = false;
    BatchPtr batch{};
    vitals_ack_fn fn = nullptr;
    void *user = nullptr;
    uint64_t delivery_id = 0;
    int status = VITALS_OK;
    std::string error{};
    int64_t started_ns = 0;  // collected: when the collect began
  };

  std::shared_ptr<Component> make_component(const ComponentConfig &cfg, const CheckedConfig &checked,
                                            Diagnostics &diags);
  void wire(const Graph &graph);
  bool start_component(Component &c, bool schedule = true);
  // Ticks an input or optimizer from now on, and collects an input at once.
  void schedule_component(Component &c);
  void schedule_next(Component &c);
  void on_tick(Component &c);
  void dispatch_collect(Component &c, int64_t tick_ns);
  // Called on the loop when a collect returns (on the loop or from the pool).
  void after_collect(Component &c, int status, const std::string &error, int64_t started_ns);
  // after_collect's bookkeeping without routing the inbox (from the inbox).
  void finish_collect(Component &c, int status, const std::string &error, int64_t started_ns);
  // find() for the Pipeline's own use: the component it manages.
  Component *find_component(const std::string &id) const;

  int emit_on_loop(Component &from, BatchPtr batch, vitals_ack_fn fn, void *user, bool park_when_blocked,
                   AckNode *parent);
  // Sends a batch `from` emits downstream, or parks it (and holds `from`)
  // when must_wait; `node` already holds for it.
  void send_out(Component &from, BatchPtr batch, AckNode *node, bool must_wait);
  // The part of a delivered batch a processor does not consume goes
  // downstream of it as if it emitted it, on the delivery's node.
  void pass_through(Component &from, BatchPtr batch, AckNode *node);
  // Queues an emit made off the loop for routing on the loop.
  void post_emit(Component &from, BatchPtr batch, vitals_ack_fn fn, void *user, uint64_t parent_delivery, bool passed);
  bool blocked(const Component &from, const Batch &batch) const;
  void deliver(Component &from, const BatchPtr &batch, AckNode *node);
  void deliver_to(Component &target, const BatchPtr &batch, AckNode *node);
  void resolve_delivery(uint64_t delivery_id, int status, const char *error);
  void consume_on_loop(Component &c, QueueItem item);
  void worker_main(Component *c);
  void drain_ready();
  void retry_parked();
  void post(InboxItem item);
  void process_inbox();
  void note_error(Component &c, const std::string &what);

  // Parks or resumes a consumer whose own output waits for room downstream.
  void hold_consumer(Component &c, bool hold);
  Component *find_instance(uint64_t serial) const;

  // Calls stop() on an input or optimizer once (never while it collects).
  void stop_producer(Component &c);
  // Retiring: a component removed by a reload (or by shutdown) receives
  // nothing new, delivers what it holds, then is quiesced (flush, stop) and
  // destroyed. sweep_retiring() moves every retiring component along as far
  // as it can; producers always go before the consumers they feed.
  void retire(const std::shared_ptr<Component> &c);
  void sweep_retiring();
  bool feeds_retiring_consumer(const Component &upstream) const;
  bool can_quiesce(const Component &c) const;
  void quiesce(Component &c);
  bool can_destroy(const Component &c) const;
  void destroy(const std::shared_ptr<Component> &c);
  // Starts successors whose predecessor (same id) is gone.
  void start_successors();
  bool drained() const;
  void finish_shutdown(bool drained);
  void complete_shutdown();

  uv_loop_t *loop_;
  HttpServer *http_ = nullptr;
  std::thread::id loop_thread_;
  SeriesRegistry &series_;
  MetricsRegistry &metrics_;
  std::string data_dir_;
  vitals_host_t host_template_{};

  std::map<std::string, std::shared_ptr<Component>> components_;
  std::vector<std::string> order_;  // topological: producers first
  std::vector<std::shared_ptr<Component>> retiring_;
  // Successors created by a reload that wait for their predecessor to stop
  // before they start: two instances must never own the same resource (a
  // database file, a port).
  std::vector<Component *> awaiting_start_;
  // Shutdown past its timeout: what is queued is failed, not delivered.
  bool abandoning_ = false;
  bool drained_in_time_ = true;
  bool sweeping_ = false, sweep_again_ = false;

  AckTracker acks_;
  std::unordered_map<uint64_t, Delivery> deliveries_;
  uint64_t next_delivery_id_ = 1;

  // Context of the plugin call in progress on the loop thread.
  Component *collecting_ = nullptr;
  Component *consuming_ = nullptr;
  AckNode *consuming_node_ = nullptr;

  std::unordered_set<Component *> ready_;   // loop consumers with queued batches
  std::unordered_set<Component *> parked_;  // producers holding parked batches
  std::atomic<bool> any_parked_{false};
  uv_idle_t *drain_idle_ = nullptr;
  uv_async_t *inbox_async_ = nullptr;
  std::mutex inbox_mutex_;
  std::vector<InboxItem> inbox_;

  std::function<void(const Component &, const Batch &)> tap_;
  std::function<void()> reload_handler_;
  bool started_ = false;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> inputs_stopped_{false};
  std::unique_ptr<UvTimer> shutdown_timer_;
  int64_t shutdown_deadline_ns_ = 0;
  std::function<void(bool)> shutdown_done_;
};

}  // namespace vitals::core
