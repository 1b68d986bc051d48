// The whole validation of a config: structure (config.cpp), each component's
// keys against its plugin's schema, and the graph. What `vitals check`, start
// up and SIGHUP reload all run.
#pragma once

#include <filesystem>
#include <map>
#include <memory>

#include "config.hpp"
#include "diagnostics.hpp"
#include "engine/graph.hpp"
#include "host/plugin_loader.hpp"

namespace vitals::core {

struct CheckedConfig {
  Config config;
  Graph graph;
  std::map<std::string, std::shared_ptr<LoadedPlugin>> plugins;  // by plugin name
};

// Loads each component's plugin and applies its schema; fills plugin_json.
void check_plugin_configs(Config &config, PluginCatalog &catalog,
                          std::map<std::string, std::shared_ptr<LoadedPlugin>> &plugins, Diagnostics &diags);

// Refuses an input with ack = "committed" from which no enabled storage is
// reachable (every request would be acknowledged, nothing kept).
void check_committed_acks_reach_storage(const Config &config, const Graph &graph, Diagnostics &diags);

// Everything at once. The result is usable only if diags has no errors.
CheckedConfig check_config_dir(const std::filesystem::path &dir, PluginCatalog &catalog, Diagnostics &diags);
// The same for an already-parsed config (tests, reload).
CheckedConfig check_config(Config config, PluginCatalog &catalog, Diagnostics &diags);

}  // namespace vitals::core
