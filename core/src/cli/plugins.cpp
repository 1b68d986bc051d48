// `vitals plugins [--describe NAME]`: what is installed, and one plugin's
// schema generated from the plugin itself (so docs cannot drift from code).
#include <cstdio>
#include <string>

#include "commands.hpp"
#include "config/config.hpp"
#include "vitals/config_schema.hpp"

namespace vitals::core {

namespace {

int describe_plugin(PluginCatalog &catalog, const std::string &name) {
  std::string error;
  auto plugin = catalog.load(name, error);
  if (!plugin) {
    std::fprintf(stderr, "vitals: %s\n", error.c_str());
    return 1;
  }
  const vitals_plugin_t &d = plugin->descriptor;
  std::printf("%s %s (%s plugin, ABI %u.%u)\n%s\n%s\n\n", d.name, d.version ? d.version : "?",
              kind_name(static_cast<vitals_kind_t>(d.kind)), d.abi_major, d.abi_minor,
              d.description ? d.description : "", plugin->path.c_str());
  auto services = [](const char *what, const vitals_service_ref_t *refs, uint32_t n) {
    if (n == 0) return;
    std::printf("%s:", what);
    for (uint32_t i = 0; i < n; ++i) std::printf("%s %s %u", i ? "," : "", refs[i].name, refs[i].version);
    std::printf("\n");
  };
  services("Requires", d.required_services, d.n_required_services);
  services("Provides", d.provided_services, d.n_provided_services);
  if (d.n_required_services || d.n_provided_services) std::printf("\n");
  std::printf("Keys every component understands: plugin, inputs, match, interval (inputs), queue, enabled.\n\n");
  if (d.n_config_fields == 0) {
    std::printf("This plugin has no options of its own.\n");
  } else {
    std::printf("%-20s %-16s %-10s %-16s %-16s %s\n", "KEY", "TYPE", "REQUIRED", "DEFAULT", "ACCEPTS", "DESCRIPTION");
    for (uint32_t i = 0; i < d.n_config_fields; ++i) {
      const vitals_config_field_t &f = d.config_fields[i];
      std::string limits = config_limits_text(f);
      std::printf("%-20s %-16s %-10s %-16s %-16s %s\n", f.key, config_type_name(f.type), f.required ? "yes" : "no",
                  f.default_value ? f.default_value : "-", limits.empty() ? "-" : limits.c_str(),
                  f.description ? f.description : "");
    }
  }
  if (d.sample_config) std::printf("\nSample:\n%s", d.sample_config);
  return 0;
}

}  // namespace

int cmd_plugins(const AgentOptions &options, const std::string &describe) {
  Diagnostics diags;
  Config config = load_config_dir(options.config_dir, diags);  // only for [agent] plugin_dirs
  PluginCatalog catalog;
  catalog.scan(plugin_search_dirs(options, config.agent));
  for (const auto &w : catalog.warnings()) std::fprintf(stderr, "vitals: %s\n", w.c_str());
  if (!describe.empty()) return describe_plugin(catalog, describe);
  std::printf("%-20s %-10s %-10s %-6s %s\n", "NAME", "KIND", "VERSION", "ABI", "PATH");
  int refused = 0;
  for (const auto &name : catalog.names()) {
    std::string error;
    auto plugin = catalog.load(name, error);
    if (!plugin) {
      std::fprintf(stderr, "vitals: %s\n", error.c_str());
      ++refused;
      continue;
    }
    const vitals_plugin_t &d = plugin->descriptor;
    std::printf("%-20s %-10s %-10s %u.%-4u %s\n", d.name, kind_name(static_cast<vitals_kind_t>(d.kind)),
                d.version ? d.version : "?", d.abi_major, d.abi_minor, plugin->path.c_str());
  }
  return refused ? 1 : 0;
}

}  // namespace vitals::core
