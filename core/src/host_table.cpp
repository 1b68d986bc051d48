// Implementation of the host services of plugin.h.
#include "host_table.hpp"

#include <string>

#include "component.hpp"
#include "http_host.hpp"
#include "log.hpp"
#include "pipeline.hpp"
#include "query_reply.hpp"
#include "ws_host.hpp"

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

int host_emit(vitals_host_ctx_t *ctx, const vitals_batch_t *batch, vitals_ack_fn fn, void *user) {
  auto &c = ctx_of(ctx);
  return c.pipeline->emit(*c.component, batch, fn, user);
}

int host_emit_for(vitals_host_ctx_t *ctx, vitals_ack_t *parent, const vitals_batch_t *batch, vitals_ack_fn fn,
                  void *user) {
  auto &c = ctx_of(ctx);
  return c.pipeline->emit(*c.component, batch, fn, user, reinterpret_cast<uintptr_t>(parent));
}

void host_complete(vitals_host_ctx_t *ctx, vitals_ack_t *ack, int status, const char *error) {
  ctx_of(ctx).pipeline->complete(reinterpret_cast<uintptr_t>(ack), status, error);
}

uv_loop_s *host_loop(vitals_host_ctx_t *ctx) { return ctx_of(ctx).pipeline->loop(); }

uint64_t host_timer_start(vitals_host_ctx_t *ctx, uint64_t first_ms, uint64_t repeat_ms, vitals_timer_fn fn,
                          void *user) {
  auto &c = ctx_of(ctx);
  static uint64_t next_id = 0;
  uint64_t id = ++next_id;
  auto timer = std::make_unique<UvTimer>(c.pipeline->loop(), [fn, user] { fn(user); });
  timer->start(first_ms, repeat_ms);
  c.component->plugin_timers[id] = std::move(timer);
  return id;
}

void host_timer_stop(vitals_host_ctx_t *ctx, uint64_t id) { ctx_of(ctx).component->plugin_timers.erase(id); }

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

void host_metrics_snapshot(vitals_host_ctx_t *ctx, vitals_stat_visit_fn visit, void *user) {
  auto &p = *ctx_of(ctx).pipeline;
  std::vector<vitals_label_t> c_labels;
  p.metrics().visit([&](const std::string &name, const MetricLabels &labels, double value) {
    c_labels.clear();
    for (const auto &[k, v] : labels) c_labels.push_back({k.c_str(), v.c_str()});
    visit(user, name.c_str(), c_labels.data(), static_cast<uint32_t>(c_labels.size()), value);
  });
  // Plugins' own counters, labelled with their component and named
  // vitals_<plugin>_<stat> so that two plugins' "clients" never collide.
  for (Component *c : p.components()) {
    if (!c->plugin().stats) continue;
    struct Forward {
      vitals_stat_visit_fn visit;
      void *user;
      const std::string *id;
      std::string prefix;
      std::string name;
    } fwd{visit, user, &c->id(), "vitals_" + c->config().plugin + "_", {}};
    c->plugin().stats(
        c->instance(),
        [](void *u, const char *name, const vitals_label_t *labels, uint32_t n, double value) {
          auto *f = static_cast<Forward *>(u);
          std::string_view raw(name ? name : "");
          f->name = raw.rfind("vitals_", 0) == 0 ? std::string(raw) : f->prefix + std::string(raw);
          std::vector<vitals_label_t> all(labels, labels + n);
          all.push_back({"component", f->id->c_str()});
          f->visit(f->user, f->name.c_str(), all.data(), static_cast<uint32_t>(all.size()), value);
        },
        &fwd);
  }
  c_labels.clear();
  visit(user, "vitals_series_count", nullptr, 0, static_cast<double>(p.series().size()));
  visit(user, "vitals_series_refused_total", nullptr, 0, static_cast<double>(p.series().refused_at_limit()));
}

const char *host_data_dir(vitals_host_ctx_t *ctx) { return ctx_of(ctx).pipeline->data_dir().c_str(); }
const char *host_instance_id(vitals_host_ctx_t *ctx) { return ctx_of(ctx).component->id().c_str(); }

void host_reply(vitals_reply_t *reply, int status, const char *content_type, const char *body, size_t len) {
  if (reply) reinterpret_cast<QueryReply *>(reply)->deliver(status, content_type ? content_type : "", body, len);
}

}  // namespace

vitals_host_t make_host_template() {
  vitals_host_t t{};
  t.struct_size = sizeof(vitals_host_t);
  t.abi_minor = VITALS_ABI_MINOR;
  t.log = host_log;
  t.intern = host_intern;
  t.series = host_series;
  t.emit = host_emit;
  t.emit_for = host_emit_for;
  t.complete = host_complete;
  t.loop = host_loop;
  t.timer_start = host_timer_start;
  t.timer_stop = host_timer_stop;
  t.metric = host_metric;
  t.metric_update = host_metric_update;
  t.metrics_snapshot = host_metrics_snapshot;
  t.data_dir = host_data_dir;
  t.instance_id = host_instance_id;
  t.reply = host_reply;
  fill_http_host_functions(t);
  fill_ws_host_functions(t);
  return t;
}

}  // namespace vitals::core
