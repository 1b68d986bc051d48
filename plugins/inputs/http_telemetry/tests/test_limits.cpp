// Hostile bodies: every check must stay linear in the body's size, and the
// limits on labels per series, name length and label value length hold for
// both formats with a message that names the limit.
#include <cjson/cJSON.h>
#include <doctest/doctest.h>
#include <malloc.h>
#include <sys/resource.h>

#include <string>

#include "ingest_fixture.hpp"

using namespace vitals::http_telemetry;
using namespace vitals::http_telemetry::test;

namespace {

// Peak resident set of the process so far, in bytes.
size_t peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<size_t>(usage.ru_maxrss) * 1024;
}

std::string many_tags(size_t n) {
  std::string body = "m";
  for (size_t i = 0; i < n; ++i) body += ",t" + std::to_string(i) + "=v";
  return body;
}

std::string many_fields(size_t n) {
  std::string body;
  for (size_t i = 0; i < n; ++i) body += (i ? ",f" : "m f") + std::to_string(i) + "=1";
  return body;
}

// Counts what cJSON holds at once while an instance lives.
struct CjsonAllocations {
  static inline size_t live = 0, peak = 0;
  CjsonAllocations() {
    live = peak = 0;
    cJSON_Hooks hooks{[](size_t n) {
                        void *p = malloc(n);
                        live += malloc_usable_size(p);
                        peak = std::max(peak, live);
                        return p;
                      },
                      [](void *p) {
                        live -= malloc_usable_size(p);
                        free(p);
                      }};
    cJSON_InitHooks(&hooks);
  }
  ~CjsonAllocations() { cJSON_InitHooks(nullptr); }
};

// A quadratic check takes seconds here (5e9 comparisons); a linear one a few
// milliseconds, under the sanitizers too.
constexpr double kLinearBudgetSeconds = 1.0;

}  // namespace

TEST_CASE("limits: 100,000 tags in one line are refused at once") {
  Ingest in;
  const std::string body = many_tags(100'000) + " v=1 1";
  double start = thread_cpu_seconds();
  auto p = in.line_protocol(body);
  double seconds = thread_cpu_seconds() - start;
  expect_error(p, "too many tags: more than 64 (max_labels)", 1, 1 + body.find(",t64=") + 1);
  CHECK(seconds < kLinearBudgetSeconds);
  CHECK(in.interns == 0);
}

TEST_CASE("limits: a duplicate among 100,000 fields is found in linear time") {
  Ingest in;
  const std::string body = many_fields(100'000) + ",f7=2 1";
  double start = thread_cpu_seconds();
  auto p = in.line_protocol(body);
  double seconds = thread_cpu_seconds() - start;
  expect_error(p, "duplicate field 'f7'", 1, body.rfind(",f7=") + 2);
  CHECK(seconds < kLinearBudgetSeconds);
}

TEST_CASE("limits: 100,000 JSON labels are refused at once") {
  Ingest in;
  std::string body = R"({"signals": {"t": 1}, "labels": {)";
  for (size_t i = 0; i < 100'000; ++i) body += (i ? ",\"l" : "\"l") + std::to_string(i) + "\": \"v\"";
  body += "}}";
  double start = thread_cpu_seconds();
  auto p = in.json(body);
  double seconds = thread_cpu_seconds() - start;
  expect_path_error(p, "too many labels: more than 64 (max_labels) at labels", "labels");
  CHECK(seconds < kLinearBudgetSeconds);
  CHECK(in.interns == 0);
}

TEST_CASE("limits: deep JSON nesting with long keys takes memory and time linear in the body") {
  // 1,000 nested objects under 1,000-byte keys: a 1 MB body. A JSON path
  // built per level would hold 1000 + 2000 + ... bytes at once: 500 MB.
  Ingest in;
  const std::string key(1000, 'k');
  std::string body;
  for (int i = 0; i < 999; ++i) body += "{\"" + key + std::to_string(i) + "\": ";
  body += "{\"a\": 1, \"a\": 2}";
  body += std::string(999, '}');
  size_t rss_before = peak_rss_bytes();
  double start = thread_cpu_seconds();
  auto p = in.json(body);
  double seconds = thread_cpu_seconds() - start;
  size_t grown = peak_rss_bytes() - rss_before;
  REQUIRE(p.error);
  CHECK(p.error->status == 400);
  CHECK(seconds < kLinearBudgetSeconds);
  MESSAGE("deep nesting: peak RSS grew by " << grown / 1e6 << " MB, " << seconds << " s CPU");
  CHECK(grown < 64u * 1024 * 1024);
}

TEST_CASE("limits: labels per series, name length and label value length") {
  Ingest in;
  // Defaults: 64 labels, names (series names, label keys) of 256 bytes, label values of 4096 bytes.
  auto at_limit = in.line_protocol(many_tags(64) + " v=1 1");
  REQUIRE_MESSAGE(!at_limit.error, at_limit.error->json());
  CHECK(at_limit.samples.size() == 1);
  expect_error(in.line_protocol(many_tags(65) + " v=1 1"), "too many tags: more than 64 (max_labels)", 1,
               many_tags(64).size() + 2);

  const std::string name256(256, 'n'), name257(257, 'n');
  expect_samples(in.line_protocol(name256 + " value=1 1"), {{name256, 1, 1}});
  expect_error(in.line_protocol(name257 + " value=1 1"),
               "series name 'nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn...' is 257 bytes long: "
               "more than 256 (max_name_length)",
               1, 1);
  expect_error(in.line_protocol("m " + name256 + "=1 1"), "is 258 bytes long: more than 256 (max_name_length)", 1, 1);
  expect_error(in.line_protocol("m," + name257 + "=v v=1 1"),
               "label key 'nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn...' is 257 bytes long: "
               "more than 256 (max_name_length)",
               1, 1);
  const std::string value4096(4096, 'x'), value4097(4097, 'x');
  CHECK_FALSE(in.line_protocol("m,t=" + value4096 + " v=1 1").error);
  expect_error(in.line_protocol("m,t=" + value4097 + " v=1 1"),
               "value of label 't' is 4097 bytes long: more than 4096 (max_label_value_length)", 1, 1);

  expect_path_error(in.json(R"({"signals": {")" + name257 + R"(": 1}})"),
                    "series name 'nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn...' is 257 bytes "
                    "long: more than 256 (max_name_length) at signals." +
                        name257,
                    "signals." + name257);
  expect_path_error(in.json(R"({"signals": {"t": 1}, "device": ")" + value4097 + R"("})"),
                    "value of label 'device' is 4097 bytes long: more than 4096 (max_label_value_length) at signals.t",
                    "signals.t");
  CHECK(in.interns == 3);
}

TEST_CASE("limits: with max_labels raised, a duplicate among 100,000 tags is found in linear time") {
  Ingest in;
  in.options.limits.max_labels = 200'000;
  const std::string body = many_tags(100'000) + ",t99=w v=1 1";
  double start = thread_cpu_seconds();
  auto p = in.line_protocol(body);
  double seconds = thread_cpu_seconds() - start;
  expect_error(p, "duplicate tag 't99'", 1, body.rfind(",t99=") + 2);
  CHECK(seconds < kLinearBudgetSeconds);
}

TEST_CASE("limits: with max_labels raised, 100,000 labels reach the host once, checked in linear time") {
  Ingest in;
  in.options.limits.max_labels = 200'000;
  std::string body = R"({"signals": {"t": 1}, "labels": {)";
  for (size_t i = 0; i < 100'000; ++i) body += (i ? ",\"l-" : "\"l-") + std::to_string(i) + "\": \"v\"";
  body += R"(, "l_7": "x"}})";  // sanitized, l-7 becomes l_7
  double start = thread_cpu_seconds();
  auto p = in.json(body);
  double seconds = thread_cpu_seconds() - start;
  expect_path_error(p, "duplicate label 'l_7' at signals.t", "signals.t");
  CHECK(seconds < kLinearBudgetSeconds);
  CHECK(in.interns == 0);
}

// A refused request must leave nothing behind: interning its series before
// the last line was read filled the agent's registry (never freed, bounded by
// max_series) with series that hold no data, from requests that failed.
TEST_CASE("series: a request refused anywhere interns none of its series") {
  Ingest in;
  std::string body;
  for (int i = 0; i < 1000; ++i) body += "m,host=h" + std::to_string(i) + " v=1 1\n";
  expect_error(in.line_protocol(body + "m,host=last v=oops 1\n"), "invalid value 'oops' for field 'v'", 1001, 15);
  CHECK(in.interns == 0);
  CHECK(in.host.series_count() == 0);

  std::string json = "[";
  for (int i = 0; i < 1000; ++i) json += R"({"signals": {"s)" + std::to_string(i) + R"(": 1}},)";
  json += R"({"signals": {"bad": "text"}}])";
  expect_path_error(in.json(json), "a value must be a number or a boolean, got a string at [1000].signals.bad",
                    "[1000].signals.bad");
  CHECK(in.interns == 0);
  CHECK(in.host.series_count() == 0);

  // The same series, once the request is whole, are interned once each, and
  // every sample carries its real id.
  auto ok = in.line_protocol(body);
  REQUIRE_MESSAGE(!ok.error, ok.error->json());
  CHECK(in.interns == 1000);
  REQUIRE(ok.samples.size() == 1000);
  CHECK(ok.samples[0].series == "m_v{host=\"h0\"}");
  CHECK(ok.samples[999].series == "m_v{host=\"h999\"}");
  auto again = in.line_protocol(body);
  CHECK(in.interns == 1000);
  CHECK(again.samples[999].series == "m_v{host=\"h999\"}");
}

TEST_CASE("series: within one request a new series gets one id, whatever raw text names it") {
  Ingest in;
  // Tags in another order, and a sanitized name, name the same series: all
  // three samples belong to one series, interned once.
  auto p = in.line_protocol("m,a=1,b=2 v=1 1\nm,b=2,a=1 v=2 2\nm,a=1,b=2 v=3 3\n");
  expect_samples(p, {{"m_v{a=\"1\",b=\"2\"}", 1, 1}, {"m_v{a=\"1\",b=\"2\"}", 2, 2}, {"m_v{a=\"1\",b=\"2\"}", 3, 3}});
  CHECK(in.interns == 1);
  // Fields that sanitize to one name in one line stay an error, whether the
  // first is new or already known.
  expect_error(in.line_protocol("n rx-bytes=1,rx_bytes=2 1\n"), "name the same series once sanitized", 1, 14);
  CHECK(in.line_protocol("n rx-bytes=1 1\n").error == std::nullopt);
  expect_error(in.line_protocol("n rx-bytes=1,rx_bytes=2 2\n"), "name the same series once sanitized", 1, 14);
  expect_path_error(in.json(R"({"signals": {"rx-bytes": 1, "rx_bytes": 2}})"),
                    "signals 'rx-bytes' and 'rx_bytes' name the same series once sanitized; rename one at signals",
                    "signals");
}

// cJSON builds a node of ~100 bytes per value: a 16 MiB array of tiny items
// held hundreds of MB before the sample limit was even looked at. Items are
// parsed one at a time, and an item holding more values than a request may
// carry samples is refused before it is built.
TEST_CASE("limits: a JSON body is refused at the sample limit without building it whole") {
  Ingest in;
  in.options.max_samples = 1000;
  std::string many = "[";
  for (int i = 0; i < 400'000; ++i) many += R"({"name":"m","value":1},)";
  many += R"({"name":"m","value":1}])";
  std::string wide = R"({"signals": {)";
  for (int i = 0; i < 400'000; ++i) wide += "\"s" + std::to_string(i) + "\":1,";
  wide += R"("last":1}})";

  CjsonAllocations counted;
  auto p = in.json(many);
  REQUIRE(p.error);
  CHECK(p.error->status == 413);
  CHECK(p.error->message.find("max_samples") != std::string::npos);
  auto w = in.json(wide);
  REQUIRE(w.error);
  CHECK(w.error->status == 413);
  CHECK(w.error->message.find("max_samples") != std::string::npos);
  // Built whole, either body took over 40 MB of cJSON nodes.
  CHECK(CjsonAllocations::peak < 1024 * 1024);
  CHECK(in.interns == 0);
}
