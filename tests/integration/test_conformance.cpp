// The generic test every plugin must pass (after GStreamer's
// tests/check/generic/states.c): it loads, describes its schema, is created
// from its own sample.toml, starts, collects or consumes, stops and is
// destroyed. Also: its README embeds that sample.toml verbatim.
#include <doctest/doctest.h>
#include <uv.h>

#include <algorithm>

#include "agent_process.hpp"
#include "config/config_check.hpp"
#include "engine/pipeline.hpp"

using namespace vitals::core;
namespace fs = std::filesystem;

namespace {

// The plugins built in this tree and their source folders, from meson:
// "name=folder;name=folder;...".
std::vector<std::pair<std::string, fs::path>> built_plugins() {
  std::vector<std::pair<std::string, fs::path>> out;
  std::string list = VITALS_BUILT_PLUGINS;
  size_t start = 0;
  while (start < list.size()) {
    size_t end = list.find(';', start);
    if (end == std::string::npos) end = list.size();
    std::string item = list.substr(start, end - start);
    if (auto eq = item.find('='); eq != std::string::npos) out.emplace_back(item.substr(0, eq), item.substr(eq + 1));
    start = end + 1;
  }
  return out;
}

// Cell `column` (0-based, backticks removed) of every table row of `text`
// that starts with | `key` | and has at least `min_cells` cells.
std::vector<std::string> column_of_rows(const std::string &text, const std::string &key, size_t column,
                                        size_t min_cells) {
  std::vector<std::string> out;
  for (size_t row = text.find("\n| `" + key + "` |"); row != std::string::npos;
       row = text.find("\n| `" + key + "` |", row + 1)) {
    std::string line = text.substr(row + 1, text.find('\n', row + 1) - row - 1);
    std::vector<std::string> cells;  // between the bars, trimmed (a default has no bar in it)
    for (size_t at = line.find('|') + 1, bar; (bar = line.find('|', at)) != std::string::npos; at = bar + 1) {
      std::string cell = line.substr(at, bar - at);
      cell.erase(0, cell.find_first_not_of(' '));
      cell.erase(cell.find_last_not_of(' ') + 1);
      std::erase(cell, '`');
      cells.push_back(cell);
    }
    if (cells.size() >= min_cells) out.push_back(cells[column]);
  }
  return out;
}

// Runs the plugin's sample through check, start, one collect and shutdown.
void exercise(const std::string &name, const LoadedPlugin &plugin, const fs::path &data_dir) {
  const vitals_plugin_t &d = plugin.descriptor;
  REQUIRE_MESSAGE(d.sample_config, name << " has no embedded sample.toml");
  Config config;
  Diagnostics diags;
  load_config_text(d.sample_config, name + "/sample.toml", config, diags);
  // The sample's wiring names components of other samples: run it alone.
  for (auto &c : config.components) c.inputs.clear();
  PluginCatalog catalog;
  catalog.scan({VITALS_BUILD_PLUGIN_DIR});
  CheckedConfig checked = check_config(std::move(config), catalog, diags);
  std::string all;
  bool errors = false;
  for (const auto &x : diags.items()) {
    // Run alone, an input promising committed acks has no storage behind
    // it: that wiring check is about the whole config, not this plugin.
    if (x.message.find("no enabled storage receives its data") != std::string::npos) continue;
    all += x.to_string() + "\n";
    errors |= x.severity == Diagnostic::Severity::error;
  }
  INFO(all);
  REQUIRE_FALSE(errors);
  bool has_this_plugin = false;
  for (const auto &c : checked.config.components) has_this_plugin |= c.plugin == name;
  CHECK_MESSAGE(has_this_plugin, "the sample of " << name << " does not use it");

  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    SeriesRegistry series;
    MetricsRegistry metrics;
    Pipeline pipeline(&loop, series, metrics, data_dir.string());
    Diagnostics start_diags;
    REQUIRE(pipeline.start(checked, start_diags, /*schedule=*/false));
    bool collected = false, stopped = false;
    pipeline.collect_all_once([&] {
      collected = true;
      for (const Component *c : pipeline.components())
        CHECK_MESSAGE(c->error_count() == 0, c->id() << ": " << c->last_error());
      pipeline.shutdown(5'000'000'000, [&](bool drained) {
        CHECK(drained);
        stopped = true;
      });
    });
    while (!stopped && uv_run(&loop, UV_RUN_ONCE)) {
    }
    CHECK(collected);
    CHECK(stopped);
  }
  uv_run(&loop, UV_RUN_NOWAIT);
  CHECK(uv_loop_close(&loop) == 0);  // no handle left behind
}

}  // namespace

TEST_CASE("every plugin passes the generic lifecycle with its own sample") {
  auto plugins = built_plugins();
  REQUIRE(plugins.size() >= 7);
  PluginCatalog catalog;
  catalog.scan({VITALS_BUILD_PLUGIN_DIR});
  for (const auto &[name, folder] : plugins) {
    SUBCASE(name.c_str()) {
      std::string error;
      auto plugin = catalog.load(name, error);
      REQUIRE_MESSAGE(plugin, error);
      const vitals_plugin_t &d = plugin->descriptor;
      CHECK(std::string(d.name) == name);
      CHECK(d.version);
      CHECK(d.description);
      for (uint32_t i = 0; i < d.n_config_fields; ++i) {
        CHECK_MESSAGE(d.config_fields[i].key, name << " field " << i);
        CHECK_MESSAGE(d.config_fields[i].description, name << "." << d.config_fields[i].key);
      }
      vitals::test::TempDir data;
      exercise(name, *plugin, data.path());
    }
  }
}

TEST_CASE("every plugin's README embeds its sample.toml verbatim and documents every key") {
  PluginCatalog catalog;
  catalog.scan({VITALS_BUILD_PLUGIN_DIR});
  for (const auto &[name, folder] : built_plugins()) {
    INFO(name);
    std::string readme = vitals::test::read_file(folder / "README.md");
    std::string sample = vitals::test::read_file(folder / "sample.toml");
    REQUIRE_FALSE(readme.empty());
    REQUIRE_FALSE(sample.empty());
    CHECK(readme.find(sample) != std::string::npos);
    std::string error;
    auto plugin = catalog.load(name, error);
    REQUIRE(plugin);
    for (uint32_t i = 0; i < plugin->descriptor.n_config_fields; ++i) {
      const vitals_config_field_t &f = plugin->descriptor.config_fields[i];
      std::string key = f.key;
      CHECK_MESSAGE(readme.find("`" + key + "`") != std::string::npos, "README lacks `" << key << "`");
      // The configuration table's row states the schema's default, so the
      // two cannot drift apart: | `key` | type | `default` | ... |
      // Other tables may name the key too: some row of the form
      // | `key` | type | default | ... | must state the schema's default.
      if (!f.default_value || f.required) continue;
      std::string expected = f.default_value;
      std::vector<std::string> documented = column_of_rows(readme, key, 2, 4);
      if (documented.empty()) continue;  // documented in prose only
      CHECK_MESSAGE(std::find(documented.begin(), documented.end(), expected) != documented.end(),
                    name << " README: the row of `" << key << "` does not state the schema's default " << expected);
    }
  }
}

TEST_CASE("the README's [agent] and [agent.http] tables state the declared defaults") {
  std::string readme = vitals::test::read_file(fs::path(VITALS_SOURCE_ROOT) / "README.md");
  REQUIRE_FALSE(readme.empty());
  for (auto fields : {agent_fields(), agent_http_fields()}) {
    for (const vitals_config_field_t &f : fields) {
      std::string key = f.key;
      INFO(key);
      // | `key` | default | what |, the default as the schema writes it, or "none".
      std::vector<std::string> documented = column_of_rows(readme, key, 1, 3);
      std::string expected = f.default_value ? f.default_value : "none";
      CHECK_MESSAGE(std::find(documented.begin(), documented.end(), expected) != documented.end(),
                    "README: no row of `" << key << "` states the declared default " << expected);
    }
  }
}
