// Series selectors: the syntax users write in `match` keys and queries, and
// which series they select.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include "vitals/plugin.h"
#include "vitals/selector.hpp"

using vitals::LabelMatcher;
using vitals::Selector;

namespace {

struct Label {
  std::string key;
  std::string value;
};
using Labels = std::vector<Label>;

Selector parsed(std::string_view text) {
  Selector selector;
  std::string error;
  INFO("selector: ", text);
  REQUIRE_MESSAGE(Selector::parse(text, selector, error), error);
  CHECK(error.empty());
  return selector;
}

std::string parse_error(std::string_view text) {
  Selector selector;
  std::string error;
  INFO("selector: ", text);
  CHECK_FALSE(Selector::parse(text, selector, error));
  return error;
}

bool matches(std::string_view selector, std::string_view name, const Labels &labels = {}) {
  return parsed(selector).matches(name, labels);
}

}  // namespace

TEST_CASE("selector: an empty selector and a bare * match everything") {
  for (const char *text : {"", "*", "  ", " * "}) {
    Selector s = parsed(text);
    CHECK(s.matches_everything());
    CHECK(s.matches("anything", Labels{{"a", "b"}}));
  }
}

TEST_CASE("selector: a bare name keeps its text and has no label matchers") {
  Selector s = parsed("node_cpu_seconds:rate.5m");
  CHECK(s.name_pattern() == "node_cpu_seconds:rate.5m");
  CHECK(s.matchers().empty());
  CHECK(s.text() == "node_cpu_seconds:rate.5m");
  CHECK_FALSE(s.matches_everything());
}

TEST_CASE("selector: every label operator is parsed") {
  Selector s = parsed(R"(cpu{a="1",b!="2",c=~"3.*",d!~"4|5"})");
  CHECK(s.name_pattern() == "cpu");
  const auto &m = s.matchers();
  REQUIRE(m.size() == 4);
  CHECK(m[0].key == "a");
  CHECK(m[0].op == LabelMatcher::Op::equal);
  CHECK(m[0].value == "1");
  CHECK(m[1].key == "b");
  CHECK(m[1].op == LabelMatcher::Op::not_equal);
  CHECK(m[1].value == "2");
  CHECK(m[2].key == "c");
  CHECK(m[2].op == LabelMatcher::Op::regex);
  CHECK(m[2].value == "3.*");
  CHECK(m[3].key == "d");
  CHECK(m[3].op == LabelMatcher::Op::not_regex);
  CHECK(m[3].value == "4|5");
}

TEST_CASE("selector: label matchers without a name, and empty braces") {
  Selector s = parsed(R"({host="a"})");
  CHECK(s.name_pattern().empty());
  CHECK(s.matchers().size() == 1);
  CHECK(parsed("cpu{}").matchers().empty());
  CHECK(parsed("{}").matches_everything());
}

TEST_CASE("selector: whitespace is allowed around every token") {
  Selector s = parsed(" \tcpu { a = \"1\" ,\tb!=\"2\" , c =~ \"x\" , d !~ \"y\" }\t ");
  CHECK(s.name_pattern() == "cpu");
  CHECK(s.matchers().size() == 4);
  CHECK(parsed(R"(cpu{a="1",})").matchers().size() == 1);  // a trailing comma is fine
}

TEST_CASE("selector: quoted values unescape \\\" \\\\ \\n and \\t, and keep other escaped characters") {
  Selector s = parsed(R"(x{a="say \"hi\"",b="back\\slash",c="two\nlines",d="tab\there",e="\q"})");
  const auto &m = s.matchers();
  REQUIRE(m.size() == 5);
  CHECK(m[0].value == "say \"hi\"");
  CHECK(m[1].value == "back\\slash");
  CHECK(m[2].value == "two\nlines");
  CHECK(m[3].value == "tab\there");
  CHECK(m[4].value == "q");
  CHECK(parsed(R"(x{a="}, {"})").matchers()[0].value == "}, {");  // structure inside quotes is text
}

TEST_CASE("selector: errors name the problem, the offset and the selector") {
  CHECK(parse_error("cpu{") == "expected a label name at offset 4 in selector 'cpu{'");
  CHECK(parse_error("cpu{a}") == "expected =, !=, =~ or !~ at offset 5 in selector 'cpu{a}'");
  CHECK(parse_error("cpu{a==\"1\"}") == "expected a quoted value at offset 6 in selector 'cpu{a==\"1\"}'");
  CHECK(parse_error("cpu{a=1}") == "expected a quoted value at offset 6 in selector 'cpu{a=1}'");
  CHECK(parse_error("cpu{a=\"1") == "unterminated quoted value at offset 8 in selector 'cpu{a=\"1'");
  CHECK(parse_error("cpu{a=\"1\" b=\"2\"}") == "expected , or } at offset 10 in selector 'cpu{a=\"1\" b=\"2\"}'");
  CHECK(parse_error("cpu{a=\"1\"") == "expected , or } at offset 9 in selector 'cpu{a=\"1\"'");
  CHECK(parse_error("cpu extra") == "unexpected character at offset 4 in selector 'cpu extra'");
  CHECK(parse_error("cpu{a=\"1\"}x") == "unexpected character at offset 10 in selector 'cpu{a=\"1\"}x'");
  CHECK(parse_error("1cpu") == "unexpected character at offset 0 in selector '1cpu'");
  CHECK(parse_error("cpu{1a=\"x\"}") == "expected a label name at offset 4 in selector 'cpu{1a=\"x\"}'");
  CHECK(parse_error("cpu{a.b=\"x\"}") == "expected =, !=, =~ or !~ at offset 5 in selector 'cpu{a.b=\"x\"}'");
}

TEST_CASE("selector: an invalid regular expression is an error, not an exception") {
  std::string error = parse_error(R"(cpu{a=~"(unclosed"})");
  CHECK(error.find("invalid regular expression") == 0);
  CHECK(error.find("at offset 8 ") != std::string::npos);  // where "(unclosed" starts
  CHECK(parse_error(R"(cpu{a!~"[z-a]"})").find("invalid regular expression") == 0);
}

TEST_CASE("selector: parsing into a used selector replaces what it held") {
  Selector s;
  std::string error;
  REQUIRE(Selector::parse(R"(cpu{a="1"})", s, error));
  REQUIRE(Selector::parse("mem", s, error));
  CHECK(s.name_pattern() == "mem");
  CHECK(s.matchers().empty());
  CHECK(s.matches("mem", Labels{}));
}

TEST_CASE("selector: names match exactly or by * glob") {
  CHECK(matches("cpu", "cpu"));
  CHECK_FALSE(matches("cpu", "cpu_user"));
  CHECK_FALSE(matches("cpu", "cp"));
  CHECK(matches("cpu_*", "cpu_user"));
  CHECK(matches("cpu_*", "cpu_"));
  CHECK_FALSE(matches("cpu_*", "mem_used"));
  CHECK(matches("*_total", "http_requests_total"));
  CHECK_FALSE(matches("*_total", "http_requests_total_sum"));
  CHECK(matches("sensor_*_celsius", "sensor_kitchen_celsius"));
  CHECK(matches("a*b*c", "aXbYbZc"));
  CHECK_FALSE(matches("a*b*c", "aXbYcZ"));
}

TEST_CASE("selector: glob_match handles empty text, empty patterns and runs of stars") {
  CHECK(vitals::glob_match("", ""));
  CHECK(vitals::glob_match("*", ""));
  CHECK(vitals::glob_match("**", "abc"));
  CHECK_FALSE(vitals::glob_match("", "a"));
  CHECK_FALSE(vitals::glob_match("a", ""));
  CHECK(vitals::glob_match("*a", "aaa"));
  CHECK(vitals::glob_match("a*a", "aa"));
  CHECK_FALSE(vitals::glob_match("a*a", "a"));
}

TEST_CASE("selector: = and != compare the whole label value") {
  Labels labels{{"host", "web1"}, {"dc", "eu"}};
  CHECK(matches(R"(cpu{host="web1"})", "cpu", labels));
  CHECK_FALSE(matches(R"(cpu{host="web"})", "cpu", labels));
  CHECK(matches(R"(cpu{host="web1",dc="eu"})", "cpu", labels));
  CHECK_FALSE(matches(R"(cpu{host="web1",dc="us"})", "cpu", labels));
  CHECK(matches(R"(cpu{host!="web2"})", "cpu", labels));
  CHECK_FALSE(matches(R"(cpu{host!="web1"})", "cpu", labels));
  CHECK_FALSE(matches(R"(mem{host="web1"})", "cpu", labels));  // labels match, name does not
}

TEST_CASE("selector: a missing label reads as the empty string") {
  Labels labels{{"host", "web1"}};
  CHECK_FALSE(matches(R"(cpu{dc="eu"})", "cpu", labels));
  CHECK(matches(R"(cpu{dc=""})", "cpu", labels));
  CHECK(matches(R"(cpu{dc!="eu"})", "cpu", labels));
  CHECK_FALSE(matches(R"(cpu{dc!=""})", "cpu", labels));
  CHECK(matches(R"(cpu{dc=~".*"})", "cpu", labels));
  CHECK_FALSE(matches(R"(cpu{dc=~".+"})", "cpu", labels));
  CHECK(matches(R"(cpu{dc!~".+"})", "cpu", labels));
}

TEST_CASE("selector: regular expressions are anchored at both ends") {
  Labels labels{{"cpu", "cpu10"}};
  CHECK(matches(R"(x{cpu=~"cpu[0-9]+"})", "x", labels));
  CHECK_FALSE(matches(R"(x{cpu=~"cpu"})", "x", labels));       // no prefix match
  CHECK_FALSE(matches(R"(x{cpu=~"pu10"})", "x", labels));      // no suffix match
  CHECK_FALSE(matches(R"(x{cpu=~"cpu1|cpu"})", "x", labels));  // the anchors wrap the whole alternation
  CHECK(matches(R"(x{cpu=~"cpu1|cpu10"})", "x", labels));
  CHECK(matches(R"(x{cpu!~"cpu"})", "x", labels));
  CHECK_FALSE(matches(R"(x{cpu!~"cpu.*"})", "x", labels));
}

TEST_CASE("selector: works on the ABI's vitals_label_t as well as C++ labels") {
  const vitals_label_t labels[] = {{"host", "web1"}, {"dc", "eu"}};
  Selector s = parsed(R"(cpu_*{dc=~"e.",host!="web2"})");
  CHECK(s.matches("cpu_user", labels));
  CHECK_FALSE(s.matches("mem_used", labels));
}

// Selectors come from users (queries, subscriptions, config). Matching must
// take time linear in the subject and constant stack, whatever the pattern.
TEST_CASE("selector: a long label value does not exhaust the stack") {
  // 100,000 characters: a backtracking engine recursing per character
  // overflows an 8 MiB stack (and the smaller ones of worker threads) here.
  Labels labels{{"v", std::string(100'000, 'a')}};
  CHECK(matches(R"(x{v=~".*"})", "x", labels));
  CHECK(matches(R"(x{v=~"(a|b)*"})", "x", labels));
  CHECK_FALSE(matches(R"(x{v!~"a+"})", "x", labels));
}

TEST_CASE("selector: a pattern that backtracks exponentially elsewhere matches in linear time") {
  Selector s = parsed(R"(x{plugin=~"(.|.|.|.)*Z"})");
  // 4^13 paths for a backtracking engine: seconds; a linear engine: microseconds.
  Labels labels{{"plugin", std::string(13, 'a')}};
  auto start = std::chrono::steady_clock::now();
  CHECK_FALSE(s.matches("x", labels));
  labels[0].value = std::string(10'000, 'a') + "Z";
  CHECK(s.matches("x", labels));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(500));
}

TEST_CASE("selector: a regular expression longer than the cap is refused with the cap in the message") {
  std::string pattern(1025, 'a');
  std::string error = parse_error("x{v=~\"" + pattern + "\"}");
  CHECK(error.find("regular expression longer than 1024 bytes") == 0);
  CHECK(error.find("at offset 6") != std::string::npos);
  parsed("x{v=~\"" + std::string(1024, 'a') + "\"}");  // exactly the cap is fine
}

TEST_CASE("selector: RE2 syntax: no backreferences or lookaround, with a clear message and position") {
  std::string error = parse_error(R"re(x{v=~"ab(?=c)"})re");
  CHECK(error.find("invalid regular expression") == 0);
  CHECK(error.find("(?=") != std::string::npos);
  CHECK(error.find("lookaround") != std::string::npos);
  CHECK(error.find("at offset 8 ") != std::string::npos);  // where "(?=" starts
  error = parse_error(R"(x{v=~"(a)\\1"})");
  CHECK(error.find("invalid regular expression") == 0);
  CHECK(error.find("backreference") != std::string::npos);
  CHECK(error.find("at offset 9 ") != std::string::npos);  // where "\1" starts
  // What RE2 does support, as ECMAScript did: classes, Perl escapes, lazy
  // quantifiers, counted repetition, case-insensitive flag.
  Labels labels{{"v", "Host-42"}};
  CHECK(matches(R"(x{v=~"[A-Z]\\w+-\\d{2}"})", "x", labels));
  CHECK(matches(R"(x{v=~"(?i)host-.*?"})", "x", labels));
}

TEST_CASE("selector: . matches any single byte, as before, not only valid UTF-8") {
  Labels labels{{"v", "\xff\xfe"}};
  CHECK(matches(R"(x{v=~".."})", "x", labels));
  Labels utf8{{"v", "caf\xc3\xa9"}};
  CHECK(matches("x{v=~\"caf\xc3\xa9\"}", "x", utf8));  // literal UTF-8 matches its bytes
}

TEST_CASE("selector: a copied selector matches like the original") {
  Selector original = parsed(R"(x{v=~"a+"})");
  Selector copy = original;
  original = parsed("y");
  CHECK(copy.matches("x", Labels{{"v", "aaa"}}));
  CHECK_FALSE(copy.matches("x", Labels{{"v", "b"}}));
}
