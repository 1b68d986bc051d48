// Hostile bodies: every check must stay linear in the body's size, and the
// limits on labels per series, name length and label value length hold for
// both formats with a message that names the limit.
#include <doctest/doctest.h>
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
