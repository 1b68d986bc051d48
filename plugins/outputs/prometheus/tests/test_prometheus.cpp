// Behaviour of the prometheus output: the exact page (sanitising, escaping,
// family grouping, HELP/TYPE, histograms), staleness, limits, timestamps, and
// promtool's verdict on what it serves.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <string>

#include "exposition.hpp"
#include "vitals/testing.hpp"

extern "C" const vitals_plugin_t *vitals_plugin(void);

namespace {

// Runs `promtool check metrics` on page: its exit code (0 clean, 3 lint
// problems only, 1 a page it cannot parse), or -1 when promtool is missing.
int promtool_check(const std::string &page, std::string &output) {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) {
    if (std::getenv("VITALS_REQUIRE_PROMTOOL"))
      FAIL("promtool not found (Debian package `prometheus`) and VITALS_REQUIRE_PROMTOOL is set");
    MESSAGE("promtool not found (Debian package `prometheus`): skipping its check");
    return -1;
  }
  char dir[] = "/tmp/vitals-promtool-XXXXXX";
  REQUIRE(mkdtemp(dir));
  std::string in = std::string(dir) + "/page.txt", out = std::string(dir) + "/out.txt";
  std::ofstream(in, std::ios::binary) << page;
  int status = std::system(("promtool check metrics < " + in + " > " + out + " 2>&1").c_str());
  std::ifstream result(out);
  output.assign(std::istreambuf_iterator<char>(result), {});
  std::remove(in.c_str());
  std::remove(out.c_str());
  std::remove(dir);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -2;
}

std::string scrape(vitals::testing::Host &host, const std::string &path = "/metrics") {
  auto r = host.http("GET", path);
  REQUIRE(r->finished);
  REQUIRE(r->status == 200);
  CHECK(r->content_type == "text/plain; version=0.0.4; charset=utf-8");
  return r->body;
}

}  // namespace

TEST_CASE("prometheus names and labels are sanitised to Prometheus rules") {
  using namespace vitals::prometheus;
  CHECK(metric_name("temp.celsius") == "temp_celsius");
  CHECK(metric_name("9lives") == "_9lives");
  CHECK(metric_name("a:b-c d") == "a:b_c_d");
  CHECK(label_name("room") == "room");
  CHECK(label_name("__name__") == "label___name__");
  CHECK(label_name("a.b") == "a_b");
  CHECK(label_name("0x") == "_0x");
  std::string v;
  append_label_value(v, "a\"b\\c\nd\xff");
  CHECK(v == "a\\\"b\\\\c\\nd\xEF\xBF\xBD");
  std::string n;
  append_value(n, std::nan(""));
  n += ' ';
  append_value(n, -std::numeric_limits<double>::infinity());
  n += ' ';
  append_value(n, 0.1);
  n += ' ';
  append_value(n, 1e21);
  CHECK(n == "NaN -Inf 0.1 1e+21");
}

TEST_CASE("prometheus serves the latest values grouped by family with HELP and TYPE") {
  vitals::testing::Host host;
  auto inst = host.create(vitals_plugin(), "");
  REQUIRE(inst.start() == VITALS_OK);
  CHECK(scrape(host).empty());
  inst.consume({
      {"cpu_usage{cpu=\"0\",mode=\"user\"}", 1, 10},
      {"temp.celsius{room=\"a\\\"b\\\\c\nd\"}", 1, std::nan("")},
      {"requests_total", 1, 7},
      {"lat_bucket{le=\"+Inf\"}", 1, 2},
      {"lat_bucket{le=\"0.1\"}", 1, 1},
      {"lat_sum", 1, 0.3},
      {"lat_count", 1, 2},
      {"part_bucket{le=\"1\"}", 1, 5},
      {"x{__secret=\"1\"}", 1, std::numeric_limits<double>::infinity()},
      {"cpu_usage{cpu=\"0\",mode=\"user\"}", 2, 12.5},
      {"cpu_usage{cpu=\"0\",mode=\"user\"}", 0, 99},  // older than what is shown: ignored
  });
  std::string page = scrape(host);
  CHECK(page ==
        "# HELP cpu_usage Vitals series cpu_usage\n"
        "# TYPE cpu_usage gauge\n"
        "cpu_usage{cpu=\"0\",mode=\"user\"} 12.5\n"
        "# HELP lat Vitals histogram lat\n"
        "# TYPE lat histogram\n"
        "lat_bucket{le=\"0.1\"} 1\n"
        "lat_bucket{le=\"+Inf\"} 2\n"
        "lat_sum 0.3\n"
        "lat_count 2\n"
        "# HELP part_bucket Vitals series part_bucket\n"
        "# TYPE part_bucket untyped\n"
        "part_bucket{le=\"1\"} 5\n"
        "# HELP requests_total Vitals series requests_total\n"
        "# TYPE requests_total counter\n"
        "requests_total 7\n"
        "# HELP temp_celsius Vitals series temp.celsius\n"
        "# TYPE temp_celsius gauge\n"
        "temp_celsius{room=\"a\\\"b\\\\c\\nd\"} NaN\n"
        "# HELP x Vitals series x\n"
        "# TYPE x gauge\n"
        "x{label___secret=\"1\"} +Inf\n");
  CHECK(scrape(host) == page);  // the cached page
  CHECK(host.metric("vitals_prometheus_series") == 9);

  std::string output;
  int rc = promtool_check(page, output);
  INFO(output);
  if (rc != -1) CHECK(rc != 1);  // parses; lint may object to part_bucket's suffix (exit 3)

  inst.consume({{"requests_total", 3, 8}});
  CHECK(scrape(host).find("requests_total 8\n") != std::string::npos);
}

TEST_CASE("promtool accepts the page without a single lint problem") {
  vitals::testing::Host host;
  auto inst = host.create(vitals_plugin(), "timestamps = true");
  REQUIRE(inst.start() == VITALS_OK);
  int64_t ts = 1'700'000'000'123'456'789;
  inst.consume({
      {"vitals_component_latency_seconds_bucket{component=\"cpu\",le=\"0.001\"}", ts, 3},
      {"vitals_component_latency_seconds_bucket{component=\"cpu\",le=\"+Inf\"}", ts, 4},
      {"vitals_component_latency_seconds_sum{component=\"cpu\"}", ts, 0.01},
      {"vitals_component_latency_seconds_count{component=\"cpu\"}", ts, 4},
      {"vitals_component_errors_total{component=\"cpu\"}", ts, 0},
      {"sensor.temp_celsius{room=\"lab\"}", ts, 21.5},
      {"cpu_usage_ratio{cpu=\"1\"}", ts, std::nan("")},
  });
  std::string page = scrape(host);
  CHECK(page.find("sensor_temp_celsius{room=\"lab\"} 21.5 1700000000123\n") != std::string::npos);
  CHECK(page.find("# TYPE vitals_component_latency_seconds histogram\n"
                  "vitals_component_latency_seconds_bucket{component=\"cpu\",le=\"0.001\"} 3 1700000000123\n"
                  "vitals_component_latency_seconds_bucket{component=\"cpu\",le=\"+Inf\"} 4 1700000000123\n"
                  "vitals_component_latency_seconds_sum{component=\"cpu\"} 0.01 1700000000123\n"
                  "vitals_component_latency_seconds_count{component=\"cpu\"} 4 1700000000123\n") != std::string::npos);
  std::string output;
  int rc = promtool_check(page, output);
  INFO(page);
  INFO(output);
  if (rc != -1) CHECK(rc == 0);
}

TEST_CASE("prometheus drops series not updated for stale_after") {
  vitals::testing::Host host;
  auto inst = host.create(vitals_plugin(), "stale_after = \"200ms\"");
  REQUIRE(inst.start() == VITALS_OK);
  inst.consume({{"old", 1, 1}});
  host.run_for_ms(150);
  inst.consume({{"fresh", 1, 2}});
  host.run_for_ms(100);
  std::string page = scrape(host);
  CHECK(page.find("old") == std::string::npos);
  CHECK(page.find("fresh 2\n") != std::string::npos);
  host.run_for_ms(250);  // the timer's sweep, without a scrape
  CHECK(host.metric("vitals_prometheus_series") == 0);
  CHECK(host.metric("vitals_prometheus_series_expired_total") == 2);
  CHECK(scrape(host).empty());
}

TEST_CASE("prometheus holds at most max_series and counts what it ignores") {
  vitals::testing::Host host;
  auto inst = host.create(vitals_plugin(), "max_series = 2\npath = \"/prom\"");
  REQUIRE(inst.start() == VITALS_OK);
  inst.consume({{"a", 1, 1}, {"b", 1, 2}, {"c", 1, 3}, {"a", 2, 4}});
  std::string page = scrape(host, "/prom");
  CHECK(page.find("a 4\n") != std::string::npos);
  CHECK(page.find("b 2\n") != std::string::npos);
  CHECK(page.find("c ") == std::string::npos);
  CHECK(host.metric("vitals_prometheus_samples_ignored_total") == 1);
}

TEST_CASE("prometheus keeps the newer of two series that sanitise to the same one") {
  vitals::testing::Host host;
  auto inst = host.create(vitals_plugin(), "");
  REQUIRE(inst.start() == VITALS_OK);
  inst.consume({{"a.b", 2, 1}, {"a_b", 1, 2}});
  CHECK(scrape(host) == "# HELP a_b Vitals series a.b\n# TYPE a_b gauge\na_b 1\n");
}

TEST_CASE("prometheus refuses bad settings") {
  vitals::testing::Host host;
  CHECK_THROWS_WITH_AS(host.create(vitals_plugin(), "max_series = 0"), doctest::Contains("max_series"),
                       std::runtime_error);
  CHECK_THROWS_WITH_AS(host.create(vitals_plugin(), "path = \"metrics\""), doctest::Contains("path"),
                       std::runtime_error);
}
