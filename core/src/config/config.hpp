// The pipeline configuration: conf.d/*.toml read in lexical order and merged
// into one [agent] table plus components [kind.id]. Checks everything the
// core owns (structure, host keys, ids); plugin keys are checked against each
// plugin's schema in config_check.cpp.
#pragma once

#include <toml++/toml.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "diagnostics.hpp"
#include "vitals/plugin.h"
#include "vitals/settings.hpp"

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

// [agent.http]. Each key is declared once, with its default, bounds and
// description, in agent_schema.cpp (vitals/settings.hpp, as plugins declare
// theirs); these members are filled from there, never defaulted here.
struct HttpConfig {
  std::string listen;
  std::string token_file;  // empty: none
  int64_t max_connections = 0;
  int64_t max_streams = 0;  // event streams and WebSockets, apart from max_connections
  ByteSize max_body;
  ByteSize max_output_buffer;     // unsent answer bytes per connection before reading pauses
  ByteSize max_bodies_in_flight;  // request body bytes over all connections
  std::chrono::nanoseconds idle_timeout{};
  ByteSize min_body_rate;  // bytes per second
  std::chrono::nanoseconds slow_request{};
  std::chrono::nanoseconds response_timeout{};
  std::vector<std::string> allowed_hosts;  // Host names served besides local names and IP literals
  bool enabled = false;
};

// [agent], declared like [agent.http]. It may be split across files (a key is
// set only once): each file's keys are checked against the schema there, with
// that file's lines, and the values are the schema's defaults overlaid with
// every key set so far.
struct AgentConfig {
  AgentConfig();  // every key at its default

  std::string data_dir;  // empty: the default chosen by the CLI
  std::vector<std::string> plugin_dirs;
  std::string log_level;  // empty: keep the CLI's
  std::chrono::nanoseconds shutdown_timeout{};
  std::chrono::nanoseconds interval{};  // default for inputs without `interval`
  int64_t max_series = 0;
  HttpConfig http;
  std::string file;  // where [agent] was first declared, for messages
  uint32_t line = 0;
  // file:line of each key: [agent] may be split across files, but a key is
  // set only once.
  std::map<std::string, std::string> key_origins;

  // The keys set in conf.d so far, as checked JSON objects (the http table
  // apart); refresh() derives the members from them and the defaults.
  std::string set_keys = "{}", set_http_keys = "{}";
  void refresh();
};

// The schema rows of [agent] and [agent.http] (for `vitals check`, the
// README test and --describe-like listings).
std::span<const vitals_config_field_t> agent_fields();
std::span<const vitals_config_field_t> agent_http_fields();

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
  // isolate = true: the plugin runs in a child process (isolate/), killed and
  // restarted when a call outlives watchdog_ns.
  bool isolate = false;
  uint32_t isolate_line = 0;
  int64_t watchdog_ns = 10'000'000'000;
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
inline constexpr std::string_view kHostKeys[] = {"plugin", "inputs",  "match",   "interval",
                                                 "queue",  "enabled", "isolate", "watchdog"};

// Reads every *.toml in dir (not recursing: conf.d/available/ is not read).
Config load_config_dir(const std::filesystem::path &dir, Diagnostics &diags);
// Reads one file's components and agent settings into config.
void load_config_file(const std::filesystem::path &file, Config &config, Diagnostics &diags);
// Parses text as if it were the file `name` (for tests).
void load_config_text(std::string_view text, const std::string &name, Config &config, Diagnostics &diags);

}  // namespace vitals::core
