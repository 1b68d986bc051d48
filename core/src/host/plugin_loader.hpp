// Finds plugin shared objects (vitals-<name>.so) in the plugin directories,
// loads them with Boost.DLL and checks their ABI before anything is called.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/diagnostics.hpp"
#include "services.hpp"
#include "vitals/plugin.h"

namespace boost::dll {
class shared_library;
}

namespace vitals::core {

struct LoadedPlugin {
  std::string name;
  std::filesystem::path path;
  // The plugin's descriptor copied into a zeroed struct of the host's size, so
  // that fields an older plugin does not know read as NULL.
  vitals_plugin_t descriptor{};
  // The tables of the services it provides, copied the same way.
  ProvidedServices services;
  // Keeps the code mapped while any instance or descriptor copy lives.
  std::shared_ptr<boost::dll::shared_library> library;
  // Set on the stand-in of an isolated component (isolate/isolated_plugin.hpp):
  // the plugin it runs in a child process.
  std::shared_ptr<LoadedPlugin> isolated;
};

// Checks a descriptor against the host ABI; returns an empty string if it is
// acceptable, else the reason (without the file name).
std::string check_descriptor(const vitals_plugin_t *d);

// Loads one file; on refusal returns nullptr and sets `error` to one line
// naming the file and, for version problems, both ABIs.
std::shared_ptr<LoadedPlugin> load_plugin_file(const std::filesystem::path &path, std::string &error);

// Why a plugin directory or file may not be loaded (world-writable, owned by
// someone other than root or us); empty when it is fine.
std::string check_plugin_path_permissions(const std::filesystem::path &path);

class PluginCatalog {
 public:
  // Scans dirs in order; a later dir overrides an earlier one by name (logged).
  // Missing dirs are skipped silently; unsafe ones are refused with a warning.
  void scan(const std::vector<std::filesystem::path> &dirs);
  // Loads (once) and returns the plugin named `name`; nullptr + error if it is
  // not installed or is refused.
  std::shared_ptr<LoadedPlugin> load(const std::string &name, std::string &error);
  // Registers a plugin that is already in memory (linked into the binary or a
  // test); it takes precedence over files of the same name.
  void add(std::shared_ptr<LoadedPlugin> plugin);
  std::vector<std::string> names() const;
  std::optional<std::filesystem::path> path_of(const std::string &name) const;
  const std::vector<std::string> &warnings() const { return warnings_; }
  const std::vector<std::filesystem::path> &dirs() const { return dirs_; }

 private:
  std::vector<std::filesystem::path> dirs_;
  std::map<std::string, std::filesystem::path> files_;
  std::map<std::string, std::shared_ptr<LoadedPlugin>> loaded_;
  std::vector<std::string> warnings_;
};

}  // namespace vitals::core
