// Interval collection: wall-clock-aligned ticks, collect on the libuv thread
// pool (or the loop for cheap inputs), never two collects of one instance at
// once, and a skipped tick counted when the previous one is still running or
// its output is still waiting for room downstream.
#include "host/fatal_signal.hpp"
#include "isolate/isolated_plugin.hpp"
#include "log.hpp"
#include "pipeline.hpp"
#include "scheduler.hpp"

namespace vitals::core {

void Pipeline::schedule_next(Component &c) {
  if (!c.tick_timer_) return;
  c.tick_timer_->start(ms_until(wall_clock_ns(), c.next_tick_ns_));
}

void Pipeline::on_tick(Component &c) {
  int64_t now = wall_clock_ns();
  if (now < c.next_tick_ns_) {  // woke early (loop time is cached): wait the rest
    schedule_next(c);
    return;
  }
  int64_t tick = c.next_tick_ns_;
  // Late by more than an interval (suspend, clock step, a stall): skip the
  // missed ticks rather than bursting through them.
  int64_t next = next_aligned_tick(now, c.interval_ns_);
  if (next - tick > c.interval_ns_) {
    c.m_.skipped_ticks->add(static_cast<double>((next - tick) / c.interval_ns_ - 1));
    tick = next - c.interval_ns_;
  }
  c.next_tick_ns_ = next;
  schedule_next(c);
  if (c.collect_in_flight_ || !c.parked_.empty()) {
    c.m_.skipped_ticks->add(1);
    log_debug(c.id(), c.collect_in_flight_ ? "tick skipped: previous collect still running"
                                           : "tick skipped: waiting for room downstream");
    return;
  }
  dispatch_collect(c, tick);
}

void Pipeline::dispatch_collect(Component &c, int64_t tick_ns) {
  if (c.isolated()) {
    // The child collects; its emits and then its answer come back through
    // the inbox, in that order. No thread here waits for it.
    c.collect_in_flight_ = true;
    collect_isolated(c.instance(), tick_ns,
                     [this, serial = c.serial_, t0 = monotonic_ns()](int status, std::string error) {
                       InboxItem item{InboxItem::Kind::collected};
                       item.from_serial = serial;
                       item.status = status;
                       item.error = std::move(error);
                       item.started_ns = t0;
                       post(std::move(item));
                     });
    return;
  }
  if (c.collects_on_loop()) {
    int64_t t0 = monotonic_ns();
    collecting_ = &c;
    int status = call_plugin(c.identity(), "collect", c.plugin().collect, c.instance(), tick_ns);
    collecting_ = nullptr;
    after_collect(c, status, status == VITALS_OK ? std::string() : c.last_error(), t0);
    return;
  }
  c.collect_in_flight_ = true;
  c.work_tick_ns_ = tick_ns;
  c.work_req_.data = &c;
  c.work_started_ns_ = monotonic_ns();
  c.work_status_ = VITALS_OK;
  uv_queue_work(
      loop_, &c.work_req_,
      [](uv_work_t *req) {
        auto *comp = static_cast<Component *>(req->data);
        ensure_signal_stack();  // a pool thread, once
        comp->work_status_ =
            call_plugin(comp->identity(), "collect", comp->plugin().collect, comp->instance(), comp->work_tick_ns_);
        comp->work_error_ = comp->work_status_ == VITALS_OK ? std::string() : comp->last_error();
      },
      [](uv_work_t *req, int) {
        auto *comp = static_cast<Component *>(req->data);
        // The pipeline pointer is recovered through the host context.
        comp->ctx_.pipeline->after_collect(*comp, comp->work_status_, comp->work_error_, comp->work_started_ns_);
      });
}

void Pipeline::after_collect(Component &c, int status, const std::string &error, int64_t started_ns) {
  finish_collect(c, status, error, started_ns);
  // Off-loop emits from this collect may still be in the inbox: route them.
  // This also moves retiring components along, and may destroy `c` if it
  // was retiring: nothing below may touch it.
  process_inbox();
}

void Pipeline::finish_collect(Component &c, int status, const std::string &error, int64_t started_ns) {
  c.collect_in_flight_ = false;
  if (started_ns) c.m_.latency_seconds->observe(static_cast<double>(monotonic_ns() - started_ns) / 1e9);
  if (status != VITALS_OK) note_error(c, "collect failed: " + error);
  if (inputs_stopped_ && c.kind() == VITALS_KIND_INPUT) stop_producer(c);
}

void Pipeline::collect_all_once(std::function<void()> done) {
  auto remaining = std::make_shared<int>(0);
  auto finish = std::make_shared<std::function<void()>>(std::move(done));
  for (auto &[id, c] : components_) {
    if (c->kind() != VITALS_KIND_INPUT || !c->plugin().collect) continue;
    c->tick_timer_.reset();  // one explicit collection, no schedule
    dispatch_collect(*c, wall_clock_ns());
    if (c->collect_in_flight_) ++*remaining;
  }
  if (*remaining == 0) {
    (*finish)();
    return;
  }
  auto poll = std::make_shared<std::unique_ptr<UvTimer>>();
  *poll = std::make_unique<UvTimer>(loop_, [this, poll, finish] {
    for (auto &[id, c] : components_)
      if (c->collect_in_flight_) return;
    process_inbox();
    (*finish)();
    poll->reset();
  });
  (*poll)->start(1, 1);
}

}  // namespace vitals::core
