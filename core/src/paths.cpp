// Default locations.
#include "paths.hpp"

#include <cstdlib>

namespace vitals::core {

namespace fs = std::filesystem;

bool running_from_build_tree() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return false;
  fs::path build = fs::weakly_canonical(VITALS_BUILD_ROOT, ec);
  auto rel = exe.lexically_relative(build);
  return !rel.empty() && *rel.begin() != "..";
}

std::vector<fs::path> default_plugin_dirs() {
  std::vector<fs::path> dirs;
  if (running_from_build_tree())
    dirs.emplace_back(VITALS_BUILD_PLUGIN_DIR);
  else
    dirs.emplace_back(VITALS_INSTALLED_PLUGIN_DIR);
  if (fs::path(VITALS_INSTALLED_PLUGIN_DIR) != "/usr/local/lib/vitals/plugins")
    dirs.emplace_back("/usr/local/lib/vitals/plugins");
  return dirs;
}

fs::path default_config_dir() {
  if (const char *d = std::getenv("CONFIGURATION_DIRECTORY")) return fs::path(d) / "conf.d";  // systemd
  if (running_from_build_tree()) return fs::path(VITALS_SOURCE_ROOT) / "conf.d";
  return "/etc/vitals/conf.d";
}

fs::path default_data_dir() {
  if (const char *d = std::getenv("STATE_DIRECTORY")) return d;  // systemd StateDirectory=
  if (running_from_build_tree()) return fs::path(VITALS_BUILD_ROOT) / "data";
  return "/var/lib/vitals";
}

}  // namespace vitals::core
