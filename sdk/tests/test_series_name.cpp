// vitals/series_name.hpp: the rules a series follows, and the SDK's test host
// interning by them (the core's registry does too; core/tests compares the
// two series by series).
#include <doctest/doctest.h>

#include <string>

#include "vitals/series_name.hpp"
#include "vitals/testing.hpp"

TEST_CASE("series names: [a-zA-Z_:][a-zA-Z0-9_:.]*") {
  for (const char *good : {"a", "cpu_usage", "_x", ":a", "node:load1", "http.requests", "A9", "a.b.c", "x::"})
    CHECK_MESSAGE(vitals::valid_series_name(good), good);
  for (const char *bad : {"", "9a", ".a", "a-b", "a b", "a{", "caf\xc3\xa9", "a\n", "*"})
    CHECK_MESSAGE(!vitals::valid_series_name(bad), bad);
}

TEST_CASE("label keys: [a-zA-Z_][a-zA-Z0-9_]*") {
  for (const char *good : {"a", "_", "host", "cpu0", "Region_1"}) CHECK_MESSAGE(vitals::valid_label_key(good), good);
  for (const char *bad : {"", "9k", "a:b", "a.b", "bad-key", " a", "k\xc3\xa9"})
    CHECK_MESSAGE(!vitals::valid_label_key(bad), bad);
}

TEST_CASE("a series is canonical: labels sorted, each key once, values escaped") {
  vitals::SeriesLabels labels{{"mode", "user"}, {"cpu", "0"}};
  REQUIRE(vitals::canonicalize_series("cpu_usage", labels));
  CHECK(vitals::canonical_series_text("cpu_usage", labels) == "cpu_usage{cpu=\"0\",mode=\"user\"}");
  vitals::SeriesLabels escaped{{"v", "a\"b\\c\nd"}};
  REQUIRE(vitals::canonicalize_series("q", escaped));
  CHECK(vitals::canonical_series_text("q", escaped) == "q{v=\"a\\\"b\\\\c\\nd\"}");
  CHECK(vitals::canonical_series_text("up", {}) == "up");
  vitals::SeriesLabels repeated{{"k", "1"}, {"k", "2"}};
  CHECK_FALSE(vitals::canonicalize_series("ok", repeated));
  vitals::SeriesLabels bad_key{{"bad-key", "x"}};
  CHECK_FALSE(vitals::canonicalize_series("ok", bad_key));
  vitals::SeriesLabels none;
  CHECK_FALSE(vitals::canonicalize_series("9bad", none));
}

TEST_CASE("C labels: a null key is refused, a null value reads as empty") {
  vitals::SeriesLabels out;
  vitals_label_t labels[] = {{"a", nullptr}, {"b", "2"}};
  REQUIRE(vitals::series_labels_from_c(labels, 2, out));
  CHECK(out == vitals::SeriesLabels{{"a", ""}, {"b", "2"}});
  vitals_label_t null_key[] = {{nullptr, "v"}};
  CHECK_FALSE(vitals::series_labels_from_c(null_key, 1, out));
  CHECK_FALSE(vitals::series_labels_from_c(nullptr, 1, out));
  CHECK(vitals::series_labels_from_c(nullptr, 0, out));
}

TEST_CASE("series ids: the FNV-1a hash of the canonical text, never 0, below the placeholders") {
  // FNV-1a 64 of "" is its offset basis; of "a" a published test vector.
  CHECK(vitals::series_id_first_candidate("a") == 0xaf63dc4c8601ec8cull % VITALS_SERIES_ID_PLACEHOLDER_MIN);
  CHECK(vitals::series_id_first_candidate("") == 0xcbf29ce484222325ull % VITALS_SERIES_ID_PLACEHOLDER_MIN);
  CHECK(vitals::series_id_next_candidate(41) == 42);
  CHECK(vitals::series_id_next_candidate(VITALS_SERIES_ID_PLACEHOLDER_MIN - 1) == 1);
}

TEST_CASE("the test host numbers series as the agent does") {
  vitals::testing::Host host;
  auto id = host.intern("cpu_usage", {{"mode", "user"}, {"cpu", "0"}});
  CHECK(id == vitals::series_id_first_candidate("cpu_usage{cpu=\"0\",mode=\"user\"}"));
  CHECK(host.intern("cpu_usage", {{"cpu", "0"}, {"mode", "user"}}) == id);
  CHECK(host.series_text(id) == "cpu_usage{cpu=\"0\",mode=\"user\"}");
  const vitals_series_t *s = host.table()->series(host.table()->ctx, id);
  REQUIRE(s);
  CHECK(s->id == id);
  CHECK(std::string(s->name) == "cpu_usage");
  REQUIRE(s->n_labels == 2);
  CHECK(std::string(s->labels[0].key) == "cpu");
  // The same in a second host, as in a second run of the agent.
  vitals::testing::Host other;
  CHECK(other.intern("cpu_usage", {{"mode", "user"}, {"cpu", "0"}}) == id);
  CHECK(host.series_text(1) == "");
  CHECK(host.table()->series(host.table()->ctx, 1) == nullptr);
}

TEST_CASE("the test host refuses what the agent refuses") {
  vitals::testing::Host host;
  CHECK(host.intern("9bad") == 0);
  CHECK(host.intern("ok", {{"bad-key", "x"}}) == 0);
  CHECK(host.intern("ok", {{"k", "1"}, {"k", "2"}}) == 0);  // a repeated key
  const vitals_host_t *table = host.table();
  vitals_label_t null_key{nullptr, "v"};
  CHECK(table->intern(table->ctx, nullptr, nullptr, 0) == 0);
  CHECK(table->intern(table->ctx, "ok", nullptr, 1) == 0);
  CHECK(table->intern(table->ctx, "ok", &null_key, 1) == 0);
  CHECK(host.series_count() == 0);
}
