// Processor `relabel`: renames series, sets, drops and renames labels, and
// drops or keeps series by selector, with rules applied in order.
#include <cjson/cJSON.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "sample_toml.h"
#include "vitals/plugin.hpp"
#include "vitals/selector.hpp"
#include "vitals/series_name.hpp"
#include "vitals/settings.hpp"

namespace {

enum class Action { drop, keep, rename, set_label, drop_label, rename_label };

struct Rule {
  Action action = Action::drop;
  std::optional<vitals::Selector> match;  // none: every series
  std::string key, value, from, to;
};

// The keys each action takes besides `action`.
struct ActionSpec {
  const char *name;
  Action action;
  std::vector<std::string> required;
  std::vector<std::string> optional;
};

const std::vector<ActionSpec> &action_specs() {
  static const std::vector<ActionSpec> specs = {
      {"drop", Action::drop, {"match"}, {}},
      {"keep", Action::keep, {"match"}, {}},
      {"rename", Action::rename, {"to"}, {"match"}},
      {"set_label", Action::set_label, {"key", "value"}, {"match"}},
      {"drop_label", Action::drop_label, {"key"}, {"match"}},
      {"rename_label", Action::rename_label, {"from", "to"}, {"match"}},
  };
  return specs;
}

Rule parse_rule(const cJSON *item, size_t index) {
  std::string where = "rules[" + std::to_string(index) + "]: ";
  if (!cJSON_IsObject(item))
    throw std::invalid_argument(where +
                                "must be a table like { action = \"drop\", match = \"name{label=\\\"v\\\"}\" }");
  const cJSON *action = cJSON_GetObjectItemCaseSensitive(item, "action");
  if (!action) throw std::invalid_argument(where + "missing 'action'");
  if (!cJSON_IsString(action)) throw std::invalid_argument(where + "'action' must be a string");
  const ActionSpec *spec = nullptr;
  std::string names;
  for (const auto &s : action_specs()) {
    if (s.name == std::string(action->valuestring)) spec = &s;
    names += (names.empty() ? "" : ", ") + std::string(s.name);
  }
  if (!spec)
    throw std::invalid_argument(where + "unknown action '" + action->valuestring + "' (expected " + names + ")");

  Rule rule;
  rule.action = spec->action;
  std::string about = where + "action '" + spec->name + "' ";
  const cJSON *field = nullptr;
  cJSON_ArrayForEach(field, item) {
    std::string key = field->string;
    if (key == "action") continue;
    auto listed = [&key](const std::vector<std::string> &keys) {
      return std::find(keys.begin(), keys.end(), key) != keys.end();
    };
    if (!listed(spec->required) && !listed(spec->optional)) {
      std::string expected = "action";
      for (const auto &k : spec->required) expected += ", " + k;
      for (const auto &k : spec->optional) expected += ", " + k;
      throw std::invalid_argument(about + "takes no key '" + key + "' (expected " + expected + ")");
    }
    if (!cJSON_IsString(field)) throw std::invalid_argument(where + "'" + key + "' must be a string");
  }
  for (const auto &key : spec->required)
    if (!cJSON_GetObjectItemCaseSensitive(item, key.c_str()))
      throw std::invalid_argument(about + "needs '" + key + "'");

  auto text = [item](const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(item, key);
    return v ? std::string(v->valuestring) : std::string();
  };
  if (cJSON_GetObjectItemCaseSensitive(item, "match")) {
    vitals::Selector selector;
    std::string error;
    if (!vitals::Selector::parse(text("match"), selector, error))
      throw std::invalid_argument(where + "match: " + error);
    rule.match = std::move(selector);
  }
  rule.key = text("key");
  rule.value = text("value");
  rule.from = text("from");
  rule.to = text("to");
  auto check = [&](const char *key, const std::string &v, bool label_key) {
    if (label_key ? !vitals::valid_label_key(v) : !vitals::valid_series_name(v))
      throw std::invalid_argument(
          where + key + ": '" + v + "' is not a valid " +
          (label_key ? "label key ([a-zA-Z_][a-zA-Z0-9_]*)" : "metric name ([a-zA-Z_:][a-zA-Z0-9_:.]*)"));
  };
  switch (rule.action) {
    case Action::rename:
      check("to", rule.to, false);
      break;
    case Action::set_label:
    case Action::drop_label:
      check("key", rule.key, true);
      break;
    case Action::rename_label:
      check("from", rule.from, true);
      check("to", rule.to, true);
      break;
    case Action::drop:
    case Action::keep:
      break;
  }
  return rule;
}

std::vector<Rule> parse_rules(const cJSON *rules) {
  if (!cJSON_IsArray(rules))
    throw std::invalid_argument("rules: must be an array of tables like [ { action = \"drop\", match = \"...\" } ]");
  std::vector<Rule> out;
  size_t index = 0;
  const cJSON *item = nullptr;
  cJSON_ArrayForEach(item, rules) out.push_back(parse_rule(item, index++));
  return out;
}

class Relabel final : public vitals::Processor {
 public:
  struct Settings {
    vitals::AnyValue rules;
  };
  static constexpr auto schema = vitals::settings<Settings>(
      vitals::key("rules", &Settings::rules, nullptr, "[{action, match, key, value, from, to}, ...] applied in order"));
  static constexpr const char *sample_config = vitals_sample_toml;

  // Past this many distinct input series the cache starts over, so that a
  // stream of short-lived series cannot grow it without bound.
  static constexpr size_t max_cached_series = 100'000;

  Relabel(vitals::Host host, const vitals::Config &config)
      : Processor(host), rules_(parse_rules(schema.read(config).rules.get())) {}

  vitals::Status consume(const vitals::BatchView &in, vitals_ack_t *) override {
    out_.clear();
    out_.reserve(in.size());
    for (size_t i = 0; i < in.size(); ++i) {
      vitals::SeriesId id = output_of(in.series(i));
      if (id)
        out_.add(id, in.ts_ns(i), in.value(i));
      else
        ++dropped_;
    }
    // Events are not series: relabel does not own them (no
    // VITALS_FLAG_PROCESSOR_EVENTS), and the agent passes them on unchanged.
    samples_in_ += in.size();
    if (out_.empty()) return vitals::Status::ok;
    // Inside consume() the agent never refuses for a full queue (it holds the
    // processor instead); any refusal fails the batch rather than dropping it
    // quietly, so its sender sees that nothing went downstream.
    if (int rc = host().emit(out_); rc != VITALS_OK)
      throw std::runtime_error("downstream refused the relabelled batch (status " + std::to_string(rc) + ")");
    samples_out_ += out_.size();
    return vitals::Status::ok;
  }

  void stats(const vitals::StatsVisitor &visit) override {
    visit("samples_in", static_cast<double>(samples_in_), {});
    visit("samples_out", static_cast<double>(samples_out_), {});
    visit("samples_dropped", static_cast<double>(dropped_), {});
    visit("cache_misses", static_cast<double>(cache_misses_), {});
    visit("cache_entries", static_cast<double>(cache_.size()), {});
  }

 private:
  // The output series for `in`, or 0 when a rule drops it.
  vitals::SeriesId output_of(vitals::SeriesId in) {
    if (auto it = cache_.find(in); it != cache_.end()) return it->second;
    ++cache_misses_;
    if (cache_.size() >= max_cached_series) cache_.clear();
    vitals::SeriesId out = apply_rules(in);
    cache_.emplace(in, out);
    return out;
  }

  vitals::SeriesId apply_rules(vitals::SeriesId in) const {
    const vitals_series_t *series = host().series(in);
    if (!series) return in;  // unknown to the host: pass it on rather than lose it
    std::string name = series->name;
    std::vector<vitals::Label> labels;
    for (uint32_t i = 0; i < series->n_labels; ++i) labels.push_back({series->labels[i].key, series->labels[i].value});
    auto find = [&labels](const std::string &key) {
      return std::find_if(labels.begin(), labels.end(), [&key](const vitals::Label &l) { return l.key == key; });
    };
    bool changed = false;
    for (const Rule &rule : rules_) {
      bool hit = !rule.match || rule.match->matches(name, labels);
      if (rule.action == Action::drop && hit) return 0;
      if (rule.action == Action::keep && !hit) return 0;
      if (!hit) continue;
      switch (rule.action) {
        case Action::drop:
        case Action::keep:
          break;
        case Action::rename:
          changed |= name != rule.to;
          name = rule.to;
          break;
        case Action::set_label:
          if (auto it = find(rule.key); it == labels.end()) {
            labels.push_back({rule.key, rule.value});
            changed = true;
          } else if (it->value != rule.value) {
            it->value = rule.value;
            changed = true;
          }
          break;
        case Action::drop_label:
          if (auto it = find(rule.key); it != labels.end()) {
            labels.erase(it);
            changed = true;
          }
          break;
        case Action::rename_label:
          if (auto it = find(rule.from); it != labels.end() && rule.from != rule.to) {
            std::string value = std::move(it->value);
            labels.erase(it);
            if (auto existing = find(rule.to); existing != labels.end())
              existing->value = std::move(value);
            else
              labels.push_back({rule.to, std::move(value)});
            changed = true;
          }
          break;
      }
    }
    return changed ? host().intern(name, labels) : in;
  }

  std::vector<Rule> rules_;
  std::unordered_map<vitals::SeriesId, vitals::SeriesId> cache_;
  vitals::Batch out_;
  uint64_t samples_in_ = 0, samples_out_ = 0, dropped_ = 0, cache_misses_ = 0;
};

}  // namespace

VITALS_PLUGIN(Relabel, "relabel", "1.0.0", "Renames, adds and drops labels and series by selector")
