// Routing batches along edges, overflow policies, and end-to-end
// acknowledgement. Emits from other threads go through the inbox and are
// routed on the loop thread, so all graph state is single-threaded.
#include <algorithm>

#include "host/fatal_signal.hpp"
#include "log.hpp"
#include "pipeline.hpp"
#include "scheduler.hpp"

namespace vitals::core {

namespace {
// Off-loop emits not yet routed, per component, before emit() answers AGAIN.
constexpr int64_t kMaxOffloopPendingSamples = 1'000'000;

// The delivery a consumer's own thread is consuming, so that what it emits
// meanwhile joins that delivery's acknowledgement (as on the loop).
struct ThreadConsuming {
  const Component *component = nullptr;
  uint64_t delivery_id = 0;
};
thread_local ThreadConsuming thread_consuming;
}  // namespace

int Pipeline::emit(Component &from, const vitals_batch_t *batch, vitals_ack_fn fn, void *user, uint64_t parent_delivery,
                   bool already_accepted) {
  if (!batch || (batch->n_samples && (!batch->series || !batch->ts_ns || !batch->values)) ||
      (batch->n_events && !batch->events))
    return VITALS_INVALID;
  for (uint32_t i = 0; i < batch->n_samples; ++i)
    if (!series_.contains(batch->series[i])) return VITALS_INVALID;
  // Off the loop, a stopped input is refused before its batch is copied;
  // emits on the loop are checked in emit_on_loop.
  if (stopping_ && inputs_stopped_ && from.kind() == VITALS_KIND_INPUT && !on_loop_thread() && !already_accepted)
    return VITALS_STOPPED;
  if (batch->n_samples == 0 && batch->n_events == 0) {
    if (fn) {
      // Nothing to deliver: acknowledge at once, but never re-entrantly. The
      // callback is the plugin's code: counted, so the instance outlives it.
      from.offloop_pending_ += 1;
      InboxItem item{InboxItem::Kind::emit};
      item.batch = std::make_shared<Batch>();
      item.fn = fn;
      item.user = user;
      item.from_serial = from.serial_;
      post(std::move(item));
    }
    return VITALS_OK;
  }
  BatchPtr owned = Batch::copy_of(*batch);
  if (on_loop_thread()) {
    bool in_collect = collecting_ == &from;
    bool in_consume = consuming_ == &from;
    AckNode *parent = in_consume ? consuming_node_ : nullptr;
    if (parent_delivery) {
      auto d = deliveries_.find(parent_delivery);
      if (d == deliveries_.end() || d->second.target != &from) return VITALS_INVALID;
      parent = d->second.node;
    }
    // What a processor emits of a batch it consumes (in consume(), or later
    // through emit_for) is never refused for a full queue: it waits, and the
    // processor is held until it drained.
    return emit_on_loop(from, std::move(owned), fn, user, in_collect || in_consume || parent_delivery != 0, parent);
  }
  if (!parent_delivery && thread_consuming.component == &from) parent_delivery = thread_consuming.delivery_id;
  // The cap guards the inbox against producers the loop cannot hold back
  // (collects on the pool, push inputs on their own threads). A processor's
  // output is bounded by its intake instead: once it waits, the processor is
  // held and its queue paused.
  if (!parent_delivery && !already_accepted &&
      from.offloop_pending_.load() + static_cast<int64_t>(owned->weight()) > kMaxOffloopPendingSamples)
    return VITALS_AGAIN;
  post_emit(from, std::move(owned), fn, user, parent_delivery, /*passed=*/false);
  return VITALS_OK;
}

void Pipeline::post_emit(Component &from, BatchPtr batch, vitals_ack_fn fn, void *user, uint64_t parent_delivery,
                         bool passed) {
  from.offloop_pending_ += static_cast<int64_t>(batch->weight());
  InboxItem item{InboxItem::Kind::emit};
  item.batch = std::move(batch);
  item.fn = fn;
  item.user = user;
  // components_ is loop-only; the inbox looks the instance up again there.
  item.from_serial = from.serial_;
  item.parent_delivery = parent_delivery;
  item.passed = passed;
  post(std::move(item));
}

bool Pipeline::blocked(const Component &from, const Batch &batch) const {
  for (const Component *c : from.downstream_)
    if (c->queue_.config().overflow == Overflow::block && c->queue_.full_for(batch.weight())) return true;
  return false;
}

int Pipeline::emit_on_loop(Component &from, BatchPtr batch, vitals_ack_fn fn, void *user, bool park_when_blocked,
                           AckNode *parent) {
  if (stopping_ && inputs_stopped_ && from.kind() == VITALS_KIND_INPUT && !park_when_blocked) return VITALS_STOPPED;
  bool must_wait = !from.parked_.empty() || blocked(from, *batch);
  if (must_wait && !park_when_blocked) return VITALS_AGAIN;
  AckNode *node =
      (fn || parent) ? acks_.create(parent, fn, user, &from.pending_ack_callbacks_, &from.identity()) : nullptr;
  send_out(from, std::move(batch), node, must_wait);
  return VITALS_OK;
}

void Pipeline::pass_through(Component &from, BatchPtr batch, AckNode *node) {
  // No node of its own: the part joins the consumed delivery's node, holding
  // it as an emit's creator would.
  if (node) acks_.hold(node);
  bool must_wait = !from.parked_.empty() || blocked(from, *batch);
  send_out(from, std::move(batch), node, must_wait);
}

void Pipeline::send_out(Component &from, BatchPtr batch, AckNode *node, bool must_wait) {
  from.m_.samples_out->add(static_cast<double>(batch->samples()));
  from.m_.batches_out->add(1);
  if (tap_) tap_(from, *batch);
  if (must_wait) {
    // Keep order: once one batch waits, later ones wait behind it.
    from.parked_.push_back({std::move(batch), node});
    parked_.insert(&from);
    any_parked_ = true;
    // A processor whose output waits takes no more input: its queue fills
    // and its own producers see the backpressure.
    if (from.is_consumer()) hold_consumer(from, true);
    return;
  }
  deliver(from, batch, node);
}

void Pipeline::deliver(Component &from, const BatchPtr &batch, AckNode *node) {
  for (Component *target : from.downstream_) deliver_to(*target, batch, node);
  if (node) acks_.resolve(node, VITALS_OK, nullptr);  // the creator's hold
}

void Pipeline::deliver_to(Component &target, const BatchPtr &batch, AckNode *node) {
  BatchPtr filtered = target.filter(batch, series_);
  if (!filtered) return;
  uint64_t id = next_delivery_id_++;
  deliveries_[id] = {node, &target};
  if (node) acks_.hold(node);
  ++target.outstanding_deliveries_;
  std::vector<QueueItem> evicted;
  auto result = target.queue_.push({filtered, id, monotonic_ns()}, evicted);
  for (auto &e : evicted) {
    target.m_.dropped->add(static_cast<double>(e.batch->weight()));
    resolve_delivery(e.delivery_id, VITALS_ERROR, "dropped: queue full (overflow drop_oldest)");
  }
  if (result == EdgeQueue::PushResult::closed) {
    // A bug, not a policy: a consumer stopped while something still fed it.
    log_error(target.id(), "batch pushed after the component stopped; failing it");
    resolve_delivery(id, VITALS_ERROR, "component stopped: batch refused");
    return;
  }
  if (result != EdgeQueue::PushResult::accepted) {
    // drop_newest, or block reached through a path that could not wait.
    target.m_.dropped->add(static_cast<double>(filtered->weight()));
    resolve_delivery(id, VITALS_ERROR, "dropped: queue full");
    return;
  }
  target.m_.queue_depth->set(static_cast<double>(target.queue_.depth_samples()));
  if (!target.consumes_on_thread() && target.started_ && !target.held_) {
    ready_.insert(&target);
    uv_idle_start(drain_idle_, [](uv_idle_t *h) { static_cast<Pipeline *>(h->data)->drain_ready(); });
  }
}

void Pipeline::resolve_delivery(uint64_t delivery_id, int status, const char *error) {
  auto it = deliveries_.find(delivery_id);
  if (it == deliveries_.end()) return;  // already resolved (or a stale token)
  Delivery d = it->second;
  deliveries_.erase(it);
  --d.target->outstanding_deliveries_;
  if (status != VITALS_OK) note_error(*d.target, error ? error : "failed");
  if (d.node) acks_.resolve(d.node, status, error);
}

void Pipeline::consume_on_loop(Component &c, QueueItem item) {
  c.m_.samples_in->add(static_cast<double>(item.batch->samples()));
  c.m_.batches_in->add(1);
  auto d = deliveries_.find(item.delivery_id);
  AckNode *node = d != deliveries_.end() ? d->second.node : nullptr;
  BatchPtr consumed = std::move(item.batch);
  bool with_events = true;
  if (c.kind() == VITALS_KIND_PROCESSOR) {
    Component::Split split = c.split(consumed, series_);
    // First, so that the processor's own output for this batch queues behind it.
    if (split.passed) pass_through(c, std::move(split.passed), node);
    if (!split.consumed) {  // nothing is the processor's: it is not called
      resolve_delivery(item.delivery_id, VITALS_OK, nullptr);
      return;
    }
    consumed = std::move(split.consumed);
    with_events = split.with_events;
  }
  BatchCView view(*consumed, with_events);
  Component *prev_consuming = consuming_;
  AckNode *prev_node = consuming_node_;
  consuming_ = &c;
  consuming_node_ = node;
  int64_t t0 = monotonic_ns();
  int status = call_plugin(c.identity(), "consume", c.plugin().consume, c.instance(), view.get(),
                           reinterpret_cast<vitals_ack_t *>(item.delivery_id));
  c.m_.latency_seconds->observe(static_cast<double>(monotonic_ns() - t0) / 1e9);
  consuming_ = prev_consuming;
  consuming_node_ = prev_node;
  if (status == VITALS_PENDING) return;
  resolve_delivery(item.delivery_id, status == VITALS_OK ? VITALS_OK : VITALS_ERROR,
                   status == VITALS_OK ? nullptr : c.last_error().c_str());
}

void Pipeline::drain_ready() {
  // A bounded amount per consumer per loop turn keeps sockets and timers responsive.
  constexpr int kBatchesPerTurn = 64;
  std::vector<Component *> work(ready_.begin(), ready_.end());
  for (Component *c : work) {
    for (int i = 0; i < kBatchesPerTurn && !c->held_; ++i) {
      auto item = c->queue_.try_pop();
      if (!item) {
        ready_.erase(c);
        break;
      }
      consume_on_loop(*c, std::move(*item));
    }
    if (c->held_) ready_.erase(c);  // back when its output drains (hold_consumer)
    c->m_.queue_depth->set(static_cast<double>(c->queue_.depth_samples()));
  }
  retry_parked();
  if (ready_.empty()) uv_idle_stop(drain_idle_);
}

void Pipeline::hold_consumer(Component &c, bool hold) {
  if (c.held_ == hold) return;
  c.held_ = hold;
  if (c.consumes_on_thread()) {
    c.queue_.set_paused(hold);
  } else if (!hold && c.started_ && c.queue_.depth_batches() > 0) {
    ready_.insert(&c);
    uv_idle_start(drain_idle_, [](uv_idle_t *h) { static_cast<Pipeline *>(h->data)->drain_ready(); });
  }
}

Component *Pipeline::find_instance(uint64_t serial) const {
  for (const auto &[id, c] : components_)
    if (c->serial_ == serial) return c.get();
  for (const auto &c : retiring_)
    if (c->serial_ == serial) return c.get();
  return nullptr;
}

void Pipeline::retry_parked() {
  if (parked_.empty()) {
    if (!retiring_.empty()) sweep_retiring();
    return;
  }
  std::vector<Component *> producers(parked_.begin(), parked_.end());
  for (Component *p : producers) {
    while (!p->parked_.empty() && !blocked(*p, *p->parked_.front().batch)) {
      ParkedBatch b = std::move(p->parked_.front());
      p->parked_.pop_front();
      deliver(*p, b.batch, b.node);
    }
    if (p->parked_.empty()) {
      parked_.erase(p);
      if (p->is_consumer()) hold_consumer(*p, false);
    }
  }
  any_parked_ = !parked_.empty();
  if (!retiring_.empty()) sweep_retiring();
}

void Pipeline::worker_main(Component *c) {
  ensure_signal_stack();
  while (auto item = c->queue_.pop_wait()) {
    if (any_parked_) post({InboxItem::Kind::space_freed});
    c->m_.samples_in->add(static_cast<double>(item->batch->samples()));
    c->m_.batches_in->add(1);
    c->m_.queue_depth->set(static_cast<double>(c->queue_.depth_samples()));
    BatchPtr consumed = std::move(item->batch);
    bool with_events = true;
    if (c->kind() == VITALS_KIND_PROCESSOR) {
      Component::Split split = c->split(consumed, series_);
      // Routed on the loop before the completion posted below.
      if (split.passed) post_emit(*c, std::move(split.passed), nullptr, nullptr, item->delivery_id, /*passed=*/true);
      consumed = std::move(split.consumed);
      with_events = split.with_events;
    }
    int status = VITALS_OK;
    if (consumed) {  // else nothing is the processor's: it is not called
      BatchCView view(*consumed, with_events);
      int64_t t0 = monotonic_ns();
      thread_consuming = {c, item->delivery_id};
      status = call_plugin(c->identity(), "consume", c->plugin().consume, c->instance(), view.get(),
                           reinterpret_cast<vitals_ack_t *>(item->delivery_id));
      thread_consuming = {};
      c->m_.latency_seconds->observe(static_cast<double>(monotonic_ns() - t0) / 1e9);
    }
    if (status != VITALS_PENDING) {
      InboxItem done{InboxItem::Kind::completion};
      done.delivery_id = item->delivery_id;
      done.status = status == VITALS_OK ? VITALS_OK : VITALS_ERROR;
      if (status != VITALS_OK) done.error = c->last_error();
      post(std::move(done));
    }
    // End of a burst: let the plugin commit everything it holds in one go
    // (group commit), on this same thread.
    if (c->queue_.depth_batches() == 0 && c->plugin().flush &&
        call_plugin(c->identity(), "flush", c->plugin().flush, c->instance()) != VITALS_OK) {
      InboxItem failed{InboxItem::Kind::flush_failed};
      failed.from_serial = c->serial_;
      failed.error = c->last_error();
      post(std::move(failed));
    }
  }
}

void Pipeline::complete(uint64_t delivery_id, int status, const char *error) {
  InboxItem item{InboxItem::Kind::completion};
  item.delivery_id = delivery_id;
  item.status = status == VITALS_OK ? VITALS_OK : VITALS_ERROR;
  if (error) item.error = error;
  post(std::move(item));
}

namespace {
thread_local int inbox_wakes_deferred = 0;
}

Pipeline::DeferInboxWake::DeferInboxWake() { ++inbox_wakes_deferred; }
Pipeline::DeferInboxWake::~DeferInboxWake() { --inbox_wakes_deferred; }

void Pipeline::post(InboxItem item) {
  {
    std::lock_guard lock(inbox_mutex_);
    inbox_.push_back(std::move(item));
  }
  if (!inbox_wakes_deferred) uv_async_send(inbox_async_);
}

void Pipeline::process_inbox() {
  std::vector<InboxItem> items;
  {
    std::lock_guard lock(inbox_mutex_);
    items.swap(inbox_);
  }
  for (auto &item : items) {
    switch (item.kind) {
      case InboxItem::Kind::completion:
        resolve_delivery(item.delivery_id, item.status, item.error.empty() ? nullptr : item.error.c_str());
        break;
      case InboxItem::Kind::space_freed:
        break;
      case InboxItem::Kind::collected:  // an isolated input's answer
        if (Component *c = find_instance(item.from_serial))
          finish_collect(*c, item.status, item.error, item.started_ns);
        break;
      case InboxItem::Kind::flush_failed:
        if (Component *c = find_instance(item.from_serial)) note_error(*c, "flush failed: " + item.error);
        break;
      case InboxItem::Kind::emit: {
        if (item.batch->empty()) {
          // The instance lives while this is pending (offloop_pending).
          if (Component *c = find_instance(item.from_serial)) {
            call_plugin(c->identity(), "ack callback", item.fn, item.user, VITALS_OK, nullptr);
            c->offloop_pending_ -= 1;
          } else {
            item.fn(item.user, VITALS_OK, nullptr);
          }
          break;
        }
        // Never null: an instance with emits in the inbox is not destroyed.
        Component *from = find_instance(item.from_serial);
        if (!from) {
          if (item.fn) item.fn(item.user, VITALS_STOPPED, "component stopped");
          break;
        }
        from->offloop_pending_ -= static_cast<int64_t>(item.batch->weight());
        AckNode *parent = nullptr;
        if (item.parent_delivery) {
          // Posted before the delivery's completion (emit_for's contract), so
          // still open; a plugin that completed first gets its batch routed
          // without the link.
          auto d = deliveries_.find(item.parent_delivery);
          if (d != deliveries_.end() && d->second.target == from) parent = d->second.node;
        }
        if (item.passed)
          pass_through(*from, std::move(item.batch), parent);
        else
          emit_on_loop(*from, std::move(item.batch), item.fn, item.user, /*park_when_blocked=*/true, parent);
        break;
      }
    }
  }
  retry_parked();  // and moves retiring components along
}

void Pipeline::note_error(Component &c, const std::string &what) {
  c.m_.errors->add(1);
  // One line per component per 10 s at most: a broken sensor must not flood the journal.
  int64_t now = monotonic_ns();
  if (now - c.last_error_log_ns_ < 10'000'000'000) {
    ++c.suppressed_errors_;
    return;
  }
  std::string suffix =
      c.suppressed_errors_ ? " (" + std::to_string(c.suppressed_errors_) + " similar errors suppressed)" : "";
  c.suppressed_errors_ = 0;
  c.last_error_log_ns_ = now;
  log_error(c.id(), what + suffix);
}

}  // namespace vitals::core
