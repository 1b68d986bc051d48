// The ways InfluxDB clients present the token, over real sockets:
// "Authorization: Token" (influxdb_v2), Basic with the token as password and
// ?u=&p= (influxdb v1 with username/password), beside Bearer.
#include <doctest/doctest.h>

#include "http_test_support.hpp"

using namespace vitals::core;
using namespace vitals::testing;

TEST_CASE("the token as Token, Basic password and ?p= is accepted; wrong ones are 401") {
  auto config = test_config();
  config.token = "s3cret";
  Harness h(config);
  h.route("POST", "/write", text("ok"));
  auto post = [](const std::string &target, const std::string &extra) {
    return "POST " + target + " HTTP/1.1\r\nHost: t\r\n" + extra + "Content-Length: 0\r\n\r\n";
  };
  // base64("telegraf:s3cret") and base64("telegraf:wrong"), base64(":s3cret")
  const std::string good_basic = "Authorization: Basic dGVsZWdyYWY6czNjcmV0\r\n";
  const std::string wrong_basic = "Authorization: Basic dGVsZWdyYWY6d3Jvbmc=\r\n";
  const std::string empty_user = "Authorization: Basic OnMzY3JldA==\r\n";
  std::vector<ParsedResponse> r;
  h.run([&] {
    TestClient c(h.port());
    for (const std::string &req : {
             post("/write", "Authorization: Token s3cret\r\n"),
             post("/write", "Authorization: token s3cret\r\n"),
             post("/write", "Authorization: Token wrong\r\n"),
             post("/write", good_basic),
             post("/write", wrong_basic),
             post("/write", empty_user),
             post("/write?db=telegraf&u=telegraf&p=s3cret", ""),
             post("/write?db=telegraf&u=telegraf&p=wrong", ""),
             post("/write", "Authorization: Basic !!notbase64\r\n"),
         }) {
      c.send(req);
      r.push_back(c.read_response());
    }
  });
  REQUIRE(r.size() == 9);
  CHECK(r[0].status == 200);
  CHECK(r[1].status == 200);
  CHECK(r[2].status == 401);
  CHECK(r[3].status == 200);
  CHECK(r[4].status == 401);
  CHECK(r[5].status == 200);
  CHECK(r[6].status == 200);
  CHECK(r[7].status == 401);
  CHECK(r[8].status == 401);
}
