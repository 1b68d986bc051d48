// The plugin through the SDK's test host: routes, one emit per request, the
// answer only after the acknowledgement, 503 with Retry-After, whole-request
// refusal, configuration and self-metrics.
#include <cjson/cJSON.h>
#include <doctest/doctest.h>

#include <memory>
#include <optional>

#include "vitals/testing.hpp"

namespace {

using vitals::testing::HttpResult;

std::string header(const HttpResult &r, const std::string &name) {
  for (const auto &[k, v] : r.headers)
    if (k == name) return v;
  return "";
}

// A field of a JSON error body, as text ("" when absent).
std::string field(const HttpResult &r, const char *name) {
  std::unique_ptr<cJSON, decltype(&cJSON_Delete)> root(cJSON_Parse(r.body.c_str()), cJSON_Delete);
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(root.get(), name);
  if (cJSON_IsString(v)) return v->valuestring;
  if (cJSON_IsNumber(v)) return std::to_string(static_cast<long long>(v->valuedouble));
  return "";
}

struct Plugin {
  explicit Plugin(const std::string &toml = "") : inst(host.create(vitals_plugin(), toml)) {
    REQUIRE(inst.start() == VITALS_OK);
  }
  vitals::testing::Host host;
  vitals::testing::Instance inst;
};

}  // namespace

TEST_CASE("registers POST /api/telemetry and POST /api/write") {
  Plugin p;
  CHECK(p.host.routes() == std::vector<std::string>{"POST /api/telemetry", "POST /api/write", "POST /write",
                                                    "POST /api/v2/write", "GET /ping"});
  Plugin plain("influx_routes = false");
  CHECK(plain.host.routes() == std::vector<std::string>{"POST /api/telemetry", "POST /api/write"});
  Plugin custom("path = \"/ingest/json\"\nwrite_path = \"\"");
  CHECK(custom.host.routes() == std::vector<std::string>{"POST /ingest/json"});
}

TEST_CASE("committed: the answer is 204 only once the batch is acknowledged") {
  Plugin p;
  auto r = p.host.http("POST", "/api/write?precision=s", "room,floor=1 temp=21.5,hum=40i 1700000000\n");
  CHECK(r->status == 0);  // not answered yet
  CHECK(p.host.emit_calls() == 1);
  auto samples = p.host.samples();
  REQUIRE(samples.size() == 2);
  CHECK(samples[0].series == R"(room_temp{floor="1"})");
  CHECK(samples[0].ts_ns == 1700000000'000'000'000);
  CHECK(samples[0].value == 21.5);
  CHECK(samples[1].series == R"(room_hum{floor="1"})");
  CHECK(samples[1].value == 40);
  p.host.deliver_acks(VITALS_OK);
  CHECK(r->status == 204);
  CHECK(r->body.empty());
  CHECK(r->finished);
  CHECK(p.host.metric("vitals_http_telemetry_samples_total") == 2);
}

TEST_CASE("committed: a failed acknowledgement answers 503 with Retry-After") {
  Plugin p;
  auto r = p.host.http("POST", "/api/telemetry", R"({"signals": {"temp": 1}})");
  CHECK(r->status == 0);
  p.host.deliver_acks(VITALS_ERROR);
  CHECK(r->status == 503);
  CHECK(header(*r, "Retry-After") == "1");
  CHECK(field(*r, "error").find("not stored: failed in test") == 0);
  CHECK(p.host.metric("vitals_http_telemetry_busy_total") == 1);
  CHECK(p.host.metric("vitals_http_telemetry_samples_total") == 0);
}

TEST_CASE("backpressure answers 503 with Retry-After at once and stores nothing") {
  Plugin p;
  p.host.set_backpressure(true);
  auto r = p.host.http("POST", "/api/write", "m v=1 1");
  CHECK(r->status == 503);
  CHECK(header(*r, "Retry-After") == "1");
  CHECK(field(*r, "error") == "pipeline busy (backpressure): retry later");
  CHECK(p.host.samples().empty());
  p.host.deliver_acks(VITALS_OK);  // nothing pending: the answer stays
  CHECK(r->status == 503);
  CHECK(p.host.metric("vitals_http_telemetry_busy_total") == 1);
  p.host.set_backpressure(false);
  auto again = p.host.http("POST", "/api/write", "m v=1 1");
  p.host.deliver_acks(VITALS_OK);
  CHECK(again->status == 204);
}

TEST_CASE("ack = \"accepted\" answers 204 as soon as the batch is queued") {
  Plugin p("ack = \"accepted\"");
  auto r = p.host.http("POST", "/api/telemetry", R"({"signals": {"temp": 1}})");
  CHECK(r->status == 204);
  CHECK(p.host.samples().size() == 1);
  p.host.set_backpressure(true);
  auto busy = p.host.http("POST", "/api/telemetry", R"({"signals": {"temp": 1}})");
  CHECK(busy->status == 503);
  CHECK(header(*busy, "Retry-After") == "1");
}

TEST_CASE("one request is one emit, however many lines and objects it holds") {
  Plugin p;
  p.host.http("POST", "/api/write", "a v=1 1\nb v=2 2\nc x=3,y=4 3\n");
  p.host.http("POST", "/api/telemetry", R"([{"signals": {"a": 1}}, {"signals": {"b": 2}}, {"name": "c", "value": 3}])");
  CHECK(p.host.emit_calls() == 2);
  CHECK(p.host.samples().size() == 7);
}

TEST_CASE("a malformed part refuses the whole request: 400, nothing emitted") {
  Plugin p;
  auto r = p.host.http("POST", "/api/write", "good v=1 1\ngood v=2 2\nbad v=nan 3\n");
  CHECK(r->status == 400);
  CHECK(r->content_type == "application/json");
  CHECK(field(*r, "error") == "NaN and Infinity are not allowed (field 'v')");
  CHECK(field(*r, "line") == "3");
  CHECK(field(*r, "column") == "7");
  CHECK(field(*r, "offset") == "28");
  CHECK(p.host.emit_calls() == 0);
  CHECK(p.host.samples().empty());

  auto j = p.host.http("POST", "/api/telemetry", R"([{"signals": {"a": 1}}, {"signals": {"b": "x"}}])");
  CHECK(j->status == 400);
  CHECK(field(*j, "error") == "a value must be a number or a boolean, got a string at [1].signals.b");
  CHECK(field(*j, "path") == "[1].signals.b");
  auto syntax = p.host.http("POST", "/api/telemetry", R"({"signals": {"a": 1,}})");
  CHECK(syntax->status == 400);
  CHECK(field(*syntax, "offset") == "20");
  CHECK(p.host.emit_calls() == 0);
  CHECK(p.host.metric("vitals_http_telemetry_rejected_total") == 3);
  CHECK(p.host.metric("vitals_http_telemetry_requests_total") == 3);
}

TEST_CASE("precision: ns by default, n/u/us/ms/s accepted, anything else refused") {
  Plugin p("ack = \"accepted\"");
  struct Case {
    const char *query;
    int64_t ts;
  };
  for (const Case &c : {Case{"", 1700000000}, Case{"?precision=ns", 1700000000}, Case{"?precision=n", 1700000000},
                        Case{"?precision=u", 1700000000'000}, Case{"?precision=us", 1700000000'000},
                        Case{"?precision=ms", 1700000000'000'000}, Case{"?precision=s", 1700000000'000'000'000}}) {
    INFO(c.query);
    p.host.take_samples();
    auto r = p.host.http("POST", std::string("/api/write") + c.query, "m v=1 1700000000");
    REQUIRE(r->status == 204);
    auto s = p.host.samples();
    REQUIRE(s.size() == 1);
    CHECK(s[0].ts_ns == c.ts);
  }
  auto bad = p.host.http("POST", "/api/write?precision=h", "m v=1 1");
  CHECK(bad->status == 400);
  CHECK(field(*bad, "error") == "precision: unknown \"h\" (expected ns, us, ms or s)");
}

TEST_CASE("a request without timestamps gets the time of receipt") {
  Plugin p("ack = \"accepted\"");
  int64_t before = vitals::testing::Host::now_ns();
  p.host.http("POST", "/api/write", "m v=1\nn v=2");
  p.host.http("POST", "/api/telemetry", R"({"signals": {"o": 3}})");
  int64_t after = vitals::testing::Host::now_ns();
  auto s = p.host.samples();
  REQUIRE(s.size() == 3);
  CHECK(s[0].ts_ns == s[1].ts_ns);  // one receipt time per request
  for (const auto &x : s) CHECK((x.ts_ns >= before && x.ts_ns <= after));
}

TEST_CASE("labels from the config go on every sample the request does not label itself") {
  Plugin p("ack = \"accepted\"\nlabels = { site = \"lab\", device = \"gateway\" }");
  p.host.http("POST", "/api/write", "m,device=esp v=1 1\nm v=2 2");
  p.host.http("POST", "/api/telemetry", R"({"signals": {"t": 3}, "device": "pi"})");
  auto s = p.host.samples();
  REQUIRE(s.size() == 3);
  CHECK(s[0].series == R"(m_v{device="esp",site="lab"})");
  CHECK(s[1].series == R"(m_v{device="gateway",site="lab"})");
  CHECK(s[2].series == R"(t{device="pi",site="lab"})");
}

TEST_CASE("sanitize_names: on by default, false refuses invalid names") {
  Plugin on("ack = \"accepted\"");
  CHECK(on.host.http("POST", "/api/telemetry", R"({"signals": {"temp-1": 1}})")->status == 204);
  CHECK(on.host.samples()[0].series == "temp_1");
  Plugin off("ack = \"accepted\"\nsanitize_names = false");
  auto r = off.host.http("POST", "/api/telemetry", R"({"signals": {"temp-1": 1}})");
  CHECK(r->status == 400);
  CHECK(field(*r, "path") == "signals.temp-1");
  auto w = off.host.http("POST", "/api/write", "temp-1 v=1");
  CHECK(w->status == 400);
  CHECK(field(*w, "error").find("invalid measurement 'temp-1'") == 0);
  CHECK(off.host.samples().empty());
}

TEST_CASE("max_samples: a larger request is refused with 413") {
  Plugin p("max_samples = 2");
  auto r = p.host.http("POST", "/api/write", "m a=1,b=2,c=3 1");
  CHECK(r->status == 413);
  CHECK(field(*r, "error") == "too many samples in one request: more than 2 (max_samples); split it");
  CHECK(p.host.emit_calls() == 0);
  auto ok = p.host.http("POST", "/api/write", "m a=1,b=2 1");
  p.host.deliver_acks();
  CHECK(ok->status == 204);
}

TEST_CASE("compressed bodies are refused with 415") {
  Plugin p;
  auto r = p.host.http("POST", "/api/write", "\x1f\x8b", {{"content-encoding", "gzip"}});
  CHECK(r->status == 415);
  CHECK(field(*r, "error").find("Content-Encoding \"gzip\" is not supported") == 0);
  auto plain = p.host.http("POST", "/api/write", "m v=1 1", {{"content-encoding", "identity"}});
  p.host.deliver_acks();
  CHECK(plain->status == 204);
}

TEST_CASE("nothing to store answers 204 without an emit") {
  Plugin p;
  CHECK(p.host.http("POST", "/api/write", "# only a comment\n")->status == 204);
  CHECK(p.host.http("POST", "/api/telemetry", "[]")->status == 204);
  CHECK(p.host.http("POST", "/api/write", "m s=\"text only\" 1")->status == 204);
  CHECK(p.host.emit_calls() == 0);
  CHECK(p.host.metric("vitals_http_telemetry_string_fields_skipped_total") == 1);
}

TEST_CASE("steady-state requests hit the series cache instead of interning") {
  Plugin p("ack = \"accepted\"");
  std::string body = "cpu,host=a usage=1,idle=2 1\ncpu,host=b usage=3 1\n";
  p.host.http("POST", "/api/write", body);
  auto first = p.inst.stats();
  CHECK(first["series_interned"] == 3);
  CHECK(first["series_cache_entries"] == 3);
  CHECK(first["series_cache_misses"] == 3);
  for (int i = 0; i < 10; ++i) CHECK(p.host.http("POST", "/api/write", body)->status == 204);
  auto later = p.inst.stats();
  CHECK(later["series_interned"] == 3);
  CHECK(later["series_cache_hits"] == 30);
  CHECK(p.host.samples().size() == 33);
}

TEST_CASE("self-metrics count requests, samples, refusals, 503s and skipped strings") {
  Plugin p;
  p.host.http("POST", "/api/write", "m v=1,s=\"x\",t=\"y\" 1");
  p.host.deliver_acks();
  p.host.http("POST", "/api/write", "bad");
  p.host.set_backpressure(true);
  p.host.http("POST", "/api/write", "m v=1 1");
  CHECK(p.host.metric("vitals_http_telemetry_requests_total") == 3);
  CHECK(p.host.metric("vitals_http_telemetry_samples_total") == 1);
  CHECK(p.host.metric("vitals_http_telemetry_rejected_total") == 1);
  CHECK(p.host.metric("vitals_http_telemetry_busy_total") == 1);
  CHECK(p.host.metric("vitals_http_telemetry_string_fields_skipped_total") == 2);
}

TEST_CASE("a request still waiting for its ack when the instance goes is answered 503, never left hanging") {
  vitals::testing::Host host;
  std::shared_ptr<HttpResult> r;
  {
    auto inst = host.create(vitals_plugin(), "");
    REQUIRE(inst.start() == VITALS_OK);
    r = host.http("POST", "/api/write", "m v=1 1");
    inst.stop();
    CHECK(r->status == 0);
  }
  // The host delivers pending acks (as stopped) before destroying a plugin.
  CHECK(r->status == 503);
  CHECK(r->finished);
}

TEST_CASE("bad settings are refused with the key") {
  vitals::testing::Host host;
  auto refused = [&](const std::string &toml, const std::string &message) {
    INFO(toml);
    try {
      host.create(vitals_plugin(), toml);
      FAIL("accepted");
    } catch (const std::runtime_error &e) {
      CHECK(std::string(e.what()).find(message) != std::string::npos);
    }
  };
  // Bounds and choices are the schema's: refused by the host with the line, as `vitals check` does.
  refused("ack = \"sometimes\"", "'ack' must be one of \"committed\", \"accepted\" (got \"sometimes\")");
  refused("max_samples = 0", "'max_samples' must be at least 1 (got 0)");
  refused("labels = { \"bad-key\" = \"x\" }", "labels: key \"bad-key\" is not a valid label key");
  refused("labels = { n = 1 }", "labels.n: must be a string");
  refused("labels = [\"x\"]", "labels: must be a table of strings");
  refused("path = \"api\"", "path: must be a path starting with '/' (got \"api\")");
  refused("path = \"\"\nwrite_path = \"\"", "both are \"\"");
  refused("write_path = \"/api/telemetry\"", "write_path: must differ from path");
  refused("sanitize = true", "sanitize");
  refused("max_labels = 0", "'max_labels' must be at least 1 (got 0)");
  refused("max_name_length = 70000", "'max_name_length' must be at most 65536 (got 70000)");
  refused("max_label_value_length = -1", "'max_label_value_length' must be at least 1 (got -1)");
  refused("max_labels = 1\nlabels = { a = \"1\", b = \"2\" }", "labels: 2 configured labels, more than max_labels (1)");
}

TEST_CASE("the series limits are configurable and answered with 400") {
  Plugin p("max_labels = 2\nmax_name_length = 8\nmax_label_value_length = 3\nlabels = { site = \"lab\" }");
  auto r = p.host.http("POST", "/api/write", "m,a=1,b=2 v=1 1\n");
  CHECK(r->status == 400);
  CHECK(field(*r, "error") == "too many labels: 3 with the configured ones, more than 2 (max_labels)");
  r = p.host.http("POST", "/api/write", "m,a=1234 v=1 1\n");
  CHECK(r->status == 400);
  CHECK(field(*r, "error") == "value of label 'a' is 4 bytes long: more than 3 (max_label_value_length)");
  r = p.host.http("POST", "/api/telemetry", R"({"signals": {"long_name": 1}})");
  CHECK(r->status == 400);
  CHECK(field(*r, "error") ==
        "series name 'long_name' is 9 bytes long: more than 8 (max_name_length) at signals.long_name");
  CHECK(p.host.emit_calls() == 0);
  r = p.host.http("POST", "/api/write", "m,a=123 v=1 1\n");
  CHECK(p.host.emit_calls() == 1);
}

TEST_CASE("a route another component owns is an error at start") {
  vitals::testing::Host host;
  auto first = host.create(vitals_plugin(), "");
  REQUIRE(first.start() == VITALS_OK);
  auto second = host.create(vitals_plugin(), "");
  CHECK(second.start() == VITALS_ERROR);
  CHECK(second.last_error() == "cannot register POST /api/telemetry: already taken");
}

TEST_CASE("an empty line protocol body is answered 204 with nothing emitted, as InfluxDB does") {
  Plugin p;
  auto r = p.host.http("POST", "/api/write", "");
  CHECK(r->status == 204);
  r = p.host.http("POST", "/api/write", "# only a comment\n\n");
  CHECK(r->status == 204);
  CHECK(p.host.emit_calls() == 0);
  // JSON keeps refusing it: an empty body is no JSON value.
  CHECK(p.host.http("POST", "/api/telemetry", "")->status == 400);
}

TEST_CASE("a full series registry answers 503 with the reason, not a 400 that clients treat as final") {
  Plugin p;
  p.host.set_series_limit(2);
  auto fits = p.host.http("POST", "/api/write", "m,k=a v=1 1\nm,k=b v=1 1\n");
  p.host.deliver_acks(VITALS_OK);
  CHECK(fits->status == 204);
  auto full = p.host.http("POST", "/api/write", "m,k=c v=1 1\n");
  CHECK(full->status == 503);
  CHECK(field(*full, "error").find("max_series") != std::string::npos);
  auto json = p.host.http("POST", "/api/telemetry", R"({"signals": {"other": 1}})");
  CHECK(json->status == 503);
  CHECK(field(*json, "error").find("max_series") != std::string::npos);
  auto known = p.host.http("POST", "/api/write", "m,k=a v=2 2\n");  // an existing series still works
  p.host.deliver_acks(VITALS_OK);
  CHECK(known->status == 204);
}
