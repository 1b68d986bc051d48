// Config declared once (vitals/settings.hpp): one declaration gives the
// schema the host checks and the struct the plugin reads, through the same
// in-process host a plugin's own tests use.
#include <doctest/doctest.h>

#include "vitals/settings.hpp"
#include "vitals/testing.hpp"

namespace {

constexpr const char *kModes[] = {"fast", "safe", nullptr};

class Declared final : public vitals::Input {
 public:
  struct Settings {
    std::string path;
    bool verbose = false;
    int64_t retries = 0;
    double ratio = 0;
    std::chrono::nanoseconds timeout{};
    vitals::ByteSize buffer;
    std::vector<std::string> tags;
    std::string mode;
    vitals::AnyValue rules;
  };
  static constexpr auto schema = vitals::settings<Settings>(
      vitals::key("path", &Settings::path, nullptr, "required: no default"),
      vitals::key("verbose", &Settings::verbose, "false", "a flag"),
      vitals::key("retries", &Settings::retries, "3", "attempts", vitals::between("0", "10")),
      vitals::key("ratio", &Settings::ratio, "0.5", "a fraction", vitals::between("0", "1")),
      vitals::key("timeout", &Settings::timeout, "\"5s\"", "give up after", vitals::at_least("\"1ms\"")),
      vitals::key("buffer", &Settings::buffer, "\"64KiB\"", "bytes held", vitals::at_most("\"1MiB\"")),
      vitals::key("tags", &Settings::tags, "[\"a\"]", "labels"),
      vitals::key("mode", &Settings::mode, "\"safe\"", "how", vitals::one_of(kModes)),
      vitals::key("rules", &Settings::rules, "[]", "tables the plugin reads itself"));

  Declared(vitals::Host host, const vitals::Config &config) : Input(host), settings(schema.read(config)) {}
  void collect(int64_t) override {}

  Settings settings;
};

}  // namespace

VITALS_PLUGIN(Declared, "declared", "1.0.0", "settings.hpp test plugin")

TEST_CASE("one declaration gives the schema rows: types from the members, required from a missing default") {
  const vitals_plugin_t *p = vitals_plugin();
  REQUIRE(p->n_config_fields == 9);
  const vitals_config_field_t &path = p->config_fields[0], &retries = p->config_fields[2];
  CHECK(std::string(path.key) == "path");
  CHECK(path.type == VITALS_CONFIG_STRING);
  CHECK(path.required == 1);
  CHECK(retries.type == VITALS_CONFIG_INT);
  CHECK(retries.required == 0);
  CHECK(std::string(retries.min) == "0");
  CHECK(std::string(retries.max) == "10");
  CHECK(p->config_fields[3].type == VITALS_CONFIG_FLOAT);
  CHECK(p->config_fields[4].type == VITALS_CONFIG_DURATION);
  CHECK(p->config_fields[5].type == VITALS_CONFIG_SIZE);
  CHECK(p->config_fields[6].type == VITALS_CONFIG_STRING_ARRAY);
  CHECK(p->config_fields[7].choices == kModes);
  CHECK(p->config_fields[8].type == VITALS_CONFIG_ANY);
  CHECK(std::string(p->config_fields[8].default_value) == "[]");
}

TEST_CASE("the struct is filled from the checked config, defaults from the declaration") {
  vitals::testing::Host host;
  auto inst = host.create(vitals_plugin(),
                          "path = \"/x\"\nretries = 7\nbuffer = \"2KiB\"\ntags = [\"b\", \"c\"]\n"
                          "rules = [{ action = \"drop\", match = \"x*\" }]\n");
  auto &s = static_cast<vitals::detail::Instance<Declared> *>(inst.raw())->plugin->settings;
  CHECK(s.path == "/x");
  CHECK(s.verbose == false);
  CHECK(s.retries == 7);
  CHECK(s.ratio == 0.5);
  CHECK(s.timeout == std::chrono::seconds(5));
  CHECK(s.buffer.bytes == 2048);
  CHECK(s.tags == std::vector<std::string>{"b", "c"});
  CHECK(s.mode == "safe");
  CHECK(cJSON_GetArraySize(
            static_cast<vitals::detail::Instance<Declared> *>(host.create(vitals_plugin(), "path = \"/y\"").raw())
                ->plugin->settings.rules.get()) == 0);  // the default, an empty array
  // An AnyValue keeps its own copy of the value: the config it came from is gone.
  REQUIRE(s.rules);
  REQUIRE(cJSON_IsArray(s.rules.get()));
  const cJSON *rule = cJSON_GetArrayItem(s.rules.get(), 0);
  CHECK(std::string(cJSON_GetStringValue(cJSON_GetObjectItem(rule, "action"))) == "drop");
  CHECK(std::string(cJSON_GetStringValue(cJSON_GetObjectItem(rule, "match"))) == "x*");
}

TEST_CASE("range and choice errors are reported all at once, each with its line") {
  std::string error;
  try {
    vitals::testing::Host::check_config(
        vitals_plugin(), "path = \"/x\"\nretries = 11\nratio = -1\nbuffer = \"2MiB\"\nmode = \"quick\"\n");
  } catch (const std::exception &e) {
    error = e.what();
  }
  CHECK(error ==
        "line 2: 'retries' must be at most 10 (got 11); line 3: 'ratio' must be at least 0 (got -1); "
        "line 4: 'buffer' must be at most \"1MiB\" (got \"2MiB\"); "
        "line 5: 'mode' must be one of \"fast\", \"safe\" (got \"quick\")");
}
