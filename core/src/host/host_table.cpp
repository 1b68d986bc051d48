// The core table of plugin.h (vitals_host_t): what every instance gets,
// whatever its kind. Everything else is a named service (services.cpp).
#include "host_table.hpp"

#include <string>

#include "engine/component.hpp"
#include "engine/pipeline.hpp"
#include "log.hpp"
#include "services.hpp"

namespace vitals::core {

namespace {

HostContext &ctx_of(vitals_host_ctx_t *ctx) { return *reinterpret_cast<HostContext *>(ctx); }

void host_log(vitals_host_ctx_t *ctx, int level, const char *message) {
  LogLevel l = level <= 0   ? LogLevel::error
               : level == 1 ? LogLevel::warn
               : level == 2 ? LogLevel::info
                            : LogLevel::debug;
  log(l, ctx_of(ctx).component->id(), message ? message : "");
}

vitals_series_id_t host_intern(vitals_host_ctx_t *ctx, const char *name, const vitals_label_t *labels, uint32_t n) {
  if (!name || (n && !labels)) return 0;
  return ctx_of(ctx).pipeline->series().intern(name, labels, n);
}

const vitals_series_t *host_series(vitals_host_ctx_t *ctx, vitals_series_id_t id) {
  return ctx_of(ctx).pipeline->series().find(id);
}

int host_emit(vitals_host_ctx_t *ctx, vitals_ack_t *parent, const vitals_batch_t *batch, vitals_ack_fn fn, void *user) {
  auto &c = ctx_of(ctx);
  return c.pipeline->emit(*c.component, batch, fn, user, reinterpret_cast<uintptr_t>(parent));
}

}  // namespace

int host_emit_accepted(vitals_host_ctx_t *ctx, vitals_ack_t *parent, const vitals_batch_t *batch, vitals_ack_fn fn,
                       void *user) {
  auto &c = ctx_of(ctx);
  return c.pipeline->emit(*c.component, batch, fn, user, reinterpret_cast<uintptr_t>(parent),
                          /*already_accepted=*/true);
}

namespace {

void host_complete(vitals_host_ctx_t *ctx, vitals_ack_t *ack, int status, const char *error) {
  ctx_of(ctx).pipeline->complete(reinterpret_cast<uintptr_t>(ack), status, error);
}

uv_loop_s *host_loop(vitals_host_ctx_t *ctx) { return ctx_of(ctx).pipeline->loop(); }

uint64_t host_timer_start(vitals_host_ctx_t *ctx, uint64_t first_ms, uint64_t repeat_ms, vitals_timer_fn fn,
                          void *user) {
  auto &c = ctx_of(ctx);
  static uint64_t next_id = 0;
  uint64_t id = ++next_id;
  auto timer = std::make_unique<UvTimer>(c.pipeline->loop(), [fn, user, who = &c.component->identity()] {
    call_plugin(*who, "timer callback", fn, user);
  });
  timer->start(first_ms, repeat_ms);
  c.component->add_plugin_timer(id, std::move(timer));
  return id;
}

void host_timer_stop(vitals_host_ctx_t *ctx, uint64_t id) { ctx_of(ctx).component->stop_plugin_timer(id); }

vitals_metric_t *host_metric(vitals_host_ctx_t *ctx, const char *name, int type, const char *help) {
  auto &c = ctx_of(ctx);
  if (!name || type < VITALS_METRIC_COUNTER || type > VITALS_METRIC_HISTOGRAM) return nullptr;
  MetricLabels labels = {{"component", c.component->id()}};
  return reinterpret_cast<vitals_metric_t *>(c.pipeline->metrics().get(
      c.component->metrics_owner(), static_cast<vitals_metric_type_t>(type), name, help ? help : "", labels));
}

void host_metric_update(vitals_metric_t *m, double value) {
  if (m) reinterpret_cast<SelfMetric *>(m)->update(value);
}

const char *host_data_dir(vitals_host_ctx_t *ctx) { return ctx_of(ctx).pipeline->data_dir().c_str(); }
const char *host_instance_id(vitals_host_ctx_t *ctx) { return ctx_of(ctx).component->id().c_str(); }

const void *host_get_service(vitals_host_ctx_t *, const char *name, uint32_t min_version) {
  return find_host_service(name ? name : "", min_version);
}

}  // namespace

vitals_host_t make_host_template() {
  vitals_host_t t{};
  t.struct_size = sizeof(vitals_host_t);
  t.abi_minor = VITALS_ABI_MINOR;
  t.get_service = host_get_service;
  t.log = host_log;
  t.intern = host_intern;
  t.series = host_series;
  t.emit = host_emit;
  t.complete = host_complete;
  t.loop = host_loop;
  t.timer_start = host_timer_start;
  t.timer_stop = host_timer_stop;
  t.metric = host_metric;
  t.metric_update = host_metric_update;
  t.data_dir = host_data_dir;
  t.instance_id = host_instance_id;
  return t;
}

}  // namespace vitals::core
