// `vitals`: one binary, several verbs (docs/architecture.md, section 8).
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <string_view>

#include "agent.hpp"
#include "commands.hpp"
#include "host/fatal_signal.hpp"
#include "isolate/child.hpp"
#include "paths.hpp"

int main(int argc, char **argv) {
  using namespace vitals::core;
  // First: a plugin that faults, even while it loads, is named on stderr.
  install_fatal_signal_handler();
  // Isolated plugins' processes are reaped with waitpid: a SIGCHLD ignored by
  // whoever started the agent would have the kernel reap them instead.
  ::signal(SIGCHLD, SIG_DFL);
  // The agent re-executes this binary to run an isolated plugin (isolate/).
  if (argc >= 2 && std::string_view(argv[1]) == kIsolatedChildVerb) run_isolated_child(kIsolatedChildFd);
  CLI::App app{"Vitals: a plugin-based telemetry agent", "vitals"};
  app.set_version_flag("--version", std::string("vitals ") + VITALS_VERSION + " (plugin ABI " +
                                        std::to_string(VITALS_ABI_MAJOR) + "." + std::to_string(VITALS_ABI_MINOR) +
                                        ")");
  app.require_subcommand(0, 1);

  AgentOptions options;
  std::string config_dir = default_config_dir().string();
  std::vector<std::string> plugin_dirs;
  auto add_common = [&](CLI::App *cmd) {
    // The last occurrence wins, so wrappers can append overrides.
    cmd->add_option("--config-dir", config_dir, "Directory of *.toml pipeline files")
        ->capture_default_str()
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    cmd->add_option("--plugin-dir", plugin_dirs, "Extra plugin directory, searched last (repeatable)");
    cmd->add_option("--data-dir", options.data_dir, "Data directory (overrides [agent] data_dir)")
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    cmd->add_option("--log-level", options.log_level, "error, warn, info or debug")
        ->check(CLI::IsMember({"error", "warn", "info", "debug"}));
  };
  add_common(&app);

  auto *run = app.add_subcommand("run", "Run the agent (the default)");
  add_common(run);
  auto *check = app.add_subcommand("check", "Validate conf.d; print every error with file:line");
  add_common(check);
  auto *plugins = app.add_subcommand("plugins", "List installed plugins");
  add_common(plugins);
  std::string describe;
  plugins->add_option("--describe", describe, "Print one plugin's config schema and sample");
  auto *test = app.add_subcommand("test", "Collect every input once and print the samples");
  add_common(test);

  QueryOptions query;
  auto *query_cmd = app.add_subcommand("query", "Print history of the series matching a selector");
  add_common(query_cmd);
  query_cmd->add_option("selector", query.selector, "Series selector, e.g. 'cpu_usage{cpu=\"total\"}'")->required();
  query_cmd->add_option("--since", query.since, "How far back, e.g. 15m, 1h, 7d")->capture_default_str();
  query_cmd->add_option("--from", query.from, "Start (RFC 3339, epoch, or -1h); overrides --since");
  query_cmd->add_option("--to", query.to, "End (RFC 3339, epoch, now, or -5m)")->capture_default_str();
  query_cmd->add_option("--points", query.points, "At most this many points per series")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  query_cmd->add_option("--method", query.method, "lttb, minmax, avg or raw")
      ->capture_default_str()
      ->check(CLI::IsMember({"lttb", "minmax", "avg", "raw"}));
  query_cmd->add_option("--format", query.format, "table, json or csv")
      ->capture_default_str()
      ->check(CLI::IsMember({"table", "json", "csv"}));
  query_cmd->add_flag("--latest", query.latest, "Only the latest value of each series");
  query_cmd->add_option("--db", query.db, "Read this SQLite file instead of asking the running agent");
  query_cmd->add_option("--agent", query.address, "host:port of the agent (default: [agent.http] listen)");
  query_cmd->add_option("--token-file", query.token_file, "Bearer token file (default: [agent.http] token_file)");

  std::string backup_db, backup_to;
  auto *backup = app.add_subcommand("backup", "Copy the database consistently, even while the agent runs");
  add_common(backup);
  backup->add_option("--to", backup_to, "Destination file")->required();
  backup->add_option("--db", backup_db, "Database to copy (default: the sqlite storage in conf.d)");

  CLI11_PARSE(app, argc, argv);
  options.config_dir = config_dir;
  for (const auto &d : plugin_dirs) options.plugin_dirs.emplace_back(d);

  if (*check) return cmd_check(options);
  if (*plugins) return cmd_plugins(options, describe);
  if (*test) return run_inputs_once(options);
  if (*query_cmd) return cmd_query(options, query);
  if (*backup) return cmd_backup(options, backup_db, backup_to);
  return run_agent(options);
}
