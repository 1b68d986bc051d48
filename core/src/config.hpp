// The pipeline configuration: conf.d/*.toml read in lexical order and merged
// into one [agent] table plus components [kind.id]. Checks everything the
// core owns (structure, host keys, ids); plugin keys are checked against each
// plugin's schema in config_check.cpp.
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "diagnostics.hpp"
#include "vitals/plugin.h"

namespace vitals::core {

enum class Overflow { block, drop_oldest, drop_newest };

const char *kind_name(vitals_kind_t kind);  // "input", "processor", ...
std::optional<vitals_kind_t> parse_kind(std::string_view text);
const char *overflow_name(Overflow o);

struct QueueConfig {
  uint64_t capacity_samples = 100'000;
  Overflow overflow = Overflow::block;
  bool operator==(const QueueConfig &) const = default;
};

struct HttpConfig {
  std::string listen = "127.0.0.1:8470";
  std::string token_file;
  uint32_t max_connections = 256;
  uint32_t max_streams = 256;  // event streams and WebSockets, apart from max_connections
  uint64_t max_body_bytes = 16 * 1024 * 1024;
  uint64_t max_output_buffer = 1024 * 1024;          // unsent answer bytes per connection before reading pauses
  uint64_t max_bodies_in_flight = 64 * 1024 * 1024;  // request body bytes over all connections
  int64_t idle_timeout_ns = 60'000'000'000;
  uint64_t min_body_rate = 500;  // bytes per second
  int64_t slow_request_ns = 1'000'000'000;
  int64_t response_timeout_ns = 60'000'000'000;
  std::vector<std::string> allowed_hosts;  // Host names served besides local names and IP literals
  bool enabled = true;
};

struct AgentConfig {
  std::string data_dir;  // empty: the default chosen by the CLI
  std::vector<std::string> plugin_dirs;
  std::string log_level;  // empty: keep the CLI's
  int64_t shutdown_timeout_ns = 10'000'000'000;
  int64_t interval_ns = 10'000'000'000;  // default for inputs without `interval`
  uint64_t max_series = 1'000'000;
  HttpConfig http;
  std::string file;  // where [agent] was first declared, for messages
  uint32_t line = 0;
  // file:line of each key: [agent] may be split across files, but a key is
  // set only once.
  std::map<std::string, std::string> key_origins;
};

struct ComponentConfig {
  vitals_kind_t kind = VITALS_KIND_INPUT;
  std::string id;
  std::string plugin;
  std::vector<std::string> inputs;  // ids or globs, as written
  uint32_t inputs_line = 0;
  std::string match;        // selector text; empty: everything
  int64_t interval_ns = 0;  // 0: the agent default
  QueueConfig queue;
  bool enabled = true;
  std::string file;
  uint32_t line = 0;
  // The component's whole table, inside the parsed file it came from (kept
  // alive here: copying a toml::table would lose the line numbers).
  std::shared_ptr<const toml::table> document;
  const toml::table *table = nullptr;
  std::string plugin_json;  // filled by check_plugin_configs()
  // Everything that, when changed, requires restarting the component on
  // reload (all but the wiring in `inputs`).
  std::string fingerprint;
};

struct Config {
  AgentConfig agent;
  std::vector<ComponentConfig> components;
  std::vector<std::filesystem::path> files;

  const ComponentConfig *find(std::string_view id) const;
};

// Keys every component understands; the host handles them, not the plugin.
inline constexpr std::string_view kHostKeys[] = {"plugin", "inputs", "match", "interval", "queue", "enabled"};

// Reads every *.toml in dir (not recursing: conf.d/available/ is not read).
Config load_config_dir(const std::filesystem::path &dir, Diagnostics &diags);
// Reads one file's components and agent settings into config.
void load_config_file(const std::filesystem::path &file, Config &config, Diagnostics &diags);
// Parses text as if it were the file `name` (for tests).
void load_config_text(std::string_view text, const std::string &name, Config &config, Diagnostics &diags);

}  // namespace vitals::core
