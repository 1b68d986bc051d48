// The JSON telemetry parser on its own: every accepted shape with exact
// samples, every malformed body with its message and offset or JSON path.
#include <doctest/doctest.h>
#include <time.h>

#include <chrono>

#include "ingest_fixture.hpp"

using namespace vitals::http_telemetry;
using namespace vitals::http_telemetry::test;

namespace {
constexpr int64_t kMay1 = 1714564800'000'000'000;  // 2024-05-01T12:00:00Z
}

TEST_CASE("json: the sensor shape, booleans as 1 and 0") {
  Ingest in;
  expect_samples(
      in.json(R"({"timestamp": "2024-05-01T12:00:00Z", "signals": {"temp": 21.5, "on": true, "off": false}})"),
      {{"temp", kMay1, 21.5}, {"on", kMay1, 1}, {"off", kMay1, 0}});
}

TEST_CASE("json: epoch timestamps by magnitude: s, ms, us, ns, fractions") {
  Ingest in;
  expect_samples(in.json(R"({"timestamp": 1714564800, "signals": {"a": 1}})"), {{"a", kMay1, 1}});
  expect_samples(in.json(R"({"timestamp": 1714564800.123, "signals": {"a": 1}})"), {{"a", kMay1 + 123'000'000, 1}});
  expect_samples(in.json(R"({"timestamp": 1714564800123, "signals": {"a": 1}})"), {{"a", kMay1 + 123'000'000, 1}});
  expect_samples(in.json(R"({"timestamp": 1714564800123.456, "signals": {"a": 1}})"), {{"a", kMay1 + 123'456'000, 1}});
  expect_samples(in.json(R"({"timestamp": 1714564800123456, "signals": {"a": 1}})"), {{"a", kMay1 + 123'456'000, 1}});
  expect_samples(in.json(R"({"timestamp": 1714564800123456768, "signals": {"a": 1}})"),
                 {{"a", 1714564800123456768, 1}});
  expect_samples(in.json(R"({"timestamp": 0, "signals": {"a": 1}})"), {{"a", 0, 1}});
}

TEST_CASE("json: RFC 3339 timestamps with fractions and offsets") {
  Ingest in;
  expect_samples(in.json(R"({"timestamp": "2024-05-01T14:00:00.123456789+02:00", "signals": {"a": 1}})"),
                 {{"a", kMay1 + 123'456'789, 1}});
  expect_samples(in.json(R"({"timestamp": "2024-05-01t12:00:00.5z", "signals": {"a": 1}})"),
                 {{"a", kMay1 + 500'000'000, 1}});
  expect_samples(in.json(R"({"timestamp": "2024-05-01 07:30:00-04:30", "signals": {"a": 1}})"), {{"a", kMay1, 1}});
}

TEST_CASE("json: a missing timestamp is the time of receipt") {
  Ingest in;
  expect_samples(in.json(R"({"signals": {"a": 1}})"), {{"a", kNow, 1}});
}

TEST_CASE("json: labels apply to every signal; device and source become the label device") {
  Ingest in;
  expect_samples(
      in.json(R"({"signals": {"temp": 20, "hum": 40}, "labels": {"room": "attic", "floor": "2"}, "device": "esp-1"})"),
      {{R"(temp{device="esp-1",floor="2",room="attic"})", kNow, 20},
       {R"(hum{device="esp-1",floor="2",room="attic"})", kNow, 40}});
  expect_samples(in.json(R"({"signals": {"temp": 20}, "source": "pi"})"), {{R"(temp{device="pi"})", kNow, 20}});
}

TEST_CASE("json: string escapes decode, surrogate pairs included") {
  Ingest in;
  expect_samples(in.json(R"({"signals": {"t": 1}, "labels": {"icon": "\ud83c\udf21", "note": "a\"b\\c\u00e9\/"}})"),
                 {{"t{icon=\"\xf0\x9f\x8c\xa1\",note=\"a\\\"b\\\\c\xc3\xa9/\"}", kNow, 1}});
}

TEST_CASE("json: an array of sensor objects") {
  Ingest in;
  expect_samples(in.json(R"([{"timestamp": 1714564800, "signals": {"t": 1}, "device": "a"},
                             {"timestamp": 1714564801, "signals": {"t": 2}, "device": "b"}])"),
                 {{R"(t{device="a"})", kMay1, 1}, {R"(t{device="b"})", kMay1 + 1'000'000'000, 2}});
}

TEST_CASE("json: the explicit form, as an array or a single object, mixed with the sensor shape") {
  Ingest in;
  expect_samples(in.json(R"([{"name": "cpu_usage", "labels": {"cpu": "0"}, "ts": 1714564800, "value": 12.5},
                             {"name": "up", "value": true},
                             {"signals": {"x": 3}}])"),
                 {{R"(cpu_usage{cpu="0"})", kMay1, 12.5}, {"up", kNow, 1}, {"x", kNow, 3}});
  expect_samples(in.json(R"({"name": "load", "ts": "2024-05-01T12:00:00Z", "value": -0.25})"),
                 {{"load", kMay1, -0.25}});
}

TEST_CASE("json: nothing to store is not an error") {
  Ingest in;
  expect_samples(in.json("[]"), {});
  expect_samples(in.json(R"({"signals": {}})"), {});
}

TEST_CASE("json: names are sanitized by default, refused with sanitize_names = false") {
  Ingest in;
  expect_samples(in.json(R"({"signals": {"temp-1": 1, "2nd": 2, "température": 3}, "labels": {"room-id": "a"}})"),
                 {{R"(temp_1{room_id="a"})", kNow, 1},
                  {R"(_2nd{room_id="a"})", kNow, 2},
                  {R"(temp_rature{room_id="a"})", kNow, 3}});
  in.options.sanitize_names = false;
  expect_path_error(in.json(R"({"signals": {"ok": 1, "temp-1": 1}})"),
                    "invalid series name 'temp-1' (names match [a-zA-Z_:][a-zA-Z0-9_:.]*; sanitize_names = true "
                    "replaces invalid characters) at signals.temp-1",
                    "signals.temp-1");
  expect_path_error(in.json(R"([{"name": "a b", "value": 1}])"),
                    "invalid series name 'a b' (names match [a-zA-Z_:][a-zA-Z0-9_:.]*; sanitize_names = true "
                    "replaces invalid characters) at [0].name",
                    "[0].name");
  expect_path_error(in.json(R"({"signals": {"t": 1}, "labels": {"room-id": "a"}})"),
                    "invalid label key 'room-id' (label keys match [a-zA-Z_][a-zA-Z0-9_]*; sanitize_names = true "
                    "replaces invalid characters) at labels.room-id",
                    "labels.room-id");
}

TEST_CASE("json: syntax errors give the byte offset, line and column") {
  Ingest in;
  struct Case {
    std::string body, message;
    size_t line, column, offset;
  };
  const Case cases[] = {
      {R"({"signals": {"a": 1,}})", "invalid JSON: expected '\"' to start a key", 1, 21, 20},
      {"{\"signals\":\n  {\"a\": 1 \"b\": 2}}", "invalid JSON: expected ',' or '}'", 2, 11, 22},
      {R"([1 2])", "invalid JSON: expected ',' or ']'", 1, 4, 3},
      {R"({"signals" 1})", "invalid JSON: expected ':' after the key", 1, 12, 11},
      {R"({"signals": )", "invalid JSON: unexpected end of the body", 1, 13, 12},
      {R"({"signals": {"a)", "invalid JSON: unterminated string", 1, 14, 13},
      {R"({"signals": {"a\x": 1}})", "invalid JSON: invalid escape in a string", 1, 16, 15},
      {R"({"signals": {"a\u12g4": 1}})", "invalid JSON: invalid \\u escape in a string", 1, 16, 15},
      {R"({"signals": {"a": 1.}})", "invalid JSON: expected a digit after '.'", 1, 21, 20},
      {R"({"signals": {"a": 1e+}})", "invalid JSON: expected a digit in the exponent", 1, 22, 21},
      {R"({"signals": {"a": tru}})", "invalid JSON: expected a value", 1, 19, 18},
      {R"({"signals": {"a": +1}})", "invalid JSON: expected a value", 1, 19, 18},
      {R"({"signals": {"a": NaN}})", "invalid JSON: NaN and Infinity are not JSON numbers", 1, 19, 18},
      {R"({"signals": {"a": nan}})", "invalid JSON: NaN and Infinity are not JSON numbers", 1, 19, 18},
      {R"({"signals": {"a": -Infinity}})", "invalid JSON: NaN and Infinity are not JSON numbers", 1, 19, 18},
      {R"({"signals": {"a": Infinity}})", "invalid JSON: NaN and Infinity are not JSON numbers", 1, 19, 18},
      {R"({"signals": {"a": 1}} {})", "invalid JSON: unexpected data after the JSON value", 1, 23, 22},
      {R"({'signals': 1})", "invalid JSON: expected '\"' to start a key", 1, 2, 1},
      {R"({"signals": {"a": 01}})", "invalid JSON: leading zeros are not allowed in numbers", 1, 19, 18},
      {"{\"signals\": {\"a\tb\": 1}}", "invalid JSON: control character in a string (escape it)", 1, 16, 15},
      {R"({"signals": {"\udc00": 1}})", "invalid JSON: unpaired UTF-16 surrogate in a \\u escape", 1, 15, 14},
      {R"({"signals": {"\ud83c": 1}})", "invalid JSON: unpaired UTF-16 surrogate in a \\u escape", 1, 15, 14},
      {R"({"signals": {"\ud83cx": 1}})", "invalid JSON: unpaired UTF-16 surrogate in a \\u escape", 1, 15, 14},
      {std::string(1001, '[') + std::string(1001, ']'), "invalid JSON: nested too deeply (more than 1000 levels)", 1,
       1001, 1000},
  };
  for (const auto &c : cases) {
    INFO("body: " << c.body);
    auto p = in.json(c.body);
    expect_error(p, c.message, c.line, c.column);
    CHECK(p.error->message == c.message);
    CHECK(p.error->offset == c.offset);
    CHECK_FALSE(p.error->path);
  }
}

TEST_CASE("json: duplicate keys are refused wherever they are") {
  Ingest in;
  expect_path_error(in.json(R"({"signals": {"x": 1, "y": 2, "x": 3}})"), "duplicate key 'x' at signals", "signals");
  expect_path_error(in.json(R"({"signals": {"x": 1}, "signals": {"y": 2}})"),
                    "duplicate key 'signals' in the top-level object", "");
  expect_path_error(in.json(R"([{"signals": {"x": 1}}, {"signals": {"y": 1}, "labels": {"a": "1", "a": "2"}}])"),
                    "duplicate key 'a' at [1].labels", "[1].labels");
}

TEST_CASE("json: wrong shapes and types name the JSON path") {
  Ingest in;
  struct Case {
    const char *body, *message, *path;
  };
  const Case cases[] = {
      {"42", "the body must be a JSON object or an array of objects, got a number in the top-level object", ""},
      {R"("text")", "the body must be a JSON object or an array of objects, got a string in the top-level object", ""},
      {"null", "the body must be a JSON object or an array of objects, got null in the top-level object", ""},
      {R"([{"signals": {}}, 1])", "expected an object, got a number at [1]", "[1]"},
      {R"({"temp": 1})", R"(expected "signals" (sensor shape) or "name" (explicit form) in the top-level object)", ""},
      {R"([{"signals": {}}, {}])", R"(expected "signals" (sensor shape) or "name" (explicit form) at [1])", "[1]"},
      {R"({"signals": {"a": 1}, "battery": 3.3})",
       "unknown key 'battery' (expected timestamp, signals, labels, device or source) at battery", "battery"},
      {R"({"name": "a", "value": 1, "unit": "C"})", "unknown key 'unit' (expected name, labels, ts or value) at unit",
       "unit"},
      {R"({"signals": [1, 2]})", R"("signals" must be an object of name: value, got an array at signals)", "signals"},
      {R"({"signals": {"a": "21.5"}})", "a value must be a number or a boolean, got a string at signals.a",
       "signals.a"},
      {R"({"signals": {"a": null}})", "a value must be a number or a boolean, got null at signals.a", "signals.a"},
      {R"({"signals": {"a": {"x": 1}}})", "a value must be a number or a boolean, got an object at signals.a",
       "signals.a"},
      {R"({"signals": {"a": 1e400}})", "number out of range (beyond a double) at signals.a", "signals.a"},
      {R"([{"signals": {}}, {"signals": {}}, {"signals": {}}, {"name": "x", "value": -1e999}])",
       "number out of range (beyond a double) at [3].value", "[3].value"},
      {R"({"signals": {"": 1}})", "empty series name at signals.", "signals."},
      {R"({"signals": {"a": 1}, "labels": ["x"]})",
       R"("labels" must be an object of string values, got an array at labels)", "labels"},
      {R"({"signals": {"a": 1}, "labels": {"floor": 2}})",
       "a label value must be a string, got a number at labels.floor", "labels.floor"},
      {R"({"signals": {"a": 1}, "device": 7})", "'device' must be a non-empty string at device", "device"},
      {R"({"signals": {"a": 1}, "source": ""})", "'source' must be a non-empty string at source", "source"},
      {R"({"signals": {"a": 1}, "device": "x", "source": "y"})",
       R"(give either "device" or "source", not both in the top-level object)", ""},
      {R"({"signals": {"a": 1}, "labels": {"device": "x"}, "device": "y"})",
       R"('device' conflicts with the label "device" in "labels" at device)", "device"},
      {R"({"name": 5, "value": 1})", R"("name" must be a string, got a number at name)", "name"},
      {R"([{"name": "a"}])", R"(missing "value" at [0])", "[0]"},
      {R"([{"name": "a", "value": "x"}])", "a value must be a number or a boolean, got a string at [0].value",
       "[0].value"},
      {R"({"name": "a", "value": 1, "ts": true})",
       "a timestamp must be an RFC 3339 string or an epoch number, got a boolean at ts", "ts"},
      {R"({"signals": {"a": 1}, "timestamp": "yesterday"})",
       "invalid timestamp 'yesterday': expected an RFC 3339 date-time like 2024-05-01T12:00:00Z at timestamp",
       "timestamp"},
      {R"({"signals": {"a": 1}, "timestamp": "2024-05-01"})",
       "invalid timestamp '2024-05-01': expected an RFC 3339 date-time like 2024-05-01T12:00:00Z (the time of day is "
       "missing) "
       "at timestamp",
       "timestamp"},
      {R"({"signals": {"a": 1}, "timestamp": "2024-05-01T12:00:00"})",
       "invalid timestamp '2024-05-01T12:00:00': expected an RFC 3339 date-time like 2024-05-01T12:00:00Z (the UTC "
       "offset is "
       "missing: add Z or +hh:mm) at timestamp",
       "timestamp"},
      {R"({"signals": {"a": 1}, "timestamp": "2023-02-29T00:00:00Z"})",
       "invalid timestamp '2023-02-29T00:00:00Z': no such date or time at timestamp", "timestamp"},
      {R"({"signals": {"a": 1}, "timestamp": "2300-01-01T00:00:00Z"})",
       "timestamp '2300-01-01T00:00:00Z' out of range: int64 nanoseconds reach 1677-09-21T00:12:43.145224192Z to "
       "2262-04-11T23:47:16.854775807Z at timestamp",
       "timestamp"},
      {R"({"signals": {"a": 1}, "timestamp": 1e30})",
       "timestamp 1e+30 out of range: int64 nanoseconds reach 1677-09-21T00:12:43.145224192Z to "
       "2262-04-11T23:47:16.854775807Z at timestamp",
       "timestamp"},
      {R"({"signals": {"a": 1}, "timestamp": 1e999})", "number out of range (beyond a double) at timestamp",
       "timestamp"},
  };
  for (const auto &c : cases) {
    INFO("body: " << c.body);
    expect_path_error(in.json(c.body), c.message, c.path);
  }
}

TEST_CASE("json: invalid UTF-8 and empty bodies are refused before parsing") {
  Ingest in;
  auto p = in.json("{\"signals\": {\"t\xe9mp\": 1}}");
  expect_error(p, "invalid UTF-8 at byte offset 15", 1, 16);
  CHECK(p.error->offset == 15u);
  expect_error(in.json("[\n{\"signals\": {\"a\": 1}, \"device\": \"\xc0\x80\"}]"), "invalid UTF-8 at byte offset 35", 2,
               34);
  for (std::string_view body : {"", "  \n\t "}) {
    auto e = in.json(body);
    REQUIRE(e.error);
    CHECK(e.error->message == "empty body");
  }
}

TEST_CASE("json: more than max_samples is refused with 413") {
  Ingest in;
  in.options.max_samples = 2;
  expect_samples(in.json(R"({"signals": {"a": 1, "b": 2}})"), {{"a", kNow, 1}, {"b", kNow, 2}});
  auto p = in.json(R"([{"signals": {"a": 1, "b": 2}}, {"signals": {"c": 3}}])");
  REQUIRE(p.error);
  CHECK(p.error->status == 413);
  CHECK(p.error->message == "too many samples in one request: more than 2 (max_samples); split it");
}

TEST_CASE("json: extra labels apply where the request does not set them") {
  Ingest in({{"site", "lab"}, {"room", "default"}});
  expect_samples(in.json(R"([{"signals": {"t": 1}, "labels": {"room": "attic"}}, {"signals": {"t": 2}}])"),
                 {{R"(t{room="attic",site="lab"})", kNow, 1}, {R"(t{room="default",site="lab"})", kNow, 2}});
}

TEST_CASE("json: the series cache interns each series once across requests") {
  Ingest in;
  std::string body =
      R"([{"signals": {"t": 1, "h": 2}, "device": "a"}, {"name": "t", "labels": {"device": "a"}, "value": 3}])";
  expect_samples(in.json(body),
                 {{R"(t{device="a"})", kNow, 1}, {R"(h{device="a"})", kNow, 2}, {R"(t{device="a"})", kNow, 3}});
  CHECK(in.interns == 2);  // the explicit form spells t{device="a"} as the sensor shape does
  expect_samples(in.json(body),
                 {{R"(t{device="a"})", kNow, 1}, {R"(h{device="a"})", kNow, 2}, {R"(t{device="a"})", kNow, 3}});
  CHECK(in.interns == 2);
  CHECK(in.resolver().cache().hits() == 4);
}

TEST_CASE("json: parse throughput (reported, not asserted)") {
  std::string body = "[";
  for (int i = 0; i < 100; ++i)
    body +=
        std::string(i ? "," : "") + R"({"timestamp": 1714564800.5, "device": "node)" + std::to_string(i % 10) +
        R"(", "signals": {"temp": 21.5, "hum": 40.25, "pressure": 1013.2, "battery": 3.31, "ok": true, "rssi": -71, "co2": 412, "voc": 0.12, "lux": 300, "noise": 41.5}})";
  body += "]";
  Ingest in;
  vitals::Batch batch;
  size_t samples = 0;
  auto start = std::chrono::steady_clock::now();
  double cpu_start = thread_cpu_seconds();
  for (int r = 0; r < 200; ++r) {
    batch.clear();
    IngestCounts counts;
    REQUIRE_FALSE(parse_json_telemetry(body, in.options, in.resolver(), batch, counts));
    samples += counts.samples;
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double cpu_seconds = thread_cpu_seconds() - cpu_start;
  CHECK(samples == 200'000);
  MESSAGE("json: parsed " << samples << " samples: " << samples / cpu_seconds / 1e6
                          << " M samples/s per core (thread CPU time; wall clock: " << samples / seconds / 1e6
                          << " M/s)");
}

TEST_CASE("json: \\u0000 is refused, since names and label values are C strings it would cut short") {
  Ingest in;
  const std::string message =
      "invalid JSON: \\u0000 (NUL) is not allowed in a string: names and label values cannot hold it";
  // Two label values that differ only after the NUL would become one series.
  std::string body =
      R"([{"signals": {"t": 1}, "labels": {"k": "a\u0000b"}}, {"signals": {"t": 2}, "labels": {"k": "a\u0000c"}}])";
  auto p = in.json(body);
  expect_error(p, message, 1, body.find("\\u0000") + 1);
  CHECK(p.error->offset == body.find("\\u0000"));
  body = R"({"signals": {"t\u0000x": 1}})";
  expect_error(in.json(body), message, 1, body.find("\\u0000") + 1);
  body = R"({"name": "n", "value": 1, "labels": {"k\u0000": "v"}})";
  expect_error(in.json(body), message, 1, body.find("\\u0000") + 1);
  body = R"({"signals": {"t": 1}, "device": "\u0000"})";
  expect_error(in.json(body), message, 1, body.find("\\u0000") + 1);
  CHECK(in.interns == 0);
  // Other control characters, escaped, are label value text like any other.
  expect_samples(in.json(R"({"signals": {"t": 1}, "labels": {"k": "a\u0001b"}})"), {{"t{k=\"a\x01"
                                                                                     "b\"}",
                                                                                     kNow, 1}});
}

TEST_CASE("json: signals that sanitize to one series name are refused, naming both") {
  Ingest in;
  expect_path_error(in.json(R"({"signals": {"rx-bytes": 1, "rx_bytes": 2}})"),
                    "signals 'rx-bytes' and 'rx_bytes' name the same series once sanitized; rename one at signals",
                    "signals");
  // Separate items may write one series, at their own timestamps.
  expect_samples(
      in.json(R"([{"signals": {"rx-bytes": 1}, "timestamp": 1}, {"signals": {"rx_bytes": 2}, "timestamp": 2}])"),
      {{"rx_bytes", 1'000'000'000, 1}, {"rx_bytes", 2'000'000'000, 2}});
}
