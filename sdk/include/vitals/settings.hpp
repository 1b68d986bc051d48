// Config declared once. A plugin binds each key to a member of its settings
// struct, with the default, the description and, where they apply, bounds
// and choices; from that one declaration the SDK builds the schema the host
// checks (`vitals check` reports type, range and choice errors with
// file:line) and `--describe` prints, and fills the struct from the checked
// config. No key is read again by string, and no default is restated.
//
//   struct Settings {
//     std::string path;
//     std::chrono::nanoseconds timeout{};
//     int64_t retries = 0;
//   };
//   static constexpr auto schema = vitals::settings<Settings>(
//       vitals::key("path", &Settings::path, "\"/proc/loadavg\"", "file to read"),
//       vitals::key("timeout", &Settings::timeout, "\"5s\"", "give up after", vitals::at_least("\"1ms\"")),
//       vitals::key("retries", &Settings::retries, "3", "attempts", vitals::between("0", "10")));
//   ...
//   MyPlugin(vitals::Host host, const vitals::Config &config)
//       : Input(host), settings_(schema.read(config)) {}
//
// VITALS_PLUGIN takes the schema from `schema` (no config_fields needed).
// Member types: std::string (string), bool, int64_t (integer), double
// (number), std::chrono::nanoseconds (duration), vitals::ByteSize (size),
// std::vector<std::string> (array of strings), vitals::AnyValue (any TOML
// value, such as a table or an array of tables, which the plugin reads itself).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "vitals/plugin.hpp"

namespace vitals {

// A size in bytes ("64KiB", "10MB", or a plain integer in the config).
struct ByteSize {
  uint64_t bytes = 0;
};

// Any TOML value, as the host passes it (JSON): for structured keys such as
// a table of labels or an array of rule tables, which the plugin checks
// itself. get() is nullptr when the key is absent (and has no default).
class AnyValue {
 public:
  AnyValue() = default;
  explicit AnyValue(const cJSON *value)
      : json_(value ? cJSON_Duplicate(value, true) : nullptr, [](cJSON *j) { cJSON_Delete(j); }) {}
  const cJSON *get() const { return json_.get(); }
  explicit operator bool() const { return json_ != nullptr; }

 private:
  std::shared_ptr<cJSON> json_;  // shared: settings structs copy cheaply
};

namespace settings_detail {

template <class M>
constexpr vitals_config_type_t type_of() {
  if constexpr (std::is_same_v<M, std::string>)
    return VITALS_CONFIG_STRING;
  else if constexpr (std::is_same_v<M, bool>)
    return VITALS_CONFIG_BOOL;
  else if constexpr (std::is_same_v<M, int64_t>)
    return VITALS_CONFIG_INT;
  else if constexpr (std::is_same_v<M, double>)
    return VITALS_CONFIG_FLOAT;
  else if constexpr (std::is_same_v<M, std::chrono::nanoseconds>)
    return VITALS_CONFIG_DURATION;
  else if constexpr (std::is_same_v<M, ByteSize>)
    return VITALS_CONFIG_SIZE;
  else if constexpr (std::is_same_v<M, std::vector<std::string>>)
    return VITALS_CONFIG_STRING_ARRAY;
  else if constexpr (std::is_same_v<M, AnyValue>)
    return VITALS_CONFIG_ANY;
  else
    static_assert(sizeof(M) == 0, "unsupported settings member type (see vitals/settings.hpp)");
}

}  // namespace settings_detail

// What a key accepts besides its type: inclusive bounds written as the value
// would be in TOML, or a NULL-terminated list of allowed strings.
struct Limits {
  const char *min = nullptr;
  const char *max = nullptr;
  const char *const *choices = nullptr;
};
constexpr Limits at_least(const char *min) { return {min, nullptr, nullptr}; }
constexpr Limits at_most(const char *max) { return {nullptr, max, nullptr}; }
constexpr Limits between(const char *min, const char *max) { return {min, max, nullptr}; }
constexpr Limits one_of(const char *const *choices) { return {nullptr, nullptr, choices}; }

// For a key that may be left out and has no default: pass vitals::no_default
// where the default goes; the member keeps its empty value (a NULL default
// instead makes the key required).
struct NoDefault {};
inline constexpr NoDefault no_default{};

// One key bound to a member.
template <class S, class M>
struct Key {
  const char *name;
  M S::*member;
  const char *default_value;
  const char *description;
  Limits limits;
  bool required;

  constexpr vitals_config_field_t field() const {
    return config_field(name, settings_detail::type_of<M>(), required, default_value, description, limits.min,
                        limits.max, limits.choices);
  }
  void read(const Config &config, S &out) const {
    M &m = out.*member;
    if constexpr (std::is_same_v<M, std::string>)
      m = config.string(name);
    else if constexpr (std::is_same_v<M, bool>)
      m = config.boolean(name);
    else if constexpr (std::is_same_v<M, int64_t>)
      m = config.integer(name);
    else if constexpr (std::is_same_v<M, double>)
      m = config.number(name);
    else if constexpr (std::is_same_v<M, std::chrono::nanoseconds>)
      m = std::chrono::nanoseconds(config.duration_ns(name));
    else if constexpr (std::is_same_v<M, ByteSize>)
      m = ByteSize{config.size_bytes(name)};
    else if constexpr (std::is_same_v<M, AnyValue>)
      m = AnyValue(config.get(name));
    else
      m = config.strings(name);
  }
};

// A NULL default makes the key required.
template <class S, class M>
constexpr Key<S, M> key(const char *name, M S::*member, const char *default_value, const char *description,
                        Limits limits = {}) {
  return Key<S, M>{name, member, default_value, description, limits, default_value == nullptr};
}
template <class S, class M>
constexpr Key<S, M> key(const char *name, M S::*member, NoDefault, const char *description, Limits limits = {}) {
  return Key<S, M>{name, member, nullptr, description, limits, false};
}

// The keys of a settings struct S: the schema rows (`fields`) and read().
template <class S, class... Keys>
struct Settings {
  std::tuple<Keys...> keys;
  std::array<vitals_config_field_t, sizeof...(Keys)> fields;

  // The struct, every member set from the checked config (defaults filled in
  // by the host, so nothing is restated here).
  S read(const Config &config) const {
    S out{};
    read_into(config, out);
    return out;
  }
  // Sets only the members bound to keys (a struct that holds more keeps the rest).
  void read_into(const Config &config, S &out) const {
    std::apply([&](const auto &...k) { (k.read(config, out), ...); }, keys);
  }
};

template <class S, class... Keys>
constexpr Settings<S, Keys...> settings(Keys... keys) {
  return Settings<S, Keys...>{std::tuple<Keys...>(keys...), {keys.field()...}};
}

}  // namespace vitals
