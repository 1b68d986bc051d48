// The agent's own tables, [agent] and [agent.http], declared once each with
// vitals/settings.hpp, the mechanism plugins use: their defaults live here
// only, `vitals check` reports type, range and choice errors with file:line
// through the same schema check as plugin keys, and a test holds the README
// tables to these defaults.
#include <cjson/cJSON.h>

#include <memory>
#include <stdexcept>

#include "config.hpp"
#include "vitals/config_schema.hpp"

namespace vitals::core {

namespace {

constexpr const char *kLogLevels[] = {"error", "warn", "info", "debug", nullptr};

constexpr auto agent_schema = vitals::settings<AgentConfig>(
    vitals::key("data_dir", &AgentConfig::data_dir, vitals::no_default,
                "where storages keep their files (default: $STATE_DIRECTORY, else /var/lib/vitals)"),
    vitals::key("plugin_dirs", &AgentConfig::plugin_dirs, vitals::no_default,
                "more directories to load plugins from, searched after the default ones"),
    vitals::key("log_level", &AgentConfig::log_level, vitals::no_default,
                "error, warn, info or debug (default: the CLI's)", vitals::one_of(kLogLevels)),
    vitals::key("shutdown_timeout", &AgentConfig::shutdown_timeout, "\"10s\"",
                "how long SIGTERM may take to drain queues before the agent exits", vitals::at_least("\"1ms\"")),
    vitals::key("interval", &AgentConfig::interval, "\"10s\"", "collection interval of inputs that set none",
                vitals::at_least("\"1ms\"")),
    vitals::key("max_series", &AgentConfig::max_series, "1000000",
                "distinct series the agent holds; new ones past it are refused until a restart",
                vitals::between("1", "1000000000")));

constexpr auto http_schema = vitals::settings<HttpConfig>(
    vitals::key("listen", &HttpConfig::listen, "\"127.0.0.1:8470\"", "host:port or [v6]:port; port 0 picks a free one"),
    vitals::key("token_file", &HttpConfig::token_file, vitals::no_default, "a file holding the bearer token"),
    vitals::key("allowed_hosts", &HttpConfig::allowed_hosts, "[]",
                "Host names answered besides localhost and IP literals; [\"*\"]: any"),
    vitals::key("max_connections", &HttpConfig::max_connections, "256", "connections serving requests",
                vitals::between("1", "1000000")),
    vitals::key("max_streams", &HttpConfig::max_streams, "256",
                "open SSE streams and WebSockets together, apart from max_connections",
                vitals::between("1", "1000000")),
    vitals::key("max_body", &HttpConfig::max_body, "\"16MiB\"", "larger request bodies get 413",
                vitals::at_most("\"1TiB\"")),
    vitals::key("max_bodies_in_flight", &HttpConfig::max_bodies_in_flight, "\"64MiB\"",
                "request body bytes all connections together may hold before their handler read them",
                vitals::at_most("\"1TiB\"")),
    vitals::key("max_output_buffer", &HttpConfig::max_output_buffer, "\"1MiB\"",
                "unread answer bytes per connection before the agent stops reading its requests",
                vitals::at_most("\"1TiB\"")),
    vitals::key("idle_timeout", &HttpConfig::idle_timeout, "\"60s\"",
                "a quiet keep-alive connection, or a stalled body, is closed", vitals::at_least("\"1ms\"")),
    vitals::key("min_body_rate", &HttpConfig::min_body_rate, "500",
                "bytes per second a request body must keep up over each 10 s window; 0: no minimum",
                vitals::at_most("\"1TiB\"")),
    vitals::key("slow_request", &HttpConfig::slow_request, "\"1s\"", "slower answers are logged as warnings",
                vitals::at_least("\"1ms\"")),
    vitals::key("response_timeout", &HttpConfig::response_timeout, "\"60s\"",
                "a handler that has not begun its answer by then gets 504", vitals::at_least("\"1ms\"")),
    vitals::key("enabled", &HttpConfig::enabled, "true", "false: no HTTP server at all"));

using Json = std::unique_ptr<cJSON, decltype(&cJSON_Delete)>;

Json parse(const std::string &text) { return Json(cJSON_Parse(text.c_str()), cJSON_Delete); }

// The schema's defaults as a JSON object.
std::string defaults_of(std::span<const vitals_config_field_t> fields) {
  std::vector<ConfigError> errors;
  std::string json = apply_config_schema(toml::table{}, fields, {}, errors);
  // A default outside its own bounds is a bug here: fail every test at once.
  if (!errors.empty()) throw std::logic_error("agent_schema.cpp: " + errors.front().message);
  return json;
}

// The defaults overlaid with the keys set.
vitals::Config merged(const std::string &defaults, const std::string &set_keys) {
  Json out = parse(defaults);
  Json set = parse(set_keys);
  const cJSON *item = nullptr;
  cJSON_ArrayForEach(item, set.get()) {
    cJSON_DeleteItemFromObjectCaseSensitive(out.get(), item->string);
    cJSON_AddItemToObject(out.get(), item->string, cJSON_Duplicate(item, true));
  }
  char *text = cJSON_PrintUnformatted(out.get());
  vitals::Config config(text);
  cJSON_free(text);
  return config;
}

}  // namespace

std::span<const vitals_config_field_t> agent_fields() { return agent_schema.fields; }
std::span<const vitals_config_field_t> agent_http_fields() { return http_schema.fields; }

AgentConfig::AgentConfig() { refresh(); }

void AgentConfig::refresh() {
  static const std::string agent_defaults = defaults_of(agent_fields()),
                           http_defaults = defaults_of(agent_http_fields());
  agent_schema.read_into(merged(agent_defaults, set_keys), *this);
  http_schema.read_into(merged(http_defaults, set_http_keys), http);
}

}  // namespace vitals::core
