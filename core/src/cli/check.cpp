// `vitals check`: every error at once, each with file:line; exit 1 if any.
#include <cstdio>

#include "commands.hpp"

namespace vitals::core {

int cmd_check(const AgentOptions &options) {
  PluginCatalog catalog;
  Diagnostics diags;
  CheckedConfig checked = load_and_check(options, catalog, diags);
  print_diagnostics(diags);
  if (diags.has_errors()) {
    std::fprintf(stderr, "%zu error(s) in %s\n", diags.error_count(), options.config_dir.c_str());
    return 1;
  }
  size_t enabled = 0;
  for (const auto &c : checked.config.components) enabled += c.enabled;
  std::printf("%s: OK (%zu files, %zu components enabled)\n", options.config_dir.c_str(), checked.config.files.size(),
              enabled);
  return 0;
}

}  // namespace vitals::core
