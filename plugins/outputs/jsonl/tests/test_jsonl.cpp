// Behaviour of the jsonl output: exact lines, escaping, rotation, stdout and write errors.
#include <cjson/cJSON.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "vitals/testing.hpp"

namespace {

namespace fs = std::filesystem;

std::string read_file(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::vector<std::string> lines_of(const std::string &text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// Sample n (below 900), whose line has the same length for every n.
vitals::testing::Sample numbered(int n) { return {"m", 1'000'000'000 + n, 100.0 + n}; }
const size_t numbered_line_size =
    std::string(R"({"ts":1000000100,"series":"m","name":"m","labels":{},"value":100})").size() + 1;

// Writes fd 1 to a file for the life of this object.
class CaptureStdout {
 public:
  explicit CaptureStdout(const std::string &path) : saved_(::dup(STDOUT_FILENO)) {
    std::fflush(stdout);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, STDOUT_FILENO);
    ::close(fd);
  }
  ~CaptureStdout() {
    std::fflush(stdout);
    ::dup2(saved_, STDOUT_FILENO);
    ::close(saved_);
  }

 private:
  int saved_;
};

}  // namespace

TEST_CASE("jsonl writes one exact line per sample, labels sorted") {
  vitals::testing::Host host;
  auto output = host.create(vitals_plugin(), "path = \"out.jsonl\"");
  REQUIRE(output.consume({{R"(cpu_usage{mode="user",cpu="0"})", 1'700'000'000'123'456'789, 12.5},
                          {"load1", 2, 0.52},
                          {"count", -3, 3}}) == VITALS_OK);
  CHECK(read_file(host.data_dir() + "/out.jsonl") ==
        "{\"ts\":1700000000123456789,\"series\":\"cpu_usage{cpu=\\\"0\\\",mode=\\\"user\\\"}\",\"name\":\"cpu_usage\","
        "\"labels\":{\"cpu\":\"0\",\"mode\":\"user\"},\"value\":12.5}\n"
        "{\"ts\":2,\"series\":\"load1\",\"name\":\"load1\",\"labels\":{},\"value\":0.52}\n"
        "{\"ts\":-3,\"series\":\"count\",\"name\":\"count\",\"labels\":{},\"value\":3}\n");
}

TEST_CASE("jsonl appends batches to an existing file") {
  vitals::testing::Host host;
  std::string path = host.data_dir() + "/out.jsonl";
  std::ofstream(path) << "earlier\n";
  auto output = host.create(vitals_plugin(), "path = \"" + path + "\"");
  REQUIRE(output.consume({{"a", 1, 1}}) == VITALS_OK);
  REQUIRE(output.consume({{"b", 2, 2}}) == VITALS_OK);
  auto lines = lines_of(read_file(path));
  REQUIRE(lines.size() == 3);
  CHECK(lines[0] == "earlier");
  CHECK(lines[2] == R"({"ts":2,"series":"b","name":"b","labels":{},"value":2})");
  CHECK(output.stats()["lines_written"] == 2);
}

TEST_CASE("jsonl writes numbers in shortest round-trip form and NaN or infinity as null") {
  vitals::testing::Host host;
  auto output = host.create(vitals_plugin(), "path = \"out.jsonl\"");
  double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  REQUIRE(output.consume({{"v", 1, 0.1},
                          {"v", 2, 1e300},
                          {"v", 3, -2.5e-8},
                          {"v", 4, nan},
                          {"v", 5, inf},
                          {"v", 6, -inf},
                          {"v", 7, 123456789012}}) == VITALS_OK);
  std::vector<std::string> values;
  for (const auto &line : lines_of(read_file(host.data_dir() + "/out.jsonl")))
    values.push_back(line.substr(line.find("\"value\":") + 8));
  CHECK(values == std::vector<std::string>{"0.1}", "1e+300}", "-2.5e-08}", "null}", "null}", "null}", "123456789012}"});
}

TEST_CASE("jsonl writes one exact line per event") {
  vitals::testing::Host host;
  auto output = host.create(vitals_plugin(), "path = \"out.jsonl\"");
  vitals_label_t labels[] = {{"room", "attic"}, {"sensor", "t\"1"}};
  vitals_event_t events[2] = {};
  events[0].ts_ns = 42;
  events[0].severity = VITALS_SEVERITY_CRITICAL;
  events[0].source = "alerting";
  events[0].message =
      "temperature 81 \xC2\xB0"
      "C above 80";
  events[0].labels = labels;
  events[0].n_labels = 2;
  events[1].ts_ns = 43;
  events[1].severity = VITALS_SEVERITY_INFO;
  events[1].source = "sqlite_tuner";
  events[1].message = "ok";
  vitals_batch_t batch{};
  batch.n_events = 2;
  batch.events = events;
  REQUIRE(vitals_plugin()->consume(output.raw(), &batch, nullptr) == VITALS_OK);
  CHECK(read_file(host.data_dir() + "/out.jsonl") ==
        "{\"ts\":42,\"event\":{\"severity\":\"critical\",\"source\":\"alerting\",\"message\":\"temperature 81 "
        "\xC2\xB0"
        "C above 80\",\"labels\":{\"room\":\"attic\",\"sensor\":\"t\\\"1\"}}}\n"
        "{\"ts\":43,\"event\":{\"severity\":\"info\",\"source\":\"sqlite_tuner\",\"message\":\"ok\",\"labels\":{}}}\n");
}

TEST_CASE("jsonl escapes quotes, backslashes and control characters and passes UTF-8 through") {
  vitals::testing::Host host;
  auto output = host.create(vitals_plugin(), "path = \"out.jsonl\"");
  std::string value = std::string("a\"b\\c\td\x01\x1f\x7f") + "\xE2\x82\xAC\xF0\x9F\x8C\xA1";
  vitals::SeriesId id = host.intern("m", {{"k", value}});
  int64_t ts = 1;
  double v = 1;
  vitals_batch_t batch{};
  batch.n_samples = 1;
  batch.series = &id;
  batch.ts_ns = &ts;
  batch.values = &v;
  REQUIRE(vitals_plugin()->consume(output.raw(), &batch, nullptr) == VITALS_OK);
  std::string line = read_file(host.data_dir() + "/out.jsonl");
  CHECK(line.find(R"("labels":{"k":"a\"b\\c\td\u0001\u001f)"
                  "\x7f\xE2\x82\xAC\xF0\x9F\x8C\xA1\"}") != std::string::npos);
  // A JSON parser reads back exactly the bytes of the label value and of the series text.
  cJSON *json = cJSON_Parse(line.c_str());
  REQUIRE(json);
  CHECK(std::string(cJSON_GetObjectItem(cJSON_GetObjectItem(json, "labels"), "k")->valuestring) == value);
  CHECK(std::string(cJSON_GetObjectItem(json, "series")->valuestring) == host.series_text(id));
  cJSON_Delete(json);
}

TEST_CASE("jsonl replaces invalid UTF-8 with U+FFFD so every line stays valid JSON") {
  vitals::testing::Host host;
  auto output = host.create(vitals_plugin(), "path = \"out.jsonl\"");
  // A stray continuation byte, a truncated sequence, an overlong form and a surrogate.
  vitals::SeriesId id = host.intern("m", {{"k", "a\x80z\xE2\x82\xC0\x80\xED\xA0\x80"}});
  int64_t ts = 1;
  double v = 1;
  vitals_batch_t batch{};
  batch.n_samples = 1;
  batch.series = &id;
  batch.ts_ns = &ts;
  batch.values = &v;
  REQUIRE(vitals_plugin()->consume(output.raw(), &batch, nullptr) == VITALS_OK);
  std::string line = read_file(host.data_dir() + "/out.jsonl");
  CHECK(line.find(R"("labels":{"k":"a\ufffdz\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd"})") != std::string::npos);
}

TEST_CASE("jsonl rotates before the file would exceed max_size and keeps max_files") {
  vitals::testing::Host host;
  std::string path = host.data_dir() + "/out.jsonl";
  size_t max_size = numbered_line_size * 3;
  auto output =
      host.create(vitals_plugin(), "path = \"out.jsonl\"\nmax_size = " + std::to_string(max_size) + "\nmax_files = 2");
  for (int n = 0; n < 20; ++n) REQUIRE(output.consume({numbered(n)}) == VITALS_OK);
  CHECK(fs::exists(path));
  CHECK(fs::exists(path + ".1"));
  CHECK(fs::exists(path + ".2"));
  CHECK_FALSE(fs::exists(path + ".3"));
  for (auto p : {path, path + ".1", path + ".2"}) CHECK(fs::file_size(p) <= max_size);
  // Oldest first, the files hold the newest lines in order; older ones are gone.
  auto kept = lines_of(read_file(path + ".2") + read_file(path + ".1") + read_file(path));
  REQUIRE(kept.size() == 8);  // 20 lines: 6 full files of 3, then 2
  for (size_t i = 0; i < kept.size(); ++i) CHECK(kept[i].ends_with(",\"value\":" + std::to_string(112 + i) + "}"));
  CHECK(output.stats()["rotations"] == 6);
}

TEST_CASE("jsonl splits a batch larger than max_size across files at line boundaries") {
  vitals::testing::Host host;
  std::string path = host.data_dir() + "/out.jsonl";
  size_t max_size = numbered_line_size * 4 + 10;
  auto output = host.create(vitals_plugin(), "path = \"" + path + "\"\nmax_size = " + std::to_string(max_size));
  std::vector<vitals::testing::Sample> batch;
  for (int n = 0; n < 10; ++n) batch.push_back(numbered(n));
  REQUIRE(output.consume(batch) == VITALS_OK);
  CHECK(lines_of(read_file(path + ".2")).size() == 4);
  CHECK(lines_of(read_file(path + ".1")).size() == 4);
  CHECK(lines_of(read_file(path)).size() == 2);
  CHECK(read_file(path + ".1").ends_with("}\n"));
  CHECK(lines_of(read_file(path)).back().ends_with(",\"value\":109}"));
}

TEST_CASE("jsonl writes a line longer than max_size alone in its own file") {
  vitals::testing::Host host;
  std::string path = host.data_dir() + "/out.jsonl";
  auto output = host.create(vitals_plugin(), "path = \"out.jsonl\"\nmax_size = 100");
  REQUIRE(output.consume({numbered(1)}) == VITALS_OK);
  REQUIRE(output.consume({{"m{k=\"" + std::string(200, 'x') + "\"}", 1, 1}}) == VITALS_OK);
  REQUIRE(output.consume({numbered(2)}) == VITALS_OK);
  CHECK(lines_of(read_file(path + ".2")).size() == 1);
  CHECK(fs::file_size(path + ".1") > 200);
  CHECK(lines_of(read_file(path + ".1")).size() == 1);
  CHECK(lines_of(read_file(path)).size() == 1);
}

TEST_CASE("jsonl with max_files = 0 starts the file over instead of keeping copies") {
  vitals::testing::Host host;
  std::string path = host.data_dir() + "/out.jsonl";
  auto output = host.create(
      vitals_plugin(), "path = \"out.jsonl\"\nmax_files = 0\nmax_size = " + std::to_string(numbered_line_size * 2));
  for (int n = 0; n < 5; ++n) REQUIRE(output.consume({numbered(n)}) == VITALS_OK);
  CHECK_FALSE(fs::exists(path + ".1"));
  auto lines = lines_of(read_file(path));
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].ends_with(",\"value\":104}"));
}

TEST_CASE("jsonl writes to stdout with the default path") {
  vitals::testing::Host host;
  std::string captured = host.data_dir() + "/stdout.txt";
  {
    auto output = host.create(vitals_plugin(), "fsync = true");
    CaptureStdout capture(captured);
    REQUIRE(output.consume({{"load1", 7, 0.25}}) == VITALS_OK);
    REQUIRE(output.flush() == VITALS_OK);
  }
  CHECK(read_file(captured) == "{\"ts\":7,\"series\":\"load1\",\"name\":\"load1\",\"labels\":{},\"value\":0.25}\n");
}

TEST_CASE("jsonl with fsync writes and flushes a file") {
  vitals::testing::Host host;
  auto output = host.create(vitals_plugin(), "path = \"sub/dir/out.jsonl\"\nfsync = true");
  REQUIRE(output.consume({{"a", 1, 1}}) == VITALS_OK);
  CHECK(output.flush() == VITALS_OK);
  CHECK(lines_of(read_file(host.data_dir() + "/sub/dir/out.jsonl")).size() == 1);
}

TEST_CASE("jsonl reports a failed write as an error with the system's reason") {
  vitals::testing::Host host;
  auto output = host.create(vitals_plugin(), "path = \"/dev/full\"");
  CHECK(output.consume({{"a", 1, 1}}) == VITALS_ERROR);
  CHECK(output.last_error() == "write /dev/full: No space left on device");
}

TEST_CASE("jsonl refuses a path it cannot open and bad rotation settings") {
  vitals::testing::Host host;
  auto refusal = [&](const std::string &config) {
    try {
      host.create(vitals_plugin(), config);
    } catch (const std::runtime_error &e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  CHECK(refusal("path = \"/proc/self/nope/out.jsonl\"")
            .starts_with("create failed: path: cannot create /proc/self/nope"));
  CHECK(refusal("path = \"/proc/version/x\"").find("/proc/version") != std::string::npos);
  CHECK(refusal("max_size = \"10MB\"") == "create failed: max_size: rotation needs a file, but path is \"-\" (stdout)");
  // The range is the schema's: refused by the host's check, as `vitals check` does, with the line.
  CHECK(refusal("path = \"a\"\nmax_files = -1") == "line 2: 'max_files' must be at least 0 (got -1)");
  CHECK(refusal("max_files = 1001") == "line 1: 'max_files' must be at most 1000 (got 1001)");
  CHECK(refusal("path = \"\"") == "create failed: path: must not be empty (\"-\" means stdout)");
  CHECK(refusal("max_size = \"lots\"").find("'max_size' must be a size") != std::string::npos);
}

TEST_CASE("jsonl consumes on its own thread") { CHECK((vitals_plugin()->flags & VITALS_FLAG_CONSUME_ON_THREAD) != 0); }
