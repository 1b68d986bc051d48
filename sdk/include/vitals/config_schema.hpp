// Checks a component's TOML table against a plugin's config schema and turns
// it into the JSON object create() receives. Header-only so that the agent
// and vitals/testing.hpp apply exactly the same rules. Needs toml++ and cJSON.
#pragma once

#include <cjson/cJSON.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "vitals/plugin.h"
#include "vitals/units.hpp"

namespace vitals {

struct ConfigError {
  uint32_t line = 0;  // 1-based; 0 when unknown
  std::string message;
};

inline const char *config_type_name(int type) {
  switch (type) {
    case VITALS_CONFIG_STRING:
      return "string";
    case VITALS_CONFIG_INT:
      return "integer";
    case VITALS_CONFIG_FLOAT:
      return "number";
    case VITALS_CONFIG_BOOL:
      return "boolean";
    case VITALS_CONFIG_DURATION:
      return "duration";
    case VITALS_CONFIG_SIZE:
      return "size";
    case VITALS_CONFIG_STRING_ARRAY:
      return "array of strings";
    case VITALS_CONFIG_ANY:
      return "any";
    default:
      return "unknown";
  }
}

// What a field accepts besides its type, as `--describe` shows it:
// "1 .. 1000", ">= \"1ms\"", "<= 10", "one of \"a\", \"b\""; empty if nothing.
inline std::string config_limits_text(const vitals_config_field_t &field) {
  if (field.choices) {
    std::string out = "one of ";
    for (const char *const *c = field.choices; *c; ++c)
      out += (c == field.choices ? "\"" : ", \"") + std::string(*c) + "\"";
    return out;
  }
  if (field.min && field.max) return std::string(field.min) + " .. " + field.max;
  if (field.min) return std::string(">= ") + field.min;
  if (field.max) return std::string("<= ") + field.max;
  return {};
}

namespace detail {

inline uint32_t line_of(const toml::node &node) { return node.source().begin.line; }

// Any TOML value as JSON (dates become their TOML text).
inline cJSON *toml_to_json(const toml::node &node) {
  if (auto *t = node.as_table()) {
    cJSON *obj = cJSON_CreateObject();
    for (auto &&[k, v] : *t) cJSON_AddItemToObject(obj, std::string(k.str()).c_str(), toml_to_json(v));
    return obj;
  }
  if (auto *a = node.as_array()) {
    cJSON *arr = cJSON_CreateArray();
    for (auto &&v : *a) cJSON_AddItemToArray(arr, toml_to_json(v));
    return arr;
  }
  if (auto s = node.value<std::string>(); s && node.is_string()) return cJSON_CreateString(s->c_str());
  if (node.is_integer()) return cJSON_CreateNumber(static_cast<double>(*node.value<int64_t>()));
  if (node.is_floating_point()) return cJSON_CreateNumber(*node.value<double>());
  if (node.is_boolean()) return cJSON_CreateBool(*node.value<bool>());
  std::string text;
  if (auto *d = node.as_date())
    text = (std::ostringstream{} << *d).str();
  else if (auto *t = node.as_time())
    text = (std::ostringstream{} << *t).str();
  else if (auto *dt = node.as_date_time())
    text = (std::ostringstream{} << *dt).str();
  return cJSON_CreateString(text.c_str());
}

// Converts one TOML value to JSON per the field's type; nullptr + message on mismatch.
inline cJSON *convert_value(const vitals_config_field_t &field, const toml::node &node, std::string &why) {
  auto expected = [&](const char *what) {
    why = std::string("'") + field.key + "' must be " + what;
    return nullptr;
  };
  switch (field.type) {
    case VITALS_CONFIG_STRING:
      if (!node.is_string()) return expected("a string");
      return cJSON_CreateString(node.as_string()->get().c_str());
    case VITALS_CONFIG_INT:
      if (!node.is_integer()) return expected("an integer");
      return cJSON_CreateNumber(static_cast<double>(node.as_integer()->get()));
    case VITALS_CONFIG_FLOAT:
      if (node.is_integer()) return cJSON_CreateNumber(static_cast<double>(node.as_integer()->get()));
      if (!node.is_floating_point()) return expected("a number");
      return cJSON_CreateNumber(node.as_floating_point()->get());
    case VITALS_CONFIG_BOOL:
      if (!node.is_boolean()) return expected("true or false");
      return cJSON_CreateBool(node.as_boolean()->get());
    case VITALS_CONFIG_DURATION: {
      if (!node.is_string()) return expected("a duration string like \"500ms\", \"1s\", \"5m\" or \"30d\"");
      auto ns = parse_duration(node.as_string()->get());
      if (!ns) return expected("a duration like \"500ms\", \"1s\", \"5m\" or \"30d\"");
      return cJSON_CreateNumber(static_cast<double>(*ns));
    }
    case VITALS_CONFIG_SIZE: {
      if (node.is_integer()) {
        if (node.as_integer()->get() < 0) return expected("a non-negative size");
        return cJSON_CreateNumber(static_cast<double>(node.as_integer()->get()));
      }
      if (!node.is_string()) return expected("a size like 65536, \"64KB\" or \"10MiB\"");
      auto bytes = parse_size(node.as_string()->get());
      if (!bytes) return expected("a size like 65536, \"64KB\" or \"10MiB\"");
      return cJSON_CreateNumber(static_cast<double>(*bytes));
    }
    case VITALS_CONFIG_STRING_ARRAY: {
      auto *arr = node.as_array();
      if (!arr) return expected("an array of strings");
      cJSON *out = cJSON_CreateArray();
      for (auto &&v : *arr) {
        if (!v.is_string()) {
          cJSON_Delete(out);
          return expected("an array of strings");
        }
        cJSON_AddItemToArray(out, cJSON_CreateString(v.as_string()->get().c_str()));
      }
      return out;
    }
    case VITALS_CONFIG_ANY:
      return toml_to_json(node);
    default:
      why = std::string("'") + field.key + "' has an unknown schema type";
      return nullptr;
  }
}

// The number a converted INT, FLOAT, DURATION or SIZE value stands for.
inline double number_of(const cJSON *value) { return cJSON_IsNumber(value) ? value->valuedouble : 0; }

// A bound of the field ("1", "\"100ms\""), converted like a value; nothing
// when the field has none.
inline std::optional<double> bound(const vitals_config_field_t &field, const char *text) {
  if (!text) return std::nullopt;
  try {
    toml::table parsed = toml::parse(std::string("v = ") + text);
    std::string why;
    if (const toml::node *v = parsed.get("v")) {
      std::unique_ptr<cJSON, decltype(&cJSON_Delete)> json(convert_value(field, *v, why), cJSON_Delete);
      if (json && cJSON_IsNumber(json.get())) return json->valuedouble;
    }
  } catch (const toml::parse_error &) {
  }
  return std::nullopt;
}

inline std::string choices_text(const char *const *choices) {
  std::string out;
  for (const char *const *c = choices; *c; ++c) out += (out.empty() ? "" : ", ") + std::string("\"") + *c + "\"";
  return out;
}

// Checks a converted value against the field's bounds and choices; empty when
// it is within them, else why not (naming the key, the limit and the value).
inline std::string check_limits(const vitals_config_field_t &field, const cJSON *value, const std::string &shown) {
  std::string key = std::string("'") + field.key + "'";
  switch (field.type) {
    case VITALS_CONFIG_INT:
    case VITALS_CONFIG_FLOAT:
    case VITALS_CONFIG_DURATION:
    case VITALS_CONFIG_SIZE: {
      double v = number_of(value);
      if (auto lo = bound(field, field.min); lo && v < *lo)
        return key + " must be at least " + field.min + " (got " + shown + ")";
      if (auto hi = bound(field, field.max); hi && v > *hi)
        return key + " must be at most " + field.max + " (got " + shown + ")";
      return {};
    }
    case VITALS_CONFIG_STRING:
    case VITALS_CONFIG_STRING_ARRAY: {
      if (!field.choices) return {};
      auto allowed = [&](const char *s) {
        for (const char *const *c = field.choices; *c; ++c)
          if (std::string_view(s) == *c) return true;
        return false;
      };
      if (cJSON_IsString(value) && !allowed(value->valuestring))
        return key + " must be one of " + choices_text(field.choices) + " (got \"" + value->valuestring + "\")";
      if (!cJSON_IsArray(value)) return {};
      for (const cJSON *item = value->child; item; item = item->next)
        if (cJSON_IsString(item) && !allowed(item->valuestring))
          return key + " takes only " + choices_text(field.choices) + " (got \"" + item->valuestring + "\")";
      return {};
    }
    default:
      return {};
  }
}

// How a TOML value is shown in a message: its source text where it has one.
inline std::string shown(const toml::node &node) {
  if (auto s = node.value<std::string>(); s && node.is_string()) return "\"" + *s + "\"";
  std::ostringstream out;
  node.visit([&](auto &&v) { out << v; });
  return out.str();
}

}  // namespace detail

// Applies `fields` to `table`. Keys listed in `host_keys` belong to the host
// and are skipped. Appends every problem to `errors` (all of them, not just
// the first) and returns the JSON text of the checked config with defaults
// filled in; the result is meaningful only if no error was added.
inline std::string apply_config_schema(const toml::table &table, std::span<const vitals_config_field_t> fields,
                                       std::span<const std::string_view> host_keys, std::vector<ConfigError> &errors) {
  std::unique_ptr<cJSON, decltype(&cJSON_Delete)> json(cJSON_CreateObject(), cJSON_Delete);
  size_t first_error = errors.size();
  uint32_t table_line = table.source().begin.line;
  for (auto &&[key, node] : table) {
    std::string_view k = key.str();
    bool is_host_key = false;
    for (auto hk : host_keys) is_host_key |= (hk == k);
    if (is_host_key) continue;
    const vitals_config_field_t *field = nullptr;
    for (const auto &f : fields)
      if (f.key && k == f.key) field = &f;
    if (!field) {
      std::string known;
      for (const auto &f : fields) known += (known.empty() ? "" : ", ") + std::string(f.key);
      errors.push_back(
          {detail::line_of(node), "unknown key '" + std::string(k) + "'" +
                                      (known.empty() ? " (this plugin takes no options)" : " (known: " + known + ")")});
      continue;
    }
    std::string why;
    cJSON *value = detail::convert_value(*field, node, why);
    if (value) why = detail::check_limits(*field, value, detail::shown(node));
    if (value && why.empty()) {
      cJSON_AddItemToObject(json.get(), field->key, value);
    } else {
      cJSON_Delete(value);
      errors.push_back({detail::line_of(node), why});
    }
  }
  for (const auto &f : fields) {
    if (!f.key || table.contains(f.key)) continue;
    if (f.required) {
      errors.push_back({table_line, std::string("missing required key '") + f.key + "'"});
      continue;
    }
    if (!f.default_value) continue;
    std::string why;
    cJSON *value = nullptr;
    try {
      toml::table parsed = toml::parse(std::string("v = ") + f.default_value);
      if (const toml::node *v = parsed.get("v")) value = detail::convert_value(f, *v, why);
    } catch (const toml::parse_error &) {
    }
    if (!value || !detail::check_limits(f, value, f.default_value).empty()) {
      cJSON_Delete(value);
      errors.push_back({table_line, std::string("plugin bug: invalid default for '") + f.key + "'"});
      continue;
    }
    cJSON_AddItemToObject(json.get(), f.key, value);
  }
  // toml++ iterates keys in sorted order; report in the order of the file.
  std::stable_sort(errors.begin() + static_cast<std::ptrdiff_t>(first_error), errors.end(),
                   [](const ConfigError &a, const ConfigError &b) { return a.line < b.line; });
  char *text = cJSON_PrintUnformatted(json.get());
  std::string out = text ? text : "{}";
  cJSON_free(text);
  return out;
}

}  // namespace vitals
