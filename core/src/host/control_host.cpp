// vitals.control. Loop thread only, like the pipeline state it reads. A
// tunable changes only within the range its plugin declared, and every change
// is logged and emitted as an event by the component that made it, so a
// dashboard or storage downstream sees who changed what and why.
#include "control_host.hpp"

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "engine/component.hpp"
#include "engine/pipeline.hpp"
#include "engine/scheduler.hpp"
#include "log.hpp"

namespace vitals::core {

namespace {

HostContext &ctx_of(vitals_host_ctx_t *ctx) { return *reinterpret_cast<HostContext *>(ctx); }

// The pipeline's components change only on the loop: a call from elsewhere
// (an optimizer without VITALS_FLAG_COLLECT_ON_LOOP) is refused, not raced.
bool on_loop(vitals_host_ctx_t *ctx, const char *what) {
  HostContext &hc = ctx_of(ctx);
  if (hc.pipeline->on_loop_thread()) return true;
  log_warn(hc.component->id(), std::string("vitals.control ") + what +
                                   " called off the loop thread: refused (collect on the loop, "
                                   "VITALS_FLAG_COLLECT_ON_LOOP)");
  return false;
}

// The component's vitals.tunables list(): fills up to cap, answers how many
// there are (0 without the service).
uint32_t fill_tunables(const Component &c, vitals_tunable_t *out, uint32_t cap) {
  const ProvidedServices &s = c.loaded_plugin().services;
  if (!s.has_tunables || !c.instance()) return 0;
  PluginCall call(c.identity(), "tunables list");
  return s.tunables.list(c.instance(), out, cap);
}

std::vector<vitals_tunable_t> list_tunables(const Component &c) {
  std::vector<vitals_tunable_t> out(fill_tunables(c, nullptr, 0));
  out.resize(fill_tunables(c, out.data(), static_cast<uint32_t>(out.size())));
  return out;
}

void control_components(vitals_host_ctx_t *ctx, vitals_component_visit_fn visit, void *user) {
  if (!on_loop(ctx, "components")) return;
  for (const Component *c : ctx_of(ctx).pipeline->components()) {
    vitals_component_info_t info{};
    info.id = c->id().c_str();
    info.kind = static_cast<uint32_t>(c->kind());
    info.n_tunables = fill_tunables(*c, nullptr, 0);
    info.plugin = c->config().plugin.c_str();
    info.version = c->plugin().version;
    visit(user, &info);
  }
}

void control_metrics(vitals_host_ctx_t *ctx, vitals_stat_visit_fn visit, void *user) {
  if (!on_loop(ctx, "metrics")) return;
  auto &p = *ctx_of(ctx).pipeline;
  std::vector<vitals_label_t> c_labels;
  p.metrics().visit([&](const std::string &name, const MetricLabels &labels, double value) {
    c_labels.clear();
    for (const auto &[k, v] : labels) c_labels.push_back({k.c_str(), v.c_str()});
    visit(user, name.c_str(), c_labels.data(), static_cast<uint32_t>(c_labels.size()), value);
  });
  // Plugins' own counters, labelled with their component and named
  // vitals_<plugin>_<stat> so that two plugins' "clients" never collide.
  for (const Component *c : p.components()) {
    if (!c->plugin().stats) continue;
    struct Forward {
      vitals_stat_visit_fn visit;
      void *user;
      const std::string *id;
      std::string prefix;
      std::string name;
      const PluginCall *caller;  // the visitor is the caller's code, not the visited plugin's
    } fwd{visit, user, &c->id(), "vitals_" + c->config().plugin + "_", {}, PluginCall::current()};
    call_plugin(
        c->identity(), "stats", c->plugin().stats, c->instance(),
        [](void *u, const char *name, const vitals_label_t *labels, uint32_t n, double value) {
          auto *f = static_cast<Forward *>(u);
          PluginCall::Resume caller(f->caller);
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

uint32_t control_tunables(vitals_host_ctx_t *ctx, const char *component_id, vitals_tunable_t *out, uint32_t cap) {
  if (!on_loop(ctx, "tunables")) return 0;
  const Component *c = component_id ? ctx_of(ctx).pipeline->find(component_id) : nullptr;
  return c ? fill_tunables(*c, out, cap) : 0;
}

std::string number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

int control_set_tunable(vitals_host_ctx_t *ctx, const char *component_id, const char *name, double value,
                        const char *reason) {
  if (!on_loop(ctx, "set_tunable")) return VITALS_INVALID;
  HostContext &hc = ctx_of(ctx);
  const Component *target = component_id ? hc.pipeline->find(component_id) : nullptr;
  if (!target || !name) return VITALS_INVALID;
  double before = 0;
  bool known = false;
  for (const vitals_tunable_t &t : list_tunables(*target)) {
    if (!t.name || std::string_view(t.name) != name) continue;
    if (!tunable_accepts(t.min, t.max, value)) return VITALS_INVALID;
    before = t.value;
    known = true;
    break;
  }
  if (!known) return VITALS_INVALID;
  if (call_plugin(target->identity(), "tunables set", target->loaded_plugin().services.tunables.set, target->instance(),
                  name, value) != VITALS_OK) {
    log_warn(hc.component->id(), "setting " + target->id() + "." + name + " failed: " + target->last_error());
    return VITALS_ERROR;
  }
  std::string why = reason && *reason ? reason : "no reason given";
  std::string from = number_text(before), to = number_text(value);
  log_info(hc.component->id(), "set " + target->id() + "." + name + " from " + from + " to " + to + ": " + why);
  vitals_label_t labels[] = {
      {"component", target->id().c_str()}, {"tunable", name}, {"from", from.c_str()}, {"to", to.c_str()}};
  vitals_event_t event{};
  event.ts_ns = wall_clock_ns();
  event.severity = VITALS_SEVERITY_INFO;
  event.source = hc.component->id().c_str();
  event.message = why.c_str();
  event.labels = labels;
  event.n_labels = 4;
  vitals_batch_t batch{};
  batch.n_events = 1;
  batch.events = &event;
  hc.pipeline->emit(*hc.component, &batch, nullptr, nullptr);
  return VITALS_OK;
}

}  // namespace

const vitals_control_service_t &control_service() {
  static const vitals_control_service_t table = [] {
    vitals_control_service_t t{};
    t.struct_size = sizeof t;
    t.version = VITALS_SERVICE_CONTROL_VERSION;
    t.components = control_components;
    t.metrics = control_metrics;
    t.tunables = control_tunables;
    t.set_tunable = control_set_tunable;
    return t;
  }();
  return table;
}

}  // namespace vitals::core
