// Behaviour of the relabel processor: each action, rule order, the cache and bad rules.
#include <doctest/doctest.h>

#include <sstream>

#include "vitals/testing.hpp"

namespace {

using vitals::testing::Sample;

// Series text of every sample the processor emitted, in order.
std::vector<std::string> emitted(vitals::testing::Host &host) {
  std::vector<std::string> out;
  for (const auto &s : host.take_samples()) out.push_back(s.series);
  return out;
}

std::vector<std::string> relabel(const std::string &rules, const std::vector<std::string> &series) {
  vitals::testing::Host host;
  auto processor = host.create(vitals_plugin(), "rules = " + rules);
  std::vector<Sample> in;
  for (size_t i = 0; i < series.size(); ++i) in.push_back({series[i], static_cast<int64_t>(i), 1.0});
  REQUIRE(processor.consume(in) == VITALS_OK);
  return emitted(host);
}

std::string refusal(const std::string &config) {
  vitals::testing::Host host;
  try {
    host.create(vitals_plugin(), config);
  } catch (const std::runtime_error &e) {
    return e.what();
  }
  return "accepted";
}

using Series = std::vector<std::string>;

}  // namespace

TEST_CASE("relabel drop removes the series its selector matches") {
  CHECK(relabel(R"([ { action = "drop", match = "cpu_usage{mode=\"idle\"}" } ])",
                {R"(cpu_usage{cpu="0",mode="idle"})", R"(cpu_usage{cpu="0",mode="user"})", "load1"}) ==
        Series{R"(cpu_usage{cpu="0",mode="user"})", "load1"});
}

TEST_CASE("relabel keep removes every series its selector does not match") {
  CHECK(relabel(R"([ { action = "keep", match = "cpu_*" } ])",
                {R"(cpu_usage{mode="idle"})", "load1", "cpu_temp", "memory_used"}) ==
        Series{R"(cpu_usage{mode="idle"})", "cpu_temp"});
}

TEST_CASE("relabel rename changes the metric name and keeps the labels") {
  CHECK(relabel(R"([ { action = "rename", match = "load1", to = "system_load1" } ])",
                {"load1", "load5", R"(load1{host="a"})"}) ==
        Series{"system_load1", "load5", R"(system_load1{host="a"})"});
  CHECK(relabel(R"([ { action = "rename", to = "everything" } ])", {"a", R"(b{k="v"})"}) ==
        Series{"everything", R"(everything{k="v"})"});
}

TEST_CASE("relabel set_label adds or overwrites a label, on every series without match") {
  CHECK(relabel(R"([ { action = "set_label", key = "host", value = "pi4" } ])",
                {"load1", R"(cpu{host="old",mode="user"})"}) ==
        Series{R"(load1{host="pi4"})", R"(cpu{host="pi4",mode="user"})"});
  CHECK(relabel(R"([ { action = "set_label", key = "room", value = "attic", match = "temp*" } ])",
                {"temp_c", "load1"}) == Series{R"(temp_c{room="attic"})", "load1"});
}

TEST_CASE("relabel drop_label removes one label and leaves series without it alone") {
  CHECK(relabel(R"([ { action = "drop_label", key = "cpu" } ])",
                {R"(cpu_usage{cpu="3",mode="user"})", "load1", R"(cpu_usage{cpu="total"})"}) ==
        Series{R"(cpu_usage{mode="user"})", "load1", "cpu_usage"});
  CHECK(relabel(R"([ { action = "drop_label", key = "cpu", match = "cpu_usage{cpu=\"total\"}" } ])",
                {R"(cpu_usage{cpu="3"})", R"(cpu_usage{cpu="total"})"}) ==
        Series{R"(cpu_usage{cpu="3"})", "cpu_usage"});
}

TEST_CASE("relabel rename_label moves a value to a new key, replacing what was there") {
  CHECK(relabel(R"([ { action = "rename_label", from = "mode", to = "state" } ])",
                {R"(cpu{mode="user"})", "load1", R"(cpu{mode="idle",state="x"})"}) ==
        Series{R"(cpu{state="user"})", "load1", R"(cpu{state="idle"})"});
}

TEST_CASE("relabel applies rules in order, each on the result of the ones before") {
  // The rename happens first, so the later rule matches the new name.
  CHECK(relabel(R"([ { action = "rename", match = "load1", to = "system_load1" },
                     { action = "set_label", key = "kind", value = "system", match = "system_*" } ])",
                {"load1"}) == Series{R"(system_load1{kind="system"})"});
  // In the other order the label rule sees the old name and does nothing.
  CHECK(relabel(R"([ { action = "set_label", key = "kind", value = "system", match = "system_*" },
                     { action = "rename", match = "load1", to = "system_load1" } ])",
                {"load1"}) == Series{"system_load1"});
  // A label set by an earlier rule can make a later drop match.
  CHECK(relabel(R"([ { action = "set_label", key = "noisy", value = "yes", match = "debug_*" },
                     { action = "drop", match = "{noisy=\"yes\"}" } ])",
                {"debug_x", "load1"}) == Series{"load1"});
}

TEST_CASE("relabel runs the README example: keep before rename means load1 never reaches the rename") {
  CHECK(relabel(R"([
      { action = "drop", match = "cpu_usage{mode=\"idle\"}" },
      { action = "keep", match = "cpu_*" },
      { action = "rename", match = "load1", to = "system_load1" },
      { action = "set_label", key = "host", value = "pi4", match = "*" },
      { action = "drop_label", key = "cpu" },
      { action = "rename_label", from = "mode", to = "state" } ])",
                {R"(cpu_usage{cpu="0",mode="idle"})", R"(cpu_usage{cpu="0",mode="user"})", "load1"}) ==
        Series{R"(cpu_usage{host="pi4",state="user"})"});
}

TEST_CASE("relabel runs the sample.toml rules as its comments say") {
  auto doc = toml::parse(vitals_plugin()->sample_config);
  toml::table own;
  own.insert("rules", *doc["processor"]["tidy"]["rules"].as_array());
  std::ostringstream rules;
  rules << own;
  vitals::testing::Host host;
  auto processor = host.create(vitals_plugin(), rules.str());
  REQUIRE(processor.consume({{R"(cpu_usage{cpu="total",mode="idle"})", 1, 90},
                             {R"(cpu_usage{cpu="total",mode="user"})", 1, 10},
                             {R"(cpu_usage{cpu="1",mode="user"})", 1, 12},
                             {"load1", 1, 0.5},
                             {"load_procs_total", 1, 400}}) == VITALS_OK);
  CHECK(emitted(host) == Series{R"(cpu_usage{host="pi4",state="user"})",
                                R"(cpu_usage{cpu="1",host="pi4",state="user"})", R"(system_load1{host="pi4"})"});
}

TEST_CASE("relabel keeps timestamps, values and the ids of series no rule changed") {
  vitals::testing::Host host;
  auto processor = host.create(vitals_plugin(), R"(rules = [ { action = "rename", match = "a", to = "b" } ])");
  REQUIRE(processor.consume({{"a", 10, 1.5}, {"c", 20, -2}, {"a", 30, 7}}) == VITALS_OK);
  auto out = host.samples();
  REQUIRE(out.size() == 3);
  CHECK(out[0].series == "b");
  CHECK(out[0].ts_ns == 10);
  CHECK(out[0].value == 1.5);
  CHECK(out[1].series == "c");
  CHECK(out[1].value == -2);
  CHECK(out[2].ts_ns == 30);
  CHECK(out[2].value == 7);
}

TEST_CASE("relabel leaves events to the agent, which passes them on: it neither owns nor emits them") {
  // Without VITALS_FLAG_PROCESSOR_EVENTS the agent hands consume() samples
  // only and passes the events on itself; were relabel to emit the events
  // of a batch it is handed anyway, they would arrive twice.
  CHECK((vitals_plugin()->flags & VITALS_FLAG_PROCESSOR_EVENTS) == 0);
  vitals::testing::Host host;
  auto processor = host.create(vitals_plugin(), R"(rules = [ { action = "drop", match = "*" } ])");
  vitals::SeriesId id = host.intern("load1");
  int64_t ts = 5;
  double value = 1;
  vitals_label_t label{"sensor", "t1"};
  vitals_event_t event{};
  event.ts_ns = 42;
  event.severity = VITALS_SEVERITY_CRITICAL;
  event.source = "alerting";
  event.message = "too hot";
  event.labels = &label;
  event.n_labels = 1;
  vitals_batch_t batch{};
  batch.n_samples = 1;
  batch.series = &id;
  batch.ts_ns = &ts;
  batch.values = &value;
  batch.n_events = 1;
  batch.events = &event;
  REQUIRE(vitals_plugin()->consume(processor.raw(), &batch, nullptr) == VITALS_OK);
  CHECK(host.samples().empty());
  CHECK(host.events().empty());
  CHECK(host.emit_calls() == 0);
}

TEST_CASE("relabel emits nothing when every sample is dropped") {
  vitals::testing::Host host;
  auto processor = host.create(vitals_plugin(), R"(rules = [ { action = "keep", match = "cpu_*" } ])");
  CHECK(processor.consume({{"load1", 1, 1}, {"load5", 1, 1}}) == VITALS_OK);
  CHECK(host.emit_calls() == 0);
  CHECK(processor.stats()["samples_dropped"] == 2);
}

TEST_CASE("relabel with no rules passes everything through") {
  CHECK(relabel("[]", {"a", R"(b{k="v"})"}) == Series{"a", R"(b{k="v"})"});
}

TEST_CASE("relabel evaluates the rules once per series, then looks the result up") {
  vitals::testing::Host host;
  auto processor = host.create(vitals_plugin(), R"(rules = [ { action = "set_label", key = "host", value = "pi4" } ])");
  std::vector<Sample> batch;
  for (int i = 0; i < 50; ++i) batch.push_back({"s" + std::to_string(i % 5), i, 1.0});
  for (int round = 0; round < 3; ++round) REQUIRE(processor.consume(batch) == VITALS_OK);
  auto stats = processor.stats();
  CHECK(stats["cache_misses"] == 5);
  CHECK(stats["cache_entries"] == 5);
  CHECK(stats["samples_in"] == 150);
  CHECK(stats["samples_out"] == 150);
  auto out = host.samples();
  REQUIRE(out.size() == 150);
  CHECK(out[149].series == R"(s4{host="pi4"})");
}

TEST_CASE("relabel bounds its cache and stays correct when it starts over") {
  vitals::testing::Host host;
  auto processor = host.create(vitals_plugin(), R"(rules = [ { action = "drop", match = "{i=\"7\"}" } ])");
  std::vector<Sample> batch;
  for (int i = 0; i < 100'005; ++i) batch.push_back({"m{i=\"" + std::to_string(i) + "\"}", i, 1.0});
  REQUIRE(processor.consume(batch) == VITALS_OK);
  auto stats = processor.stats();
  CHECK(stats["cache_entries"] <= 100'000);
  CHECK(stats["cache_misses"] == 100'005);
  REQUIRE(processor.consume({{"m{i=\"7\"}", 1, 1}, {"m{i=\"8\"}", 1, 1}}) == VITALS_OK);
  CHECK(host.samples().back().series == "m{i=\"8\"}");
  CHECK(host.samples().size() == 100'004 + 1);
}

TEST_CASE("relabel fails the batch when downstream refuses it") {
  vitals::testing::Host host;
  auto processor = host.create(vitals_plugin(), "rules = []");
  host.set_backpressure(true);
  CHECK(processor.consume({{"a", 1, 1}}) == VITALS_ERROR);
  CHECK(processor.last_error().find("downstream refused") != std::string::npos);
}

TEST_CASE("relabel refuses bad rules naming the rule index and key") {
  CHECK(refusal(R"(rules = [ { action = "drop", match = "a" }, { action = "keep", match = "b" },
                             { action = "frob" } ])") ==
        "create failed: rules[2]: unknown action 'frob' (expected drop, keep, rename, set_label, drop_label, "
        "rename_label)");
  CHECK(refusal(R"(rules = [ { match = "a" } ])") == "create failed: rules[0]: missing 'action'");
  CHECK(refusal(R"(rules = [ { action = 1 } ])") == "create failed: rules[0]: 'action' must be a string");
  CHECK(refusal(R"(rules = [ { action = "drop" } ])") == "create failed: rules[0]: action 'drop' needs 'match'");
  CHECK(refusal(R"(rules = [ { action = "keep" } ])") == "create failed: rules[0]: action 'keep' needs 'match'");
  CHECK(refusal(R"(rules = [ { action = "rename", match = "a" } ])") ==
        "create failed: rules[0]: action 'rename' needs 'to'");
  CHECK(refusal(R"(rules = [ { action = "set_label", key = "k" } ])") ==
        "create failed: rules[0]: action 'set_label' needs 'value'");
  CHECK(refusal(R"(rules = [ { action = "rename_label", to = "k" } ])") ==
        "create failed: rules[0]: action 'rename_label' needs 'from'");
  CHECK(refusal(R"(rules = [ { action = "drop_label", key = "k", to = "x" } ])") ==
        "create failed: rules[0]: action 'drop_label' takes no key 'to' (expected action, key, match)");
  CHECK(refusal(R"(rules = [ { action = "set_label", key = "k", value = 4 } ])") ==
        "create failed: rules[0]: 'value' must be a string");
  CHECK(refusal(R"(rules = [ { action = "drop", match = "cpu{mode=" } ])")
            .starts_with("create failed: rules[0]: match: expected a quoted value at offset 9"));
  CHECK(refusal(R"(rules = [ { action = "drop", match = "a{b=~\"(\"}" } ])")
            .starts_with("create failed: rules[0]: match: invalid regular expression"));
  CHECK(refusal(R"(rules = [ { action = "rename", to = "9lives" } ])") ==
        "create failed: rules[0]: to: '9lives' is not a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:.]*)");
  CHECK(refusal(R"(rules = [ { action = "set_label", key = "a.b", value = "v" } ])") ==
        "create failed: rules[0]: key: 'a.b' is not a valid label key ([a-zA-Z_][a-zA-Z0-9_]*)");
  CHECK(refusal(R"(rules = [ { action = "rename_label", from = "mode", to = "" } ])") ==
        "create failed: rules[0]: to: '' is not a valid label key ([a-zA-Z_][a-zA-Z0-9_]*)");
  CHECK(refusal(R"(rules = [ "drop" ])").starts_with("create failed: rules[0]: must be a table"));
  CHECK(refusal(R"(rules = "drop")").starts_with("create failed: rules: must be an array of tables"));
  CHECK(refusal("").find("missing required key 'rules'") != std::string::npos);
}
