// Runs every golden case under tests/line_protocol_cases/ (the format is in
// the README there): what InfluxDB's parsers accept must be accepted with the
// same values, what they refuse must be refused.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "ingest_fixture.hpp"

using namespace vitals::http_telemetry;
using namespace vitals::http_telemetry::test;
using vitals::TimePrecision;

namespace {

struct ExpectedSample {
  std::string series;
  double value;
  std::optional<int64_t> ts;  // nothing: the time of receipt
};

struct Case {
  std::string where, name;
  std::vector<std::string> settings;
  std::string body;
  bool any_body_line = false;
  bool refused = false;
  std::string message;
  std::optional<size_t> line, column;
  std::vector<ExpectedSample> samples;
  std::optional<size_t> strings;
};

// Replaces <CR>, <TAB>, <NUL>, <SP> and <xHH> by the bytes they stand for.
std::string decode_markers(const std::string &text) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    auto marker = [&](const char *m) { return text.compare(i, std::strlen(m), m) == 0; };
    if (marker("<CR>")) {
      out += '\r';
      i += 4;
    } else if (marker("<TAB>")) {
      out += '\t';
      i += 5;
    } else if (marker("<NUL>")) {
      out += '\0';
      i += 5;
    } else if (marker("<SP>")) {
      out += ' ';
      i += 4;
    } else if (marker("<x") && i + 5 <= text.size() && text[i + 4] == '>') {
      out += static_cast<char>(std::strtol(text.substr(i + 2, 2).c_str(), nullptr, 16));
      i += 5;
    } else {
      out += text[i++];
    }
  }
  return out;
}

std::vector<Case> read_cases(const std::filesystem::path &file) {
  std::vector<Case> cases;
  std::ifstream in(file);
  std::string text;
  size_t number = 0;
  while (std::getline(in, text)) {
    ++number;
    std::string where = file.filename().string() + ":" + std::to_string(number);
    if (text.rfind("== ", 0) == 0) {
      cases.push_back({});
      cases.back().where = where;
      cases.back().name = text.substr(3);
      continue;
    }
    if (text.empty() || text[0] == '#') continue;
    REQUIRE_MESSAGE(!cases.empty(), where << ": text before the first case");
    Case &c = cases.back();
    if (text == ">" || text.rfind("> ", 0) == 0) {
      REQUIRE_MESSAGE((text.size() <= 2 || (text.back() != ' ' && text.back() != '\t')),
                      where << ": trailing blank in a body line, write <SP>");
      if (c.any_body_line) c.body += '\n';
      c.any_body_line = true;
      if (text.size() > 2) c.body += decode_markers(text.substr(2));
    } else if (text.rfind("set ", 0) == 0) {
      c.settings.push_back(text.substr(4));
    } else if (text.rfind("strings ", 0) == 0) {
      c.strings = std::stoul(text.substr(8));
    } else if (text == "= nothing") {
      // accepted, nothing stored: no samples
    } else if (text.rfind("= ", 0) == 0) {
      std::string rest = text.substr(2);
      size_t ts_at = rest.rfind(' '), value_at = rest.rfind(' ', ts_at - 1);
      REQUIRE_MESSAGE((ts_at != std::string::npos && value_at != std::string::npos), where << ": bad sample");
      std::string ts = rest.substr(ts_at + 1);
      c.samples.push_back({rest.substr(0, value_at), std::strtod(rest.substr(value_at + 1).c_str(), nullptr),
                           ts == "now" ? std::nullopt : std::optional<int64_t>(std::stoll(ts))});
    } else if (text.rfind("! ", 0) == 0) {
      c.refused = true;
      std::string rest = text.substr(2);
      if (rest.rfind('@', 0) == 0) {
        size_t colon = rest.find(':'), space = rest.find(' ');
        c.line = std::stoul(rest.substr(1, colon - 1));
        c.column = std::stoul(rest.substr(colon + 1, space - colon - 1));
        rest = rest.substr(space + 1);
      }
      c.message = rest;
    } else {
      FAIL(where << ": cannot read '" << text << "'");
    }
  }
  return cases;
}

void run(const Case &c) {
  INFO(c.where << ": " << c.name);
  Ingest in;
  int64_t now = kNow;
  TimePrecision precision = TimePrecision::ns;
  for (const auto &s : c.settings) {
    size_t eq = s.find('=');
    std::string key = s.substr(0, eq), value = s.substr(eq + 1);
    if (key == "precision") {
      auto p = vitals::parse_time_precision(value);
      REQUIRE(p);
      precision = *p;
    } else if (key == "now") {
      now = std::stoll(value);
    } else if (key == "sanitize") {
      in.options.sanitize_names = value == "true";
    } else if (key == "max_labels") {
      in.options.limits.max_labels = std::stoul(value);
    } else {
      FAIL("unknown setting " << key);
    }
  }
  in.options.now_ns = now;
  auto p = in.line_protocol(c.body, precision);
  // CHECK, not REQUIRE: one failing case must not hide the others.
  if (c.refused) {
    CHECK_MESSAGE(p.error, "accepted, expected a refusal: " << c.message);
    if (!p.error) return;
    INFO(p.error->json());
    CHECK(p.error->status == 400);
    CHECK(p.error->message.find(c.message) != std::string::npos);
    if (c.line) CHECK(p.error->line == c.line);
    if (c.column) CHECK(p.error->column == c.column);
    return;
  }
  CHECK_MESSAGE(!p.error, (p.error ? p.error->json() : ""));
  if (p.error) return;
  CHECK(p.samples.size() == c.samples.size());
  for (size_t i = 0; i < std::min(p.samples.size(), c.samples.size()); ++i) {
    INFO("sample " << i);
    CHECK(p.samples[i].series == c.samples[i].series);
    CHECK(p.samples[i].value == c.samples[i].value);
    CHECK(p.samples[i].ts_ns == c.samples[i].ts.value_or(now));
  }
  if (c.strings) CHECK(p.counts.string_fields_skipped == *c.strings);
}

}  // namespace

TEST_CASE("line protocol corpus: every golden case") {
  std::vector<std::filesystem::path> files;
  for (const auto &entry : std::filesystem::directory_iterator(LINE_PROTOCOL_CASES_DIR))
    if (entry.path().extension() == ".txt") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  size_t total = 0;
  for (const auto &file : files) {
    for (const auto &c : read_cases(file)) {
      run(c);
      ++total;
    }
  }
  MESSAGE("line protocol corpus: " << total << " cases in " << files.size() << " files");
  CHECK(total >= 150);
}
