// The line protocol parser on its own: every feature with exact samples, every
// malformed input with its message and position, the series cache, throughput.
#include <doctest/doctest.h>
#include <time.h>

#include <chrono>

#include "ingest_fixture.hpp"

using namespace vitals::http_telemetry;
using namespace vitals::http_telemetry::test;
using vitals::TimePrecision;

TEST_CASE("line protocol: each field becomes measurement_field with the tags as labels") {
  Ingest in;
  expect_samples(in.line_protocol("cpu,host=a,region=eu usage=1.5,idle=2i,up=true,count=7u 1700000000000000001"),
                 {{R"(cpu_usage{host="a",region="eu"})", 1700000000000000001, 1.5},
                  {R"(cpu_idle{host="a",region="eu"})", 1700000000000000001, 2},
                  {R"(cpu_up{host="a",region="eu"})", 1700000000000000001, 1},
                  {R"(cpu_count{host="a",region="eu"})", 1700000000000000001, 7}});
}

TEST_CASE("line protocol: field \"value\" names the series after the measurement alone") {
  Ingest in;
  expect_samples(in.line_protocol("temperature,room=attic value=21.5 5"), {{R"(temperature{room="attic"})", 5, 21.5}});
}

TEST_CASE("line protocol: numbers, integers, unsigned and every boolean spelling") {
  Ingest in;
  expect_samples(in.line_protocol("m a=-0.5,b=1e3,c=-3i,d=18446744073709551615u,e=.5,f=2,g=1E-2 1\n"
                                  "m t1=t,t2=T,t3=true,t4=True,t5=TRUE,f1=f,f2=F,f3=false,f4=False,f5=FALSE 2"),
                 {{"m_a", 1, -0.5},
                  {"m_b", 1, 1000},
                  {"m_c", 1, -3},
                  {"m_d", 1, 18446744073709551615.0},
                  {"m_e", 1, 0.5},
                  {"m_f", 1, 2},
                  {"m_g", 1, 0.01},
                  {"m_t1", 2, 1},
                  {"m_t2", 2, 1},
                  {"m_t3", 2, 1},
                  {"m_t4", 2, 1},
                  {"m_t5", 2, 1},
                  {"m_f1", 2, 0},
                  {"m_f2", 2, 0},
                  {"m_f3", 2, 0},
                  {"m_f4", 2, 0},
                  {"m_f5", 2, 0}});
}

TEST_CASE("line protocol: a number too small for a double reads as zero") {
  Ingest in;
  expect_samples(in.line_protocol("m v=1e-400 1"), {{"m_v", 1, 0}});
}

TEST_CASE("line protocol: escapes in measurement, tag keys, tag values and field keys") {
  Ingest in;
  in.options.sanitize_names = false;
  expect_samples(in.line_protocol(R"(disk,path=C:\Program\ Files,note=a\,b\=c\ d used=1 1)"),
                 {{R"(disk_used{note="a,b=c d",path="C:\\Program Files"})", 1, 1}});
  // A backslash before anything else, a backslash included, stays: "\\" is
  // two backslashes as in InfluxDB, and the second one may escape a space.
  expect_samples(in.line_protocol(R"(disk,path=C:\temp used=1 1)"), {{R"(disk_used{path="C:\\temp"})", 1, 1}});
  expect_samples(in.line_protocol(R"(disk,path=C:\\temp used=1 1)"), {{R"(disk_used{path="C:\\\\temp"})", 1, 1}});
  expect_samples(in.line_protocol(R"(disk,host=two\\ words used=1 1)"), {{R"(disk_used{host="two\\ words"})", 1, 1}});
  // Decoded names are what sanitize_names = false checks.
  expect_error(in.line_protocol(R"(my\ disk\,x used=1)"), "invalid measurement 'my disk,x'", 1, 1);
  expect_error(in.line_protocol(R"(disk,my\ tag\=x=1 used=1)"), "invalid tag key 'my tag=x'", 1, 6);
  expect_error(in.line_protocol(R"(disk us\=ed=1)"), "invalid field key 'us=ed'", 1, 6);
  // An escaped '=' in a measurement is a plain character; it may stand unescaped too.
  in.options.sanitize_names = true;
  expect_samples(in.line_protocol(R"(a=b value=1 1)"), {{"a_b", 1, 1}});
}

TEST_CASE("line protocol: string fields are skipped and counted, quotes and backslashes escaped") {
  Ingest in;
  auto p = in.line_protocol(
      "log,host=a msg=\"said \\\"hi\\\", then \\\\ left\",level=3i,note=\"x y=z\" 10\n"
      "log msg=\"only strings\" 11\n");
  expect_samples(p, {{R"(log_level{host="a"})", 10, 3}});
  CHECK(p.counts.string_fields_skipped == 3);
  CHECK(p.counts.samples == 1);
}

TEST_CASE("line protocol: a string field may span lines") {
  Ingest in;
  auto p = in.line_protocol("m s=\"first\nsecond\",v=1 5\nm v=2 6\nbad");
  expect_error(p, "missing fields", 4, 4);
  auto ok = in.line_protocol("m s=\"first\nsecond\",v=1 5\nm v=2 6\n");
  expect_samples(ok, {{"m_v", 5, 1}, {"m_v", 6, 2}});
}

TEST_CASE("line protocol: a missing timestamp is the time of receipt") {
  Ingest in;
  expect_samples(in.line_protocol("m v=1\nm v=2   \nm v=3 7"), {{"m_v", kNow, 1}, {"m_v", kNow, 2}, {"m_v", 7, 3}});
}

TEST_CASE("line protocol: precision scales timestamps") {
  Ingest in;
  expect_samples(in.line_protocol("m v=1 1700000000", TimePrecision::s), {{"m_v", 1700000000000000000, 1}});
  expect_samples(in.line_protocol("m v=1 1700000000123", TimePrecision::ms), {{"m_v", 1700000000123000000, 1}});
  expect_samples(in.line_protocol("m v=1 1700000000123456", TimePrecision::us), {{"m_v", 1700000000123456000, 1}});
  expect_samples(in.line_protocol("m v=1 -5", TimePrecision::s), {{"m_v", -5000000000, 1}});
}

TEST_CASE("line protocol: comments, blank lines, CRLF, tabs and extra spaces") {
  Ingest in;
  expect_samples(in.line_protocol("# a comment\r\n\r\n   \n  m,t=1 v=1 1\r\n#m v=9 9\nm,t=2   v=2  2 \r\n\n"),
                 {{R"(m_v{t="1"})", 1, 1}, {R"(m_v{t="2"})", 2, 2}});
  // A tab is no separator (InfluxDB refuses it there too), except in a comment.
  expect_error(in.line_protocol("m v=1\t2"), "unexpected control character 0x09 (a tab)", 1, 6);
  expect_error(in.line_protocol("\tm v=1"), "unexpected control character 0x09 (a tab)", 1, 1);
  expect_samples(in.line_protocol("#\ttabbed comment\nm v=1 1"), {{"m_v", 1, 1}});
  auto comments_only = in.line_protocol("# nothing\n\n# here\n");
  expect_samples(comments_only, {});
}

TEST_CASE("line protocol: names are sanitized by default") {
  Ingest in;
  expect_samples(
      in.line_protocol("temp-1,room-id=a,9x=b value=1,hum.rel%=2 1\n1wire,\xc3\xa9t\xc3\xa9=c temp\xc3\xa9rature=3 2"),
      {{R"(temp_1{_9x="b",room_id="a"})", 1, 1},
       {R"(temp_1_hum.rel_{_9x="b",room_id="a"})", 1, 2},
       {R"(_1wire_temp_rature{_t_="c"})", 2, 3}});
}

TEST_CASE("line protocol: with sanitize_names = false invalid names refuse the request") {
  Ingest in;
  in.options.sanitize_names = false;
  expect_error(in.line_protocol("ok v=1\ntemp-1 value=1"), "invalid measurement 'temp-1'", 2, 1);
  expect_error(in.line_protocol("temp room-id=1"), "invalid field key 'room-id'", 1, 6);
  expect_error(in.line_protocol("temp,room-id=a v=1"), "invalid tag key 'room-id'", 1, 6);
  expect_samples(in.line_protocol("ok:ns.x,k_1=v v=1 1"), {{R"(ok:ns.x_v{k_1="v"})", 1, 1}});
}

TEST_CASE("line protocol: sanitizing two tag keys into one is refused") {
  Ingest in;
  expect_error(in.line_protocol("m,a-b=1,a_b=2 v=1"), "duplicate label 'a_b'", 1, 1);
}

TEST_CASE("line protocol: every malformed line is refused with its line, column and reason") {
  Ingest in;
  struct Case {
    const char *body;
    const char *message;
    size_t line, column;
  };
  const Case cases[] = {
      {"cpu", "missing fields", 1, 4},
      {"cpu ", "missing fields", 1, 5},
      {"cpu,t=1", "missing fields", 1, 8},
      {"cpu,t=1\r\n", "missing fields", 1, 8},
      {",t=1 v=1", "missing measurement", 1, 1},
      {"cpu,t v=1", "tag 't' has no value", 1, 6},
      {"cpu,=x v=1", "missing tag key", 1, 5},
      {"cpu, v=1", "missing tag key", 1, 5},
      {"cpu,t= v=1", "missing value for tag 't'", 1, 7},
      {"cpu,t=a,t=b v=1", "duplicate tag 't'", 1, 9},
      {"cpu v", "field 'v' has no value", 1, 6},
      {"cpu v 1", "field 'v' has no value", 1, 6},
      {"cpu v=", "missing value for field 'v'", 1, 7},
      {"cpu v=,w=1", "missing value for field 'v'", 1, 7},
      {"cpu =1", "missing field key", 1, 5},
      {"cpu v=1,", "missing field key", 1, 9},
      {"cpu v=1,v=2", "duplicate field 'v'", 1, 9},
      {"cpu v=abc", "invalid value 'abc' for field 'v'", 1, 7},
      {"cpu v=1.5.5", "invalid value '1.5.5'", 1, 7},
      {"cpu v=1e", "invalid value '1e'", 1, 7},
      {"cpu v=+-1", "invalid value '+-1'", 1, 7},
      {"cpu v=+1", "invalid value '+1'", 1, 7},
      {"cpu status=none", "invalid value 'none' for field 'status'", 1, 12},
      {"cpu,h=ost=localhost v=1", "unescaped '=' in the value of tag 'h'", 1, 10},
      {"cpu v=tru", "invalid value 'tru'", 1, 7},
      {"cpu v=1.5i", "invalid value '1.5i'", 1, 7},
      {"cpu v=i", "invalid value 'i'", 1, 7},
      {"cpu v=-1u", "invalid value '-1u'", 1, 7},
      {"cpu v=nan", "NaN and Infinity are not allowed", 1, 7},
      {"cpu v=NaN", "NaN and Infinity are not allowed", 1, 7},
      {"cpu v=inf", "NaN and Infinity are not allowed", 1, 7},
      {"cpu v=-Inf", "NaN and Infinity are not allowed", 1, 7},
      {"cpu v=+infinity", "NaN and Infinity are not allowed", 1, 7},
      {"cpu v=1e400", "number '1e400' out of range for field 'v' (beyond a double)", 1, 7},
      {"cpu v=-1e400", "out of range", 1, 7},
      {"cpu v=99999999999999999999i", "integer '99999999999999999999i' out of range for field 'v' (int64)", 1, 7},
      {"cpu v=18446744073709551616u", "out of range for field 'v' (uint64)", 1, 7},
      {"cpu v=1 abc", "invalid timestamp 'abc'", 1, 9},
      {"cpu v=1 1.5", "invalid timestamp '1.5'", 1, 9},
      {"cpu v=1 99999999999999999999", "timestamp '99999999999999999999' out of range", 1, 9},
      {"cpu v=1 1 2", "unexpected text after the timestamp", 1, 11},
      {"cpu s=\"abc", "unterminated string value for field 's'", 1, 7},
      {"cpu s=\"abc\\\"", "unterminated string", 1, 7},
      {"cpu s=\"abc\"x", "unexpected 'x' after field 's'", 1, 12},
      {"cpu v=1\rx", "unexpected", 1, 8},
      {"ok v=1\nok v=2 2\nbad\n", "missing fields", 3, 4},
      {"ok v=1\r\nok v=2 2\r\nbad v=x\r\n", "invalid value 'x'", 3, 7},
  };
  for (const auto &c : cases) {
    INFO("body: " << c.body);
    expect_error(in.line_protocol(c.body), c.message, c.line, c.column);
  }
}

TEST_CASE("line protocol: a timestamp that overflows at its precision is refused") {
  Ingest in;
  expect_error(in.line_protocol("m v=1 9223372036854775807", TimePrecision::s), "out of range at this precision", 1, 7);
  expect_samples(in.line_protocol("m v=1 9223372036", TimePrecision::s), {{"m_v", 9223372036000000000, 1}});
}

TEST_CASE("line protocol: invalid UTF-8 and NUL bytes are refused with their byte offset") {
  Ingest in;
  auto bad = in.line_protocol("m v=1\nm,t=\xff v=1");
  expect_error(bad, "invalid UTF-8 at byte offset 10", 2, 5);
  CHECK(bad.error->offset == 10u);
  expect_error(in.line_protocol("m,t=\xc3\x28 v=1"), "invalid UTF-8 at byte offset 4", 1, 5);      // bad continuation
  expect_error(in.line_protocol("m,t=\xc0\xaf v=1"), "invalid UTF-8 at byte offset 4", 1, 5);      // overlong
  expect_error(in.line_protocol("m,t=\xed\xa0\x80 v=1"), "invalid UTF-8 at byte offset 4", 1, 5);  // surrogate
  expect_error(in.line_protocol("m,t=\xf4\x90\x80\x80 v=1"), "invalid UTF-8", 1, 5);               // past U+10FFFF
  expect_error(in.line_protocol("m,t=\xe2\x82 v=1"), "invalid UTF-8", 1, 5);                       // truncated
  expect_error(in.line_protocol(std::string_view("m v=1 1\0", 8)), "NUL byte in the body at byte offset 7", 1, 8);
  // In a tag value a NUL would cut the label value short: refused, not truncated.
  expect_error(in.line_protocol(std::string_view("m,t=a\0b v=1 1", 14)), "NUL byte in the body at byte offset 5", 1, 6);
  expect_samples(in.line_protocol("m,t=\xe2\x82\xac,u=\xf0\x9f\x8c\xa1 v=1 1"),
                 {{"m_v{t=\"\xe2\x82\xac\",u=\"\xf0\x9f\x8c\xa1\"}", 1, 1}});
}

TEST_CASE("line protocol: an empty body stores nothing, as InfluxDB answers it with 204") {
  Ingest in;
  for (std::string_view body : {"", " ", "\n\r\n  "}) expect_samples(in.line_protocol(body), {});
}

TEST_CASE("line protocol: invalid UTF-8 in a comment is ignored, elsewhere refused") {
  Ingest in;
  expect_samples(in.line_protocol("# caf\xe9 \xff\xfe\nm v=1 1"), {{"m_v", 1, 1}});
  expect_error(in.line_protocol("# fine\nm,t=caf\xe9 v=1 1"), "invalid UTF-8 at byte offset 14", 2, 8);
  // Before a syntax error later on the same line, the bad byte is the reason given.
  expect_error(in.line_protocol("m,t=\xff v=x"), "invalid UTF-8 at byte offset 4", 1, 5);
  CHECK(in.interns == 1);
}

TEST_CASE("line protocol: without a timestamp, the time of receipt is rounded down to the precision") {
  Ingest in;
  in.options.now_ns = 1'700'000'000'987'654'321;
  expect_samples(in.line_protocol("m v=1", TimePrecision::s), {{"m_v", 1'700'000'000'000'000'000, 1}});
  expect_samples(in.line_protocol("m v=1", TimePrecision::ms), {{"m_v", 1'700'000'000'987'000'000, 1}});
  expect_samples(in.line_protocol("m v=1", TimePrecision::us), {{"m_v", 1'700'000'000'987'654'000, 1}});
  expect_samples(in.line_protocol("m v=1", TimePrecision::ns), {{"m_v", 1'700'000'000'987'654'321, 1}});
  in.options.now_ns = -1'500'000'000;  // down, not toward zero
  expect_samples(in.line_protocol("m v=1", TimePrecision::s), {{"m_v", -2'000'000'000, 1}});
}

TEST_CASE("line protocol: a series key past 65,535 bytes is refused, as InfluxDB does") {
  Ingest in;
  in.options.limits.max_label_value_length = 100'000;
  // InfluxDB counts the measurement and tags as written, 4 bytes, the field key.
  const std::string at_limit = "m,t=" + std::string(65'526, 'x');  // 65,530 + 4 + 1
  CHECK_FALSE(in.line_protocol(at_limit + " v=1 1").error);
  expect_error(in.line_protocol(at_limit + "x v=1 1"),
               "the series key of field 'v' is 65536 bytes long: more than 65535, InfluxDB's limit on a series key", 1,
               at_limit.size() + 3);
  const std::string too_long = "m,t=" + std::string(65'532, 'x');  // 65,536
  expect_error(in.line_protocol(too_long + " v=1 1"),
               "the measurement and tags are 65536 bytes long: more than 65535, InfluxDB's limit on a series key", 1,
               1);
}

TEST_CASE("line protocol: fields that sanitize to one series name are refused, naming both") {
  Ingest in;
  expect_error(in.line_protocol("m rx-bytes=1,rx_bytes=2 1"),
               "fields 'rx-bytes' and 'rx_bytes' name the same series once sanitized; rename one", 1, 14);
  // Also when both series are already in the cache.
  expect_samples(in.line_protocol("m rx-bytes=1 1\nm rx_bytes=2 2"), {{"m_rx_bytes", 1, 1}, {"m_rx_bytes", 2, 2}});
  expect_error(in.line_protocol("m rx_bytes=1,rx-bytes=2 1"), "fields 'rx_bytes' and 'rx-bytes'", 1, 14);
}

TEST_CASE("line protocol: more than max_samples is refused with 413") {
  Ingest in;
  in.options.max_samples = 3;
  expect_samples(in.line_protocol("m a=1,b=2,c=3 1"), {{"m_a", 1, 1}, {"m_b", 1, 2}, {"m_c", 1, 3}});
  auto p = in.line_protocol("m a=1,b=2 1\nm c=3,d=4 1");
  REQUIRE(p.error);
  CHECK(p.error->status == 413);
  CHECK(p.error->message == "too many samples in one request: more than 3 (max_samples); split it");
}

TEST_CASE("line protocol: extra labels apply where the line does not set them") {
  Ingest in({{"site", "lab"}, {"host", "gateway"}});
  expect_samples(in.line_protocol("m,host=a v=1 1\nm v=2 2"),
                 {{R"(m_v{host="a",site="lab"})", 1, 1}, {R"(m_v{host="gateway",site="lab"})", 2, 2}});
}

TEST_CASE("line protocol: the series cache interns each series once") {
  Ingest in;
  std::string body = "cpu,host=a usage=1,idle=2 1\ncpu,host=b usage=3 2\n";
  expect_samples(in.line_protocol(body),
                 {{R"(cpu_usage{host="a"})", 1, 1}, {R"(cpu_idle{host="a"})", 1, 2}, {R"(cpu_usage{host="b"})", 2, 3}});
  CHECK(in.interns == 3);
  CHECK(in.resolver().cache().misses() == 3);
  expect_samples(in.line_protocol(body),
                 {{R"(cpu_usage{host="a"})", 1, 1}, {R"(cpu_idle{host="a"})", 1, 2}, {R"(cpu_usage{host="b"})", 2, 3}});
  CHECK(in.interns == 3);
  CHECK(in.resolver().cache().hits() == 3);
  // One series spelled two ways (tag order) takes two cache entries, both
  // naming it; it is interned once.
  expect_samples(
      in.line_protocol("cpu,zone=z,host=a usage=5 3\ncpu,host=a,zone=z usage=6 4\ncpu,zone=z,host=a usage=7 5"),
      {{R"(cpu_usage{host="a",zone="z"})", 3, 5},
       {R"(cpu_usage{host="a",zone="z"})", 4, 6},
       {R"(cpu_usage{host="a",zone="z"})", 5, 7}});
  CHECK(in.interns == 4);
  CHECK(in.resolver().cache().size() == 5);
}

TEST_CASE("series cache: a full cache starts over and keeps working") {
  Ingest in({}, 2);
  expect_samples(in.line_protocol("m,t=1 v=1 1\nm,t=2 v=1 1\nm,t=3 v=1 1\nm,t=1 v=2 2"),
                 {{R"(m_v{t="1"})", 1, 1}, {R"(m_v{t="2"})", 1, 1}, {R"(m_v{t="3"})", 1, 1}, {R"(m_v{t="1"})", 2, 2}});
  CHECK(in.resolver().cache().resets() == 1);
  CHECK(in.resolver().cache().size() <= 2);
}

TEST_CASE("line protocol: parse throughput (reported, not asserted)") {
  // 1000 requests of 1000 samples over 1000 series, as bench/ingest sends them.
  constexpr int kRequests = 1000, kLines = 1000;
  std::vector<std::string> bodies;
  for (int r = 0; r < 10; ++r) {
    std::string body;
    for (int i = 0; i < kLines; ++i)
      body += "sensor,host=node" + std::to_string(i % 100) + ",region=eu-west temp" + std::to_string(i / 100) + "=" +
              std::to_string(20.0 + (i * 7 + r) % 100 / 10.0) + " " +
              std::to_string(1700000000000000000 + (r * kLines + i) * 1000000LL) + "\n";
    bodies.push_back(body);
  }
  Ingest in;
  in.options.max_samples = kLines;
  vitals::Batch batch;
  batch.reserve(kLines);
  size_t samples = 0;
  auto start = std::chrono::steady_clock::now();
  double cpu_start = thread_cpu_seconds();
  for (int r = 0; r < kRequests; ++r) {
    batch.clear();
    IngestCounts counts;
    auto e =
        parse_line_protocol(bodies[r % bodies.size()], TimePrecision::ns, in.options, in.resolver(), batch, counts);
    REQUIRE_FALSE(e);
    samples += counts.samples;
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double cpu_seconds = thread_cpu_seconds() - cpu_start;
  CHECK(samples == size_t{kRequests} * kLines);
  CHECK(in.interns == 1000);
  MESSAGE("line protocol: parsed " << samples << " samples: " << samples / cpu_seconds / 1e6
                                   << " M samples/s per core (thread CPU time; wall clock: " << samples / seconds / 1e6
                                   << " M/s)");
}
