// Applies plugin schemas to component tables; the host adds file:line.
#include "config_check.hpp"

#include <cjson/cJSON.h>

#include <set>
#include <span>

#include "isolate/isolated_plugin.hpp"
#include "vitals/config_schema.hpp"

namespace vitals::core {

void check_plugin_configs(Config &config, PluginCatalog &catalog,
                          std::map<std::string, std::shared_ptr<LoadedPlugin>> &plugins, Diagnostics &diags) {
  for (auto &c : config.components) {
    std::string error;
    auto plugin = catalog.load(c.plugin, error);
    if (!plugin) {
      if (c.enabled) diags.error(c.file, c.line, "[" + std::string(kind_name(c.kind)) + "." + c.id + "]: " + error);
      continue;
    }
    const vitals_plugin_t &d = plugin->descriptor;
    if (d.kind != static_cast<uint32_t>(c.kind)) {
      diags.error(c.file, c.line,
                  "plugin '" + c.plugin + "' is a " + kind_name(static_cast<vitals_kind_t>(d.kind)) + ", not a " +
                      kind_name(c.kind) + ": declare it as [" + kind_name(static_cast<vitals_kind_t>(d.kind)) + "." +
                      c.id + "]");
      continue;
    }
    if (c.isolate)
      if (std::string why = why_not_isolatable(d); !why.empty())
        diags.error(c.file, c.isolate_line, "[" + std::string(kind_name(c.kind)) + "." + c.id + "]: 'isolate': " + why);
    std::vector<ConfigError> errors;
    std::span<const vitals_config_field_t> fields(d.config_fields, d.n_config_fields);
    c.plugin_json = apply_config_schema(*c.table, fields, kHostKeys, errors);
    for (const auto &e : errors) diags.error(c.file, e.line ? e.line : c.line, e.message);
    plugins[c.plugin] = plugin;
  }
}

namespace {

// The input's checked `ack` setting, if its plugin declares one.
std::string ack_mode(const ComponentConfig &c) {
  cJSON *json = cJSON_Parse(c.plugin_json.c_str());
  if (!json) return {};
  const cJSON *ack = cJSON_GetObjectItemCaseSensitive(json, "ack");
  std::string mode = cJSON_IsString(ack) ? ack->valuestring : "";
  cJSON_Delete(json);
  return mode;
}

bool reaches_storage(const Config &config, const Graph &graph, const std::string &from) {
  std::set<std::string> seen{from};
  std::vector<std::string> frontier{from};
  while (!frontier.empty()) {
    std::string id = frontier.back();
    frontier.pop_back();
    auto it = graph.downstream.find(id);
    if (it == graph.downstream.end()) continue;
    for (const auto &next : it->second) {
      if (!seen.insert(next).second) continue;
      const ComponentConfig *c = config.find(next);
      if (c && c->enabled && c->kind == VITALS_KIND_STORAGE) return true;
      frontier.push_back(next);
    }
  }
  return false;
}

}  // namespace

// An input that promises "2xx only once committed" (ack = "committed", as
// http_telemetry declares it) with no storage behind it would answer every
// request with success and keep nothing.
void check_committed_acks_reach_storage(const Config &config, const Graph &graph, Diagnostics &diags) {
  for (const auto &c : config.components) {
    if (!c.enabled || c.kind != VITALS_KIND_INPUT || ack_mode(c) != "committed") continue;
    if (reaches_storage(config, graph, c.id)) continue;
    diags.error(c.file, c.line,
                "[input." + c.id +
                    "]: ack = \"committed\" but no enabled storage receives its data, so every request would be "
                    "acknowledged with nothing stored; add a storage with inputs = [\"" +
                    c.id + "\"] (or through a processor), enable it, or set ack = \"accepted\"");
  }
}

CheckedConfig check_config(Config config, PluginCatalog &catalog, Diagnostics &diags) {
  CheckedConfig out;
  out.config = std::move(config);
  check_plugin_configs(out.config, catalog, out.plugins, diags);
  out.graph = build_graph(out.config, diags);
  check_committed_acks_reach_storage(out.config, out.graph, diags);
  return out;
}

CheckedConfig check_config_dir(const std::filesystem::path &dir, PluginCatalog &catalog, Diagnostics &diags) {
  return check_config(load_config_dir(dir, diags), catalog, diags);
}

}  // namespace vitals::core
