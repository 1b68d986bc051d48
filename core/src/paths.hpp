// Where the agent looks for plugins, config and data by default, including
// the "running from the source tree" case where the build's own plugins are
// used without any flag.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace vitals::core {

// True when this binary is the one in the build tree it was compiled in.
bool running_from_build_tree();
// Build dir plugins (from the source tree) or <libdir>/vitals/plugins, then
// /usr/local/lib/vitals/plugins; config and CLI dirs are appended later.
std::vector<std::filesystem::path> default_plugin_dirs();
std::filesystem::path default_config_dir();
std::filesystem::path default_data_dir();

}  // namespace vitals::core
