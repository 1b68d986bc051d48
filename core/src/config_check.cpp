// Applies plugin schemas to component tables; the host adds file:line.
#include "config_check.hpp"

#include <span>

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
    std::vector<ConfigError> errors;
    std::span<const vitals_config_field_t> fields(d.config_fields, d.n_config_fields);
    c.plugin_json = apply_config_schema(*c.table, fields, kHostKeys, errors);
    for (const auto &e : errors) diags.error(c.file, e.line ? e.line : c.line, e.message);
    plugins[c.plugin] = plugin;
  }
}

CheckedConfig check_config(Config config, PluginCatalog &catalog, Diagnostics &diags) {
  CheckedConfig out;
  out.config = std::move(config);
  check_plugin_configs(out.config, catalog, out.plugins, diags);
  out.graph = build_graph(out.config, diags);
  return out;
}

CheckedConfig check_config_dir(const std::filesystem::path &dir, PluginCatalog &catalog, Diagnostics &diags) {
  return check_config(load_config_dir(dir, diags), catalog, diags);
}

}  // namespace vitals::core
