// Plugin discovery and ABI checks. A refusal is always one line naming the
// file, so an operator can act on it without reading code.
#include "plugin_loader.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <boost/dll/shared_library.hpp>
#include <cstring>

#include "config/config.hpp"
#include "log.hpp"
#include "plugin_call.hpp"

namespace vitals::core {

namespace fs = std::filesystem;

namespace {

std::string abi_text(uint32_t major, uint32_t minor) { return std::to_string(major) + "." + std::to_string(minor); }

const char *required_callbacks(const vitals_plugin_t *d) {
  if (!d->create || !d->destroy) return "create and destroy";
  switch (d->kind) {
    case VITALS_KIND_INPUT:
      if (!d->collect && !d->start) return "collect or start";
      break;
    case VITALS_KIND_PROCESSOR:
    case VITALS_KIND_OUTPUT:
      if (!d->consume) return "consume";
      break;
    case VITALS_KIND_STORAGE:
      if (!d->consume) return "consume";
      break;
    case VITALS_KIND_OPTIMIZER:
      if (!d->collect) return "collect";
      break;
  }
  return nullptr;
}

}  // namespace

std::string check_descriptor(const vitals_plugin_t *d) {
  std::string abis = "plugin ABI " + abi_text(d->abi_major, d->abi_minor) + ", host ABI " +
                     abi_text(VITALS_ABI_MAJOR, VITALS_ABI_MINOR);
  if (d->abi_major < VITALS_ABI_MAJOR)
    return abis + ": built for ABI " + std::to_string(d->abi_major) + ".x, rebuild against vitals-sdk " +
           std::to_string(VITALS_ABI_MAJOR) + ".x";
  if (d->abi_major > VITALS_ABI_MAJOR)
    return abis + ": built for ABI " + std::to_string(d->abi_major) + ".x, newer than this agent: upgrade the agent";
  if (d->abi_minor > VITALS_ABI_MINOR) return abis + ": plugin is newer than the host";
  if (d->struct_size < VITALS_PLUGIN_MIN_SIZE)
    return abis + ": descriptor size " + std::to_string(d->struct_size) + " is smaller than the minimum " +
           std::to_string(VITALS_PLUGIN_MIN_SIZE);
  if (d->struct_size > sizeof(vitals_plugin_t))
    return abis + ": descriptor size " + std::to_string(d->struct_size) + " is larger than the host's " +
           std::to_string(sizeof(vitals_plugin_t));
  if (d->kind < VITALS_KIND_INPUT || d->kind > VITALS_KIND_OPTIMIZER)
    return "unknown plugin kind " + std::to_string(d->kind);
  if (!d->name || !*d->name) return "descriptor has no name";
  if (const char *missing = required_callbacks(d))
    return std::string(kind_name(static_cast<vitals_kind_t>(d->kind))) +
           " plugin lacks required callback(s): " + missing;
  // Read through a copy of the host's size: fields past an older plugin's
  // struct_size are zero.
  vitals_plugin_t full{};
  std::memcpy(&full, d, d->struct_size);
  if (std::string why = check_services(full); !why.empty()) return abis + ": " + why;
  return {};
}

std::string check_plugin_path_permissions(const fs::path &path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "cannot stat: " + std::string(std::strerror(errno));
  if (st.st_mode & S_IWOTH) return "is world-writable";
  if (st.st_uid != 0 && st.st_uid != ::geteuid())
    return "is owned by uid " + std::to_string(st.st_uid) + ", neither root nor the running user";
  return {};
}

std::shared_ptr<LoadedPlugin> load_plugin_file(const fs::path &path, std::string &error) {
  if (std::string why = check_plugin_path_permissions(path); !why.empty()) {
    error = "refusing " + path.string() + ": " + why;
    return nullptr;
  }
  // Loading runs the plugin's code too: its static initialisers, then its
  // vitals_plugin(). No instance, no name yet: the file names it.
  const PluginIdentity loading{nullptr, nullptr, path.c_str()};
  auto lib = std::make_shared<boost::dll::shared_library>();
  try {
    PluginCall call(loading, "load (static initialisers)");
    lib->load(path, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  } catch (const std::exception &e) {
    error = "refusing " + path.string() + ": cannot load: " + e.what();
    return nullptr;
  }
  if (!lib->has(VITALS_PLUGIN_SYMBOL)) {
    error = "refusing " + path.string() + ": no '" VITALS_PLUGIN_SYMBOL "' symbol (not a Vitals plugin)";
    return nullptr;
  }
  auto entry = lib->get<const vitals_plugin_t *()>(VITALS_PLUGIN_SYMBOL);
  const vitals_plugin_t *d = call_plugin(loading, VITALS_PLUGIN_SYMBOL "()", entry);
  if (!d) {
    error = "refusing " + path.string() + ": " VITALS_PLUGIN_SYMBOL "() returned NULL";
    return nullptr;
  }
  // Read the fixed head first: struct_size tells how much more is safe to read.
  if (std::string why = check_descriptor(d); !why.empty()) {
    error = "refusing " + path.string() + ": " + why;
    return nullptr;
  }
  auto plugin = std::make_shared<LoadedPlugin>();
  std::memcpy(&plugin->descriptor, d, d->struct_size);
  plugin->services = adopt_provided_services(plugin->descriptor);
  plugin->name = d->name;
  plugin->path = path;
  plugin->library = std::move(lib);
  std::string expected = "vitals-" + plugin->name + ".so";
  if (path.filename() != expected) {
    error = "refusing " + path.string() + ": the plugin calls itself '" + plugin->name + "', so its file must be " +
            expected;
    return nullptr;
  }
  return plugin;
}

void PluginCatalog::scan(const std::vector<fs::path> &dirs) {
  for (const auto &dir : dirs) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;
    dirs_.push_back(dir);
    if (std::string why = check_plugin_path_permissions(dir); !why.empty()) {
      warnings_.push_back("refusing plugin directory " + dir.string() + ": " + why);
      continue;
    }
    // The build tree keeps each plugin in its own folder; installed dirs are flat.
    auto consider = [&](const fs::path &p) {
      std::string file = p.filename().string();
      if (file.rfind("vitals-", 0) != 0 || p.extension() != ".so") return;
      std::string name = file.substr(7, file.size() - 10);
      if (auto it = files_.find(name); it != files_.end() && it->second != p)
        log_info("loader", "plugin '" + name + "' in " + p.string() + " overrides " + it->second.string());
      files_[name] = p;
    };
    if (fs::exists(dir / ".vitals-build-tree", ec)) {
      for (const auto &e : fs::recursive_directory_iterator(dir, ec))
        if (e.is_regular_file()) consider(e.path());
    } else {
      for (const auto &e : fs::directory_iterator(dir, ec))
        if (e.is_regular_file()) consider(e.path());
    }
  }
}

std::shared_ptr<LoadedPlugin> PluginCatalog::load(const std::string &name, std::string &error) {
  if (auto it = loaded_.find(name); it != loaded_.end()) return it->second;
  auto it = files_.find(name);
  if (it == files_.end()) {
    std::string searched;
    for (const auto &d : dirs_) searched += (searched.empty() ? "" : ", ") + d.string();
    error = "unknown plugin '" + name + "' (no vitals-" + name + ".so in " +
            (searched.empty() ? std::string("any plugin directory") : searched) + ")";
    return nullptr;
  }
  auto plugin = load_plugin_file(it->second, error);
  if (plugin) loaded_[name] = plugin;
  return plugin;
}

void PluginCatalog::add(std::shared_ptr<LoadedPlugin> plugin) {
  plugin->services = adopt_provided_services(plugin->descriptor);
  files_[plugin->name] = plugin->path;
  loaded_[plugin->name] = std::move(plugin);
}

std::vector<std::string> PluginCatalog::names() const {
  std::vector<std::string> out;
  for (const auto &[name, path] : files_) out.push_back(name);
  return out;
}

std::optional<fs::path> PluginCatalog::path_of(const std::string &name) const {
  auto it = files_.find(name);
  if (it == files_.end()) return std::nullopt;
  return it->second;
}

}  // namespace vitals::core
