// TOML configs (core/src/config.cpp load_config_text) and their whole check
// (config_check.cpp: every component's keys against its plugin's schema, the
// graph, acknowledgement reachability), as `vitals check` runs them. The
// catalog holds one in-process plugin per kind whose schema has a key of each
// type; the input is the text of one conf.d file. Inputs holding the marker
// line "#%%" are split there into several files (duplicate ids, cross-file
// wiring).
#include "config/config.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "config/config_check.hpp"
#include "host/plugin_loader.hpp"
#include "vitals/plugin.hpp"

namespace {

// Every field type, a required key and the `ack` key check_committed_acks_reach_storage reads.
constexpr vitals_config_field_t kFields[] = {
    vitals::config_field("name", VITALS_CONFIG_STRING, 0, "\"x\"", "a string"),
    vitals::config_field("count", VITALS_CONFIG_INT, 0, "3", "an integer"),
    vitals::config_field("ratio", VITALS_CONFIG_FLOAT, 0, "0.5", "a float"),
    vitals::config_field("flag", VITALS_CONFIG_BOOL, 0, "false", "a boolean"),
    vitals::config_field("period", VITALS_CONFIG_DURATION, 0, "\"1s\"", "a duration"),
    vitals::config_field("size", VITALS_CONFIG_SIZE, 0, "\"64KB\"", "a size"),
    vitals::config_field("list", VITALS_CONFIG_STRING_ARRAY, 0, nullptr, "strings"),
    vitals::config_field("extra", VITALS_CONFIG_ANY, 0, nullptr, "anything"),
    vitals::config_field("ack", VITALS_CONFIG_STRING, 0, "\"accepted\"", "accepted or committed"),
};
constexpr vitals_config_field_t kRequired[] = {
    vitals::config_field("path", VITALS_CONFIG_STRING, 1, nullptr, "required"),
};

class FuzzInput final : public vitals::PushInput {
 public:
  static constexpr auto &config_fields = kFields;
  FuzzInput(vitals::Host host, const vitals::Config &) : PushInput(host) {}
};
class FuzzProcessor final : public vitals::Processor {
 public:
  static constexpr auto &config_fields = kFields;
  FuzzProcessor(vitals::Host host, const vitals::Config &) : Processor(host) {}
  vitals::Status consume(const vitals::BatchView &, vitals_ack_t *) override { return vitals::Status::ok; }
};
class FuzzStorage final : public vitals::Storage {
 public:
  static constexpr auto &config_fields = kRequired;
  FuzzStorage(vitals::Host host, const vitals::Config &) : Storage(host) {}
  vitals::Status consume(const vitals::BatchView &, vitals_ack_t *) override { return vitals::Status::ok; }
  void query(const std::string &, vitals::Reply) override {}
};
class FuzzOutput final : public vitals::Output {
 public:
  FuzzOutput(vitals::Host host, const vitals::Config &) : Output(host) {}
  vitals::Status consume(const vitals::BatchView &, vitals_ack_t *) override { return vitals::Status::ok; }
};

template <typename T>
std::shared_ptr<vitals::core::LoadedPlugin> in_process(const char *name) {
  auto p = std::make_shared<vitals::core::LoadedPlugin>();
  p->descriptor = vitals::detail::make_descriptor<T>(name, "1", "fuzz");
  p->name = name;
  p->path = std::string("(in-process)/") + name;
  return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace vitals::core;
  std::string_view rest(reinterpret_cast<const char *>(data), size);
  Config config;
  Diagnostics diags;
  for (int file = 0;; ++file) {
    size_t marker = rest.find("\n#%%\n");
    std::string name = "conf.d/" + std::to_string(file) + ".toml";
    load_config_text(rest.substr(0, marker), name, config, diags);
    if (marker == std::string_view::npos) break;
    rest.remove_prefix(marker + 5);
  }
  PluginCatalog catalog;
  catalog.add(in_process<FuzzInput>("in"));
  catalog.add(in_process<FuzzProcessor>("proc"));
  catalog.add(in_process<FuzzStorage>("store"));
  catalog.add(in_process<FuzzOutput>("out"));
  CheckedConfig checked = check_config(std::move(config), catalog, diags);
  for (const auto &d : diags.items()) (void)d.to_string();
  // A config without errors has a plugin and valid JSON for every component.
  if (!diags.has_errors()) {
    for (const auto &c : checked.config.components)
      if (c.enabled && (c.plugin_json.empty() || c.plugin_json.front() != '{')) std::abort();
  }
  return 0;
}
