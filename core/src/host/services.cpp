// Services by name. Each host-side table is one static table of functions
// that find their instance through ctx, so get_service() is a lookup; each
// plugin-side table is checked once at load and copied like the descriptor.
#include "services.hpp"

#include <cstddef>
#include <cstring>
#include <string_view>

#include "control_host.hpp"
#include "http_host.hpp"
#include "storage_host.hpp"
#include "ws_host.hpp"

namespace vitals::core {

namespace {

struct HostService {
  std::string_view name;
  const void *(*table)();
  uint32_t version;
};

const HostService kHostServices[] = {
    {VITALS_SERVICE_HTTP, [] { return static_cast<const void *>(&http_service()); }, VITALS_SERVICE_HTTP_VERSION},
    {VITALS_SERVICE_WS, [] { return static_cast<const void *>(&ws_service()); }, VITALS_SERVICE_WS_VERSION},
    {VITALS_SERVICE_CONTROL, [] { return static_cast<const void *>(&control_service()); },
     VITALS_SERVICE_CONTROL_VERSION},
    {VITALS_SERVICE_STORAGE, [] { return static_cast<const void *>(&storage_host_service()); },
     VITALS_SERVICE_STORAGE_VERSION},
};

// Services a plugin may provide: the oldest version the host can use and
// the smallest table that version has.
struct PluginService {
  std::string_view name;
  uint32_t min_version;
  size_t min_size;
};

const PluginService kPluginServices[] = {
    {VITALS_SERVICE_STORAGE, 1, offsetof(vitals_storage_service_t, reserved)},
    {VITALS_SERVICE_TUNABLES, 1, offsetof(vitals_tunables_service_t, reserved)},
};

// Every plugin-side table starts with these two fields.
struct TableHead {
  uint32_t struct_size;
  uint32_t version;
};

const HostService *host_service(std::string_view name) {
  for (const auto &s : kHostServices)
    if (s.name == name) return &s;
  return nullptr;
}

const PluginService *plugin_service(std::string_view name) {
  for (const auto &s : kPluginServices)
    if (s.name == name) return &s;
  return nullptr;
}

const vitals_service_ref_t *provided(const vitals_plugin_t &d, std::string_view name) {
  for (uint32_t i = 0; i < d.n_provided_services; ++i)
    if (d.provided_services[i].name && d.provided_services[i].name == name) return &d.provided_services[i];
  return nullptr;
}

template <class Table>
void copy_table(const vitals_service_ref_t &ref, Table &out) {
  const auto *head = static_cast<const TableHead *>(ref.table);
  std::memcpy(&out, ref.table, head->struct_size < sizeof out ? head->struct_size : sizeof out);
}

}  // namespace

const void *find_host_service(const std::string &name, uint32_t min_version) {
  const HostService *s = host_service(name);
  if (!s || s->version < min_version) return nullptr;
  return s->table();
}

std::string check_services(const vitals_plugin_t &d) {
  if (d.n_required_services && !d.required_services) return "required_services is NULL";
  for (uint32_t i = 0; i < d.n_required_services; ++i) {
    const vitals_service_ref_t &r = d.required_services[i];
    std::string name = r.name ? r.name : "";
    const HostService *s = host_service(name);
    if (!s) return "requires service '" + name + "', which this agent does not offer";
    if (s->version < r.version)
      return "requires service " + name + " version " + std::to_string(r.version) + ", this agent has version " +
             std::to_string(s->version);
  }
  if (d.n_provided_services && !d.provided_services) return "provided_services is NULL";
  for (uint32_t i = 0; i < d.n_provided_services; ++i) {
    const vitals_service_ref_t &r = d.provided_services[i];
    std::string name = r.name ? r.name : "";
    const PluginService *s = plugin_service(name);
    if (!s) return "provides service '" + name + "', which this agent does not use";
    if (!r.table) return "provides service " + name + " without a table";
    const auto *head = static_cast<const TableHead *>(r.table);
    if (r.version < s->min_version || head->version < s->min_version)
      return "provides service " + name + " version " + std::to_string(r.version) + ", this agent needs version " +
             std::to_string(s->min_version) + " or later";
    if (head->struct_size < s->min_size)
      return "provides service " + name + " with a table of " + std::to_string(head->struct_size) +
             " bytes, smaller than the minimum " + std::to_string(s->min_size);
  }
  const vitals_service_ref_t *storage = provided(d, VITALS_SERVICE_STORAGE);
  if (d.kind == VITALS_KIND_STORAGE && !storage) return "storage plugin does not provide " VITALS_SERVICE_STORAGE;
  if (d.kind != VITALS_KIND_STORAGE && storage) return "only a storage plugin may provide " VITALS_SERVICE_STORAGE;
  if (storage && !static_cast<const vitals_storage_service_t *>(storage->table)->query)
    return VITALS_SERVICE_STORAGE " table lacks query";
  if (const vitals_service_ref_t *t = provided(d, VITALS_SERVICE_TUNABLES)) {
    const auto *table = static_cast<const vitals_tunables_service_t *>(t->table);
    if (!table->list || !table->set) return VITALS_SERVICE_TUNABLES " table lacks list or set";
  }
  return {};
}

ProvidedServices adopt_provided_services(const vitals_plugin_t &d) {
  ProvidedServices out;
  if (const vitals_service_ref_t *s = provided(d, VITALS_SERVICE_STORAGE)) {
    out.has_storage = true;
    copy_table(*s, out.storage);
  }
  if (const vitals_service_ref_t *t = provided(d, VITALS_SERVICE_TUNABLES)) {
    out.has_tunables = true;
    copy_table(*t, out.tunables);
  }
  return out;
}

}  // namespace vitals::core
