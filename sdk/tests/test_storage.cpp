// The storage contract's request reader and reply writers (storage.hpp) and
// the exact JSON reader under them (json_reader.hpp): what every storage
// accepts, refuses and writes, whatever keeps its data.
#include <doctest/doctest.h>

#include <limits>

#include "vitals/storage.hpp"

using namespace vitals;
using namespace vitals::storage;
using storage::detail::time_field;

namespace {
constexpr int64_t s = 1'000'000'000, m = 60 * s, h = 60 * m, d = 24 * h;
constexpr int64_t now = 1'700'000'000 * s;

json::Value str(const std::string &t) { return json::Value::string(t); }
json::Value num(const std::string &t) { return json::Value::number_literal(t); }

RangeQuery range(const std::string &text) { return std::get<RangeQuery>(parse_request(text, now)); }
}  // namespace

TEST_CASE("times: integer nanoseconds exactly, and the human forms") {
  CHECK(time_field(num("1700000000123456789"), now, "from") == 1'700'000'000'123'456'789);
  CHECK(time_field(num("-5"), now, "from") == -5);
  CHECK_THROWS_WITH(time_field(num("1.5e18"), now, "from"), doctest::Contains("integer nanoseconds"));
  CHECK_THROWS(time_field(num("99999999999999999999"), now, "from"));
  CHECK(time_field(str("now"), now, "to") == now);
  CHECK(time_field(str("-1h"), now, "to") == now - h);
  CHECK(time_field(str("now-30m"), now, "to") == now - 30 * m);
  CHECK(time_field(str("+5m"), now, "to") == now + 5 * m);
  CHECK(time_field(str("1700000000"), now, "to") == 1'700'000'000 * s);
  CHECK(time_field(str("1700000000123"), now, "to") == 1'700'000'000'123'000'000);
  CHECK(time_field(str("1700000000123456"), now, "to") == 1'700'000'000'123'456'000);
  CHECK(time_field(str("1700000000123456789"), now, "to") == 1'700'000'000'123'456'789);
  CHECK(time_field(str("2023-11-14T22:13:20Z"), now, "to") == 1'700'000'000 * s);
  CHECK(time_field(str("2023-11-14T22:13:20.5Z"), now, "to") == 1'700'000'000 * s + s / 2);
  CHECK(time_field(str("2023-11-15T00:13:20.000000001+02:00"), now, "to") == 1'700'000'000 * s + 1);
  CHECK(time_field(str("1969-12-31T23:59:59Z"), now, "to") == -s);
  CHECK(time_field(str("2024-02-29T00:00:00Z"), now, "to") == 1'709'164'800 * s);
  for (const char *bad : {"2023-02-29T00:00:00Z", "2023-11-14T22:13:20", "2023-13-01T00:00:00Z", "yesterday", "-1x", "",
                          "now-", "2023-11-14T22:13:20.Z"}) {
    CAPTURE(bad);
    CHECK_THROWS_WITH(time_field(str(bad), now, "from"), doctest::Contains("\"from\""));
  }
  CHECK_THROWS(time_field(json::Value::parse("true"), now, "from"));
}

// The core reads ?from=/--from epoch digits by their value (below 1e11
// seconds, 1e14 milliseconds, 1e17 microseconds, else nanoseconds, with an
// optional fraction); the query contract counted digits and refused
// fractions, so the same text meant different times.
TEST_CASE("times: epoch digits are read by magnitude, as the core reads them") {
  CHECK(time_field(str("0001700000000"), now, "to") == 1'700'000'000 * s);  // 13 digits, a value in seconds
  CHECK(time_field(str("00000001700000000123"), now, "to") == 1'700'000'000'123'000'000);
  CHECK(time_field(str("1700000000.5"), now, "to") == 1'700'000'000 * s + s / 2);
}

TEST_CASE("times: a relative time past the int64 nanosecond range is refused, naming the input") {
  // now + 106000 days is past 2262: refused, not wrapped (UBSan runs this).
  CHECK_THROWS_WITH(time_field(str("+106000d"), now, "to"), doctest::Contains("+106000d"));
  CHECK_THROWS_WITH(time_field(str("now+106000d"), now, "to"), doctest::Contains("out of range"));
  CHECK(time_field(str("-106000d"), now, "from") == now - 106'000 * d);
  CHECK_THROWS_WITH(time_field(str("2026-02-31T00:00:00Z"), now, "from"), doctest::Contains("2026-02-31"));
}

TEST_CASE("json reader: exact numbers and text, refused when malformed") {
  json::Value r = json::Value::parse(
      R"( {"op":"query","match":"cpu{a=\"\u00e9\\n\"}","from":1700000000123456789,"x":[1,{"y":[]}],"n":null} )");
  CHECK(r["op"].text() == "query");
  CHECK(r["match"].text() == "cpu{a=\"\xc3\xa9\\n\"}");
  CHECK(r["from"].text() == "1700000000123456789");
  CHECK(r["from"].integer() == 1'700'000'000'123'456'789);
  CHECK(r["x"].is_array());
  CHECK(r["x"][1]["y"].size() == 0);
  CHECK(r["n"].is_null());
  CHECK_FALSE(r.has("absent"));
  CHECK(json::Value::parse(R"({"s":"\ud83d\ude00"})")["s"].text() == "\xf0\x9f\x98\x80");
  CHECK(json::Value::parse("-0.5e-3").number() == -0.0005);
  CHECK_THROWS(json::Value::parse("1.5").integer());

  for (const char *bad :
       {"", "{", "{\"a\":1,}", "{\"a\":1}x", "{\"a\":01}", "{\"a\":1.}", "{\"a\":-}", "{\"a\":1,\"a\":2}",
        "{\"a\":\"\\x\"}", "{\"a\":\"\\ud800\"}", "{a:1}", "{\"a\":tru}", "{\"a\":\"line\nbreak\"}", "[1,]"}) {
    CAPTURE(bad);
    CHECK_THROWS_WITH(json::Value::parse(bad), doctest::Contains("invalid JSON"));
  }
  std::string deep(65, '['), closing(65, ']');
  CHECK_THROWS_WITH(json::Value::parse(deep + closing), doctest::Contains("nested too deeply"));
  CHECK_NOTHROW(json::Value::parse(std::string(64, '[') + std::string(64, ']')));
}

TEST_CASE("requests: each op, typed") {
  auto series = std::get<SeriesQuery>(parse_request(R"({"op":"series","match":"cpu{core=\"0\"}"})", now));
  CHECK(series.match == "cpu{core=\"0\"}");
  using Labels = std::vector<Label>;
  CHECK(series.selector.matches("cpu", Labels{{"core", "0"}}));
  CHECK_FALSE(series.selector.matches("cpu", Labels{{"core", "1"}}));
  CHECK(std::get<LatestQuery>(parse_request(R"({"op":"latest"})", now)).match.empty());
  CHECK(std::holds_alternative<StatsQuery>(parse_request(R"({"op":"stats"})", now)));
  CHECK(std::get<BackupQuery>(parse_request(R"({"op":"backup","to":"/tmp/x.db"})", now)).to == "/tmp/x.db");
  // Fields the contract does not define are ignored: a newer agent may ask an older storage.
  CHECK(std::holds_alternative<StatsQuery>(parse_request(R"({"op":"stats","since":"later"})", now)));

  auto refused = [&](const std::string &text, const std::string &why) {
    CAPTURE(text);
    CHECK_THROWS_WITH_AS(parse_request(text, now), doctest::Contains(why.c_str()), BadRequest);
  };
  refused("[]", "a request is a JSON object");
  refused("{", "invalid JSON");
  refused("{}", "\"op\" is required");
  refused(R"({"op":"drop"})", "unknown op \"drop\"");
  refused(R"({"op":5})", "\"op\" must be a string");
  refused(R"({"op":"series","match":"cpu{"})", "\"match\"");
  refused(R"({"op":"backup"})", "\"to\" must be an absolute path");
  refused(R"({"op":"backup","to":"relative.db"})", "\"to\" must be an absolute path");
}

TEST_CASE("range query fields: defaults and refusals") {
  RangeQuery q = range(R"({"op":"query"})");
  CHECK(q.to == now);
  CHECK(q.from == now - h);
  CHECK(q.points == default_points);
  CHECK(q.method == Method::lttb);
  CHECK_FALSE(q.tier);
  q = range(R"({"op":"query","from":"-2h","to":"now","points":2,"method":"minmax","tier":"1m"})");
  CHECK(q.from == now - 2 * h);
  CHECK(q.points == 2);
  CHECK(q.method == Method::minmax);
  CHECK(q.tier == Tier::minute);
  q = range(R"({"op":"query","from":5,"to":5,"points":1,"method":"raw","tier":"raw"})");
  CHECK(q.from == 5);
  CHECK(q.to == 5);
  CHECK(q.tier == Tier::raw);
  CHECK_FALSE(range(R"({"op":"query","tier":"auto"})").tier);

  auto refused = [&](const std::string &fields, const std::string &why) {
    std::string text = R"({"op":"query",)" + fields + "}";
    CAPTURE(text);
    CHECK_THROWS_WITH_AS(parse_request(text, now), doctest::Contains(why.c_str()), BadRequest);
  };
  refused(R"("from":10,"to":9)", "\"from\" is after \"to\"");
  refused(R"("points":0)", "at least 1");
  refused(R"("points":-3)", "at least 1");
  refused(R"("points":2.5)", "must be an integer");
  refused(R"("points":"10")", "must be an integer");
  refused(R"("points":1000001)", "at most");
  refused(R"("points":1,"method":"minmax")", "at least 2 for minmax");
  refused(R"("method":"median")", "unknown method \"median\"");
  refused(R"("from":"soon")", "\"from\"");
  refused(R"("match":5)", "\"match\" must be a string");
  refused(R"("tier":"5m")", "unknown tier \"5m\"");
  refused(R"("method":"raw","tier":"1h")", "method raw reads the raw tier");
}

TEST_CASE("range query fields: the default from of a to near the earliest time does not wrap") {
  // Found by fuzzing (tests/fuzz/regressions/query_request): to - 1 h overflowed.
  constexpr int64_t earliest = std::numeric_limits<int64_t>::min();
  RangeQuery q = range(R"({"op":"query","to":-9223372036854775807})");
  CHECK(q.to == earliest + 1);
  CHECK(q.from == earliest);
  q = range(R"({"op":"query","to":-9223368436854775808})");  // exactly an hour after the earliest
  CHECK(q.from == earliest);
}

TEST_CASE("to_json writes what parse_request reads back, times as exact nanoseconds") {
  for (const char *text :
       {R"({"op":"query","match":"t{a=~\"x.*\"}","from":"-2h","to":"now","points":7,"method":"avg","tier":"1h"})",
        R"({"op":"query","from":-9223372036854775808,"to":9223372036854775807,"method":"raw"})",
        R"({"op":"series","match":"*"})", R"({"op":"latest","match":"a{k=\"\\\"q\"}"})", R"({"op":"stats"})",
        R"({"op":"backup","to":"/var/backups/v \"1\".db"})"}) {
    CAPTURE(text);
    std::string wire = to_json(parse_request(text, now));
    CHECK(to_json(parse_request(wire, now + 5 * s)) == wire);  // nothing relative is left
  }
  CHECK(
      to_json(parse_request(R"({"op":"query","from":"-2h","to":"now"})", now)) ==
      R"({"op":"query","match":"","from":1699992800000000000,"to":1700000000000000000,"points":1000,"method":"lttb"})");
}

TEST_CASE("replies: the wire shape, series without points left out") {
  RangeQuery q = range(R"({"op":"query","from":1,"to":9,"method":"raw"})");
  RangeReply reply(q, Tier::raw);
  std::vector<Label> labels{{"room", "attic"}, {"unit", "°C"}};
  reply.begin_series("temp{room=\"attic\",unit=\"°C\"}", "temp", labels);
  reply.point(1, 21.5);
  reply.point(2, std::numeric_limits<double>::quiet_NaN());
  reply.end_series();
  reply.begin_series("empty", "empty", {});
  reply.end_series();
  reply.begin_series("cached", "cached", {});
  reply.encoded() += "[3,0.1],[4,-0],";
  reply.encoded_added(2);
  reply.end_series();
  CHECK(
      reply.finish().body ==
      R"({"from":1,"to":9,"tier":"raw","method":"raw","series":[)"
      R"({"series":"temp{room=\"attic\",unit=\"°C\"}","name":"temp","labels":{"room":"attic","unit":"°C"},"points":[[1,21.5],[2,null]]},)"
      R"({"series":"cached","name":"cached","labels":{},"points":[[3,0.1],[4,-0]]}]})");

  RangeReply cleared(q, Tier::minute);
  cleared.begin_series("x", "x", {});
  cleared.point(1, 1);
  cleared.end_series();
  cleared.clear_series();
  CHECK(cleared.finish().body == R"({"from":1,"to":9,"tier":"1m","method":"raw","series":[]})");

  SeriesList list;
  list.add("a", "a", {});
  list.add_latest("b{k=\"v\"}", "b", std::vector<Label>{{"k", "v"}}, -5, 1e300);
  CHECK(list.finish().body == R"({"series":[{"series":"a","name":"a","labels":{}},)"
                              R"({"series":"b{k=\"v\"}","name":"b","labels":{"k":"v"},"ts":-5,"value":1e+300}]})");
  CHECK(SeriesList().finish().body == R"({"series":[]})");

  StatsReply stats(3, 1200);
  stats.field("path", "/x.db").field("commits", int64_t{4}).field("last_commit_ms", 1.5);
  CHECK(stats.finish().body == R"({"series":3,"samples":1200,"path":"/x.db","commits":4,"last_commit_ms":1.5})");
  CHECK(backup_answer("/b.db", 4096).body == R"({"path":"/b.db","bytes":4096})");
  Answer error = Answer::error(409, "busy \"now\"");
  CHECK(error.status == 409);
  CHECK(error.text() == R"({"error":"busy \"now\""})");
}
