// The loader against fixture plugins that each break one ABI rule: every
// refusal is one line naming the file and, for version problems, both ABIs.
#include <doctest/doctest.h>

#include <filesystem>

#include "host/plugin_loader.hpp"

using namespace vitals::core;
namespace fs = std::filesystem;

namespace {
fs::path fixture(const std::string &name) { return fs::path(ABI_FIXTURE_DIR) / ("vitals-" + name + ".so"); }

std::string refusal(const std::string &name) {
  std::string error;
  auto plugin = load_plugin_file(fixture(name), error);
  CHECK_MESSAGE(plugin == nullptr, name);
  CHECK_MESSAGE(error.find('\n') == std::string::npos, "one line: " << error);
  CHECK_MESSAGE(error.rfind("refusing " + fixture(name).string() + ": ", 0) == 0, error);
  return error;
}
}  // namespace

TEST_CASE("a valid pure-C plugin loads and its descriptor is copied whole") {
  std::string error;
  auto plugin = load_plugin_file(fixture("abi_ok"), error);
  REQUIRE_MESSAGE(plugin, error);
  CHECK(plugin->name == "abi_ok");
  CHECK(plugin->descriptor.kind == VITALS_KIND_INPUT);
  CHECK(reinterpret_cast<void *>(plugin->descriptor.collect) != nullptr);
}

const std::string host_abi = std::to_string(VITALS_ABI_MAJOR) + "." + std::to_string(VITALS_ABI_MINOR);

TEST_CASE("a plugin built for a newer major ABI is refused naming both ABIs") {
  std::string e = refusal("abi_wrong_major");
  CHECK(e.find("plugin ABI " + std::to_string(VITALS_ABI_MAJOR + 1) + "." + std::to_string(VITALS_ABI_MINOR) +
               ", host ABI " + host_abi + ": built for ABI " + std::to_string(VITALS_ABI_MAJOR + 1) +
               ".x, newer than this agent: upgrade the agent") != std::string::npos);
}

TEST_CASE("a plugin built against vitals-sdk 1.x is told to rebuild") {
  std::string e = refusal("abi_v1");
  CHECK(e.find("plugin ABI 1.3, host ABI " + host_abi + ": built for ABI 1.x, rebuild against vitals-sdk 2.x") !=
        std::string::npos);
}

TEST_CASE("a plugin built for a newer minor ABI is refused") {
  std::string e = refusal("abi_newer_minor");
  CHECK(e.find("plugin ABI 2." + std::to_string(VITALS_ABI_MINOR + 1) + ", host ABI " + host_abi +
               ": plugin is newer than the host") != std::string::npos);
}

TEST_CASE("a plugin that requires a service the host lacks is refused naming it") {
  std::string e = refusal("abi_missing_service");
  CHECK(e.find("requires service 'vitals.gpio', which this agent does not offer") != std::string::npos);
}

TEST_CASE("a plugin that requires a newer service version is refused naming both versions") {
  std::string e = refusal("abi_newer_service");
  CHECK(e.find("requires service vitals.http version " + std::to_string(VITALS_SERVICE_HTTP_VERSION + 1) +
               ", this agent has version " + std::to_string(VITALS_SERVICE_HTTP_VERSION)) != std::string::npos);
}

TEST_CASE("a plugin with an older, shorter service table loads and its table is read") {
  std::string error;
  auto plugin = load_plugin_file(fixture("abi_older_service"), error);
  REQUIRE_MESSAGE(plugin, error);
  REQUIRE(plugin->services.has_tunables);
  CHECK_FALSE(plugin->services.has_storage);
  vitals_tunable_t t[2]{};
  REQUIRE(plugin->services.tunables.list(nullptr, t, 2) == 1);
  CHECK(std::string(t[0].name) == "depth");
  CHECK(plugin->services.tunables.reserved[0] == nullptr);  // beyond its table: zero, not its memory
}

TEST_CASE("a storage that does not provide vitals.storage is refused") {
  std::string e = refusal("abi_storage_no_service");
  CHECK(e.find("storage plugin does not provide vitals.storage") != std::string::npos);
}

TEST_CASE("the host offers each service at its version, and nothing newer or unknown") {
  for (const char *name : {VITALS_SERVICE_HTTP, VITALS_SERVICE_WS, VITALS_SERVICE_CONTROL, VITALS_SERVICE_STORAGE}) {
    const auto *head = static_cast<const uint32_t *>(find_host_service(name, 1));
    REQUIRE_MESSAGE(head, name);
    CHECK(head[1] == 1);  // version
    CHECK(find_host_service(name, 2) == nullptr);
  }
  CHECK(find_host_service("vitals.gpio", 1) == nullptr);
  CHECK(find_host_service(VITALS_SERVICE_TUNABLES, 1) == nullptr);  // plugins provide it, the host does not
}

TEST_CASE("a descriptor shorter than the 2.0 minimum is refused") {
  std::string e = refusal("abi_short_struct");
  CHECK(e.find("is smaller than the minimum " + std::to_string(VITALS_PLUGIN_MIN_SIZE)) != std::string::npos);
}

TEST_CASE("a descriptor longer than the host's is refused") {
  std::string e = refusal("abi_long_struct");
  CHECK(e.find("is larger than the host's " + std::to_string(sizeof(vitals_plugin_t))) != std::string::npos);
}

TEST_CASE("an input without collect or start is refused") {
  std::string e = refusal("abi_missing_callback");
  CHECK(e.find("input plugin lacks required callback(s): collect or start") != std::string::npos);
}

TEST_CASE("a shared object without the entry symbol is refused") {
  std::string e = refusal("abi_no_symbol");
  CHECK(e.find("no 'vitals_plugin' symbol (not a Vitals plugin)") != std::string::npos);
}

TEST_CASE("a file whose name does not match the plugin name is refused") {
  fs::path dir = fs::temp_directory_path() / "vitals-loader-rename";
  fs::create_directories(dir);
  fs::copy_file(fixture("abi_ok"), dir / "vitals-other.so", fs::copy_options::overwrite_existing);
  std::string error;
  CHECK(load_plugin_file(dir / "vitals-other.so", error) == nullptr);
  CHECK(error.find("calls itself 'abi_ok', so its file must be vitals-abi_ok.so") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("world-writable plugin files and directories are refused") {
  fs::path dir = fs::temp_directory_path() / "vitals-loader-perms";
  fs::create_directories(dir);
  fs::copy_file(fixture("abi_ok"), dir / "vitals-abi_ok.so", fs::copy_options::overwrite_existing);
  fs::permissions(dir / "vitals-abi_ok.so", fs::perms::others_write, fs::perm_options::add);
  std::string error;
  CHECK(load_plugin_file(dir / "vitals-abi_ok.so", error) == nullptr);
  CHECK(error.find("is world-writable") != std::string::npos);

  fs::permissions(dir / "vitals-abi_ok.so", fs::perms::others_write, fs::perm_options::remove);
  fs::permissions(dir, fs::perms::others_all, fs::perm_options::add);
  PluginCatalog catalog;
  catalog.scan({dir});
  REQUIRE(catalog.warnings().size() == 1);
  CHECK(catalog.warnings()[0].find("refusing plugin directory " + dir.string() + ": is world-writable") !=
        std::string::npos);
  CHECK(catalog.names().empty());
  fs::remove_all(dir);
}

TEST_CASE("a later plugin directory overrides an earlier one by name") {
  fs::path a = fs::temp_directory_path() / "vitals-loader-a", b = fs::temp_directory_path() / "vitals-loader-b";
  for (auto &d : {a, b}) {
    fs::create_directories(d);
    fs::copy_file(fixture("abi_ok"), d / "vitals-abi_ok.so", fs::copy_options::overwrite_existing);
  }
  PluginCatalog catalog;
  catalog.scan({a, b});
  CHECK(catalog.path_of("abi_ok") == b / "vitals-abi_ok.so");
  fs::remove_all(a);
  fs::remove_all(b);
}

TEST_CASE("exceptions thrown by a C++ plugin are trapped into error text") {
  std::string error;
  auto plugin = load_plugin_file(fixture("abi_throws"), error);
  REQUIRE_MESSAGE(plugin, error);
  const vitals_plugin_t &d = plugin->descriptor;
  vitals_host_t host{};
  char err[256] = "";
  CHECK(d.create(&host, R"({"throw_in":"create"})", err, sizeof err) == nullptr);
  CHECK(std::string(err) == "abi_throws: thrown in create, as configured");
  void *inst = d.create(&host, R"({"throw_in":"collect"})", err, sizeof err);
  REQUIRE(inst);
  CHECK(d.collect(inst, 1) == VITALS_ERROR);
  CHECK(std::string(d.last_error(inst)) == "abi_throws: thrown in collect, as configured");
  d.destroy(inst);
}
