// The daemon (`vitals run`) and the set-up the other CLI verbs share:
// locating config, plugins and data, and checking a config.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "config/config_check.hpp"
#include "config/diagnostics.hpp"
#include "host/plugin_loader.hpp"

namespace vitals::core {

struct AgentOptions {
  std::filesystem::path config_dir;
  std::vector<std::filesystem::path> plugin_dirs;  // --plugin-dir, searched last
  std::string data_dir;                            // --data-dir; empty: config or default
  std::string log_level;                           // --log-level; empty: config or info
};

// Reads conf.d, scans the plugin dirs it and the options name, and checks
// everything. The catalog is filled for later use.
CheckedConfig load_and_check(const AgentOptions &options, PluginCatalog &catalog, Diagnostics &diags);
// The plugin dirs in search order for this config and these options.
std::vector<std::filesystem::path> plugin_search_dirs(const AgentOptions &options, const AgentConfig &agent);
// The data dir in effect, created if missing; empty + error on failure.
std::filesystem::path resolve_data_dir(const AgentOptions &options, const AgentConfig &agent, std::string &error);
void print_diagnostics(const Diagnostics &diags);

// Runs the agent until SIGTERM/SIGINT; returns the process exit code.
int run_agent(const AgentOptions &options);
// Collects every input once and prints the samples; non-zero if any failed.
int run_inputs_once(const AgentOptions &options);

}  // namespace vitals::core
