// `vitals`: one binary, several verbs (DESIGN.md section 8).
#include <CLI/CLI.hpp>
#include <cstdio>

#include "../agent.hpp"
#include "../paths.hpp"
#include "commands.hpp"

int main(int argc, char **argv) {
  using namespace vitals::core;
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

  CLI11_PARSE(app, argc, argv);
  options.config_dir = config_dir;
  for (const auto &d : plugin_dirs) options.plugin_dirs.emplace_back(d);

  if (*check) return cmd_check(options);
  if (*plugins) return cmd_plugins(options, describe);
  if (*test) return run_inputs_once(options);
  return run_agent(options);
}
