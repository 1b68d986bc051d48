// apply_config_schema: how a component's TOML table is checked against a
// plugin's schema and turned into the JSON its create() receives.
#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

#include "vitals/config_schema.hpp"
#include "vitals/plugin.hpp"

using vitals::ConfigError;

namespace {

// One key of every type, none required, each with a default.
constexpr vitals_config_field_t every_type[] = {
    vitals::config_field("name", VITALS_CONFIG_STRING, 0, "\"stdout\"", "a string"),
    vitals::config_field("count", VITALS_CONFIG_INT, 0, "100", "an integer"),
    vitals::config_field("ratio", VITALS_CONFIG_FLOAT, 0, "0.5", "a number"),
    vitals::config_field("verbose", VITALS_CONFIG_BOOL, 0, "true", "a boolean"),
    vitals::config_field("timeout", VITALS_CONFIG_DURATION, 0, "\"1s\"", "a duration"),
    vitals::config_field("buffer", VITALS_CONFIG_SIZE, 0, "\"64KB\"", "a size"),
    vitals::config_field("tags", VITALS_CONFIG_STRING_ARRAY, 0, "[\"a\", \"b\"]", "strings"),
    vitals::config_field("rules", VITALS_CONFIG_ANY, 0, "{ drop = false }", "anything"),
};

struct Checked {
  std::string json;
  std::vector<ConfigError> errors;
};

// Applies `fields` to the [input.test] table of `toml_text`.
Checked check(std::string_view toml_text, std::span<const vitals_config_field_t> fields,
              std::vector<std::string_view> host_keys = {}) {
  toml::table doc = toml::parse(toml_text);
  const toml::table *table = doc["input"]["test"].as_table();
  REQUIRE(table != nullptr);
  Checked out;
  out.json = vitals::apply_config_schema(*table, fields, host_keys, out.errors);
  return out;
}

// The one error expected; fails the test if there are more or none.
ConfigError only_error(const Checked &checked) {
  REQUIRE(checked.errors.size() == 1);
  return checked.errors[0];
}

}  // namespace

TEST_CASE("config schema: a value of every type is converted to JSON") {
  Checked c = check(R"(
[input.test]
name = "file"
count = 7
ratio = 2.25
verbose = false
timeout = "1h30m"
buffer = "10MiB"
tags = ["x", "y", "z"]
rules = [{ match = "cpu_*", drop = true }, { match = "mem", drop = false }]
)",
                    every_type);
  CHECK(c.errors.empty());
  vitals::Config config(c.json.c_str());
  CHECK(config.string("name") == "file");
  CHECK(config.integer("count") == 7);
  CHECK(config.number("ratio") == 2.25);
  CHECK(config.boolean("verbose", true) == false);
  CHECK(config.duration_ns("timeout") == 5'400'000'000'000);
  CHECK(config.size_bytes("buffer") == 10u * 1024 * 1024);
  CHECK(config.strings("tags") == std::vector<std::string>{"x", "y", "z"});
  const cJSON *rules = config.get("rules");
  REQUIRE(cJSON_IsArray(rules));
  REQUIRE(cJSON_GetArraySize(rules) == 2);
  const cJSON *first = cJSON_GetArrayItem(rules, 0);
  CHECK(std::string(cJSON_GetObjectItem(first, "match")->valuestring) == "cpu_*");
  CHECK(cJSON_IsTrue(cJSON_GetObjectItem(first, "drop")));
}

TEST_CASE("config schema: a float key accepts an integer, a size key a plain byte count") {
  Checked c = check("[input.test]\nratio = 3\nbuffer = 65536\n", every_type);
  CHECK(c.errors.empty());
  vitals::Config config(c.json.c_str());
  CHECK(config.number("ratio") == 3.0);
  CHECK(config.size_bytes("buffer") == 65536u);
}

TEST_CASE("config schema: defaults fill every absent key") {
  Checked c = check("[input.test]\n", every_type);
  CHECK(c.errors.empty());
  vitals::Config config(c.json.c_str());
  CHECK(config.string("name") == "stdout");
  CHECK(config.integer("count") == 100);
  CHECK(config.number("ratio") == 0.5);
  CHECK(config.boolean("verbose") == true);
  CHECK(config.duration_ns("timeout") == 1'000'000'000);
  CHECK(config.size_bytes("buffer") == 64'000u);
  CHECK(config.strings("tags") == std::vector<std::string>{"a", "b"});
  CHECK(cJSON_IsFalse(cJSON_GetObjectItem(config.get("rules"), "drop")));
}

TEST_CASE("config schema: an optional key without a default stays absent") {
  constexpr vitals_config_field_t fields[] = {
      vitals::config_field("path", VITALS_CONFIG_STRING, 0, nullptr, "optional")};
  Checked c = check("[input.test]\n", fields);
  CHECK(c.errors.empty());
  CHECK(c.json == "{}");
}

TEST_CASE("config schema: an unknown key names its line and the keys the plugin knows") {
  constexpr vitals_config_field_t fields[] = {
      vitals::config_field("path", VITALS_CONFIG_STRING, 0, nullptr, ""),
      vitals::config_field("mode", VITALS_CONFIG_STRING, 0, nullptr, ""),
  };
  ConfigError e = only_error(check("\n[input.test]\npath = \"/x\"\npaht = \"/y\"\n", fields));
  CHECK(e.line == 4);
  CHECK(e.message == "unknown key 'paht' (known: path, mode)");
}

TEST_CASE("config schema: an unknown key of a plugin without options says it takes none") {
  ConfigError e = only_error(check("[input.test]\nlevel = 3\n", std::span<const vitals_config_field_t>{}));
  CHECK(e.line == 2);
  CHECK(e.message == "unknown key 'level' (this plugin takes no options)");
}

TEST_CASE("config schema: a value of the wrong type is an error naming the key") {
  struct Case {
    const char *toml;
    const char *message;
  };
  const Case cases[] = {
      {"name = 1", "'name' must be a string"},
      {"count = \"7\"", "'count' must be an integer"},
      {"count = 1.5", "'count' must be an integer"},
      {"ratio = \"0.5\"", "'ratio' must be a number"},
      {"verbose = \"yes\"", "'verbose' must be true or false"},
      {"timeout = 5", "'timeout' must be a duration string like \"500ms\", \"1s\", \"5m\" or \"30d\""},
      {"timeout = \"5\"", "'timeout' must be a duration like \"500ms\", \"1s\", \"5m\" or \"30d\""},
      {"timeout = \"-1s\"", "'timeout' must be a duration like \"500ms\", \"1s\", \"5m\" or \"30d\""},
      {"buffer = -1", "'buffer' must be a non-negative size"},
      {"buffer = \"lots\"", "'buffer' must be a size like 65536, \"64KB\" or \"10MiB\""},
      {"buffer = true", "'buffer' must be a size like 65536, \"64KB\" or \"10MiB\""},
      {"tags = \"a\"", "'tags' must be an array of strings"},
      {"tags = [\"a\", 2]", "'tags' must be an array of strings"},
  };
  for (const Case &c : cases) {
    INFO(c.toml);
    ConfigError e = only_error(check(std::string("[input.test]\n\n") + c.toml + "\n", every_type));
    CHECK(e.line == 3);
    CHECK(e.message == c.message);
  }
}

TEST_CASE("config schema: a missing required key is reported at the table's line") {
  constexpr vitals_config_field_t fields[] = {
      vitals::config_field("url", VITALS_CONFIG_STRING, 1, nullptr, "where to send"),
      vitals::config_field("retries", VITALS_CONFIG_INT, 0, "3", ""),
  };
  ConfigError e = only_error(check("# pipelines\n\n[input.test]\nretries = 5\n", fields));
  CHECK(e.line == 3);
  CHECK(e.message == "missing required key 'url'");
  CHECK(check("[input.test]\nurl = \"http://x\"\n", fields).errors.empty());
}

TEST_CASE("config schema: keys that belong to the host are skipped, not passed on") {
  constexpr vitals_config_field_t fields[] = {vitals::config_field("path", VITALS_CONFIG_STRING, 0, nullptr, "")};
  Checked c = check("[input.test]\nplugin = \"file\"\ninterval = \"1s\"\ninputs = [\"a\"]\npath = \"/x\"\n", fields,
                    {"plugin", "interval", "inputs", "match", "queue", "enabled"});
  CHECK(c.errors.empty());
  CHECK(c.json == R"({"path":"/x"})");
}

TEST_CASE("config schema: every problem is reported at once, each with its line") {
  constexpr vitals_config_field_t fields[] = {
      vitals::config_field("url", VITALS_CONFIG_STRING, 1, nullptr, ""),
      vitals::config_field("retries", VITALS_CONFIG_INT, 0, "3", ""),
      vitals::config_field("timeout", VITALS_CONFIG_DURATION, 0, "\"5s\"", ""),
  };
  Checked c = check("[input.test]\nretries = \"many\"\nbogus = 1\ntimeout = \"soon\"\n", fields);
  REQUIRE(c.errors.size() == 4);
  auto has = [&](uint32_t line, const std::string &message) {
    for (const ConfigError &e : c.errors)
      if (e.line == line && e.message == message) return true;
    return false;
  };
  CHECK(has(2, "'retries' must be an integer"));
  CHECK(has(3, "unknown key 'bogus' (known: url, retries, timeout)"));
  CHECK(has(4, "'timeout' must be a duration like \"500ms\", \"1s\", \"5m\" or \"30d\""));
  CHECK(has(1, "missing required key 'url'"));
}

TEST_CASE("config schema: a default that does not match its own type is reported as a plugin bug") {
  constexpr vitals_config_field_t fields[] = {
      vitals::config_field("count", VITALS_CONFIG_INT, 0, "\"ten\"", ""),
      vitals::config_field("name", VITALS_CONFIG_STRING, 0, "unquoted", ""),
  };
  Checked c = check("[input.test]\n", fields);
  REQUIRE(c.errors.size() == 2);
  CHECK(c.errors[0].message == "plugin bug: invalid default for 'count'");
  CHECK(c.errors[1].message == "plugin bug: invalid default for 'name'");
}

constexpr const char *kSyncModes[] = {"off", "normal", "full", nullptr};

TEST_CASE("config schema: values outside min/max and strings outside the choices are errors with their line") {
  constexpr vitals_config_field_t fields[] = {
      vitals::config_field("clients", VITALS_CONFIG_INT, 0, "10", "", "1", "1000"),
      vitals::config_field("ratio", VITALS_CONFIG_FLOAT, 0, "0.5", "", "0", "1"),
      vitals::config_field("interval", VITALS_CONFIG_DURATION, 0, "\"1s\"", "", "\"100ms\"", "\"1h\""),
      vitals::config_field("buffer", VITALS_CONFIG_SIZE, 0, "\"64KiB\"", "", "\"1KiB\""),
      vitals::config_field("sync", VITALS_CONFIG_STRING, 0, "\"full\"", "", nullptr, nullptr, kSyncModes),
      vitals::config_field("also", VITALS_CONFIG_STRING_ARRAY, 0, "[]", "", nullptr, nullptr, kSyncModes),
  };
  Checked c = check(
      "[input.test]\nclients = 0\nratio = 1.5\ninterval = \"10ms\"\nbuffer = 100\nsync = \"fast\"\n"
      "also = [\"off\", \"sometimes\"]\n",
      fields);
  REQUIRE(c.errors.size() == 6);
  CHECK(c.errors[0].line == 2);
  CHECK(c.errors[0].message == "'clients' must be at least 1 (got 0)");
  CHECK(c.errors[1].message == "'ratio' must be at most 1 (got 1.5)");
  CHECK(c.errors[2].message == "'interval' must be at least \"100ms\" (got \"10ms\")");
  CHECK(c.errors[3].message == "'buffer' must be at least \"1KiB\" (got 100)");
  CHECK(c.errors[4].message == "'sync' must be one of \"off\", \"normal\", \"full\" (got \"fast\")");
  CHECK(c.errors[5].line == 7);
  CHECK(c.errors[5].message == "'also' takes only \"off\", \"normal\", \"full\" (got \"sometimes\")");

  Checked edges = check("[input.test]\nclients = 1000\nratio = 0\ninterval = \"1h\"\nsync = \"off\"\n", fields);
  CHECK(edges.errors.empty());  // bounds are inclusive
}

TEST_CASE("config schema: a default outside its own range is reported as a plugin bug") {
  constexpr vitals_config_field_t fields[] = {
      vitals::config_field("clients", VITALS_CONFIG_INT, 0, "0", "", "1"),
      vitals::config_field("sync", VITALS_CONFIG_STRING, 0, "\"fast\"", "", nullptr, nullptr, kSyncModes),
  };
  Checked c = check("[input.test]\n", fields);
  REQUIRE(c.errors.size() == 2);
  CHECK(c.errors[0].message == "plugin bug: invalid default for 'clients'");
  CHECK(c.errors[1].message == "plugin bug: invalid default for 'sync'");
}

TEST_CASE("config schema: type names used in messages and --describe") {
  CHECK(std::string(vitals::config_type_name(VITALS_CONFIG_STRING)) == "string");
  CHECK(std::string(vitals::config_type_name(VITALS_CONFIG_INT)) == "integer");
  CHECK(std::string(vitals::config_type_name(VITALS_CONFIG_FLOAT)) == "number");
  CHECK(std::string(vitals::config_type_name(VITALS_CONFIG_BOOL)) == "boolean");
  CHECK(std::string(vitals::config_type_name(VITALS_CONFIG_DURATION)) == "duration");
  CHECK(std::string(vitals::config_type_name(VITALS_CONFIG_SIZE)) == "size");
  CHECK(std::string(vitals::config_type_name(VITALS_CONFIG_STRING_ARRAY)) == "array of strings");
  CHECK(std::string(vitals::config_type_name(VITALS_CONFIG_ANY)) == "any");
  CHECK(std::string(vitals::config_type_name(0)) == "unknown");
}
