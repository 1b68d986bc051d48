// The HTTP server's parts without sockets: routing, target decoding, token
// checks, header lookup and the gzip policy.
#include <doctest/doctest.h>

#include "http/auth.hpp"
#include "http/gzip.hpp"
#include "http/router.hpp"
#include "http/uri.hpp"

using namespace vitals::core;
using namespace vitals::core::http;

namespace {

HttpHandler noop() {
  return [](const HttpRequest &, std::shared_ptr<HttpResponse>) {};
}

RouteId add(Router &router, std::string method, std::string path, RouteAccess access = RouteAccess::normal) {
  std::string error;
  RouteId id = router.add({std::move(method), std::move(path), noop(), access}, error);
  INFO(error);
  REQUIRE(id != 0);
  return id;
}

}  // namespace

TEST_CASE("router matches exact paths before prefixes and the longest prefix first") {
  Router router;
  add(router, "GET", "/api/query");
  add(router, "GET", "/api/*");
  add(router, "GET", "/dashboard/*");
  add(router, "GET", "/dashboard/assets/*");

  CHECK(router.match("GET", "/api/query").entry->route.path == "/api/query");
  CHECK(router.match("GET", "/api/other").entry->route.path == "/api/*");
  CHECK(router.match("GET", "/dashboard").entry->route.path == "/dashboard/*");
  CHECK(router.match("GET", "/dashboard/index.html").entry->route.path == "/dashboard/*");
  CHECK(router.match("GET", "/dashboard/assets/app.js").entry->route.path == "/dashboard/assets/*");
  CHECK(router.match("GET", "/dashboardx").status == 404);
  CHECK(router.match("GET", "/nothing").status == 404);
}

TEST_CASE("router answers 405 with Allow for a known path and lets HEAD reach GET") {
  Router router;
  add(router, "GET", "/api/performance/thresholds");
  add(router, "PUT", "/api/performance/thresholds");
  add(router, "POST", "/api/telemetry");

  auto wrong = router.match("DELETE", "/api/performance/thresholds");
  CHECK(wrong.entry == nullptr);
  CHECK(wrong.status == 405);
  CHECK(wrong.allow == "GET, HEAD, PUT");
  CHECK(router.match("GET", "/api/telemetry").allow == "POST");
  CHECK(router.match("HEAD", "/api/performance/thresholds").entry->route.method == "GET");
  CHECK(router.match("HEAD", "/api/telemetry").status == 405);
}

TEST_CASE("router refuses malformed and duplicate routes and removes by id") {
  Router router;
  std::string error;
  CHECK(router.add({"get", "/x", noop()}, error) == 0);
  CHECK(error.find("method") != std::string::npos);
  CHECK(router.add({"GET", "x", noop()}, error) == 0);
  CHECK(router.add({"GET", "/a*b", noop()}, error) == 0);
  CHECK(router.add({"GET", "/x", nullptr}, error) == 0);
  RouteId id = add(router, "GET", "/x");
  CHECK(router.add({"GET", "/x", noop()}, error) == 0);
  CHECK(error == "route GET /x is already registered");
  add(router, "POST", "/x");  // another method on the same path is fine

  CHECK(router.remove(id));
  CHECK_FALSE(router.remove(id));
  CHECK(router.match("GET", "/x").status == 405);
  RouteId prefix = add(router, "GET", "/files/*");
  CHECK(router.remove(prefix));
  CHECK(router.match("GET", "/files/a").status == 404);
}

TEST_CASE("percent-decoding and query parameters") {
  CHECK(percent_decode("a%20b%2Fc", false) == "a b/c");
  CHECK(percent_decode("a+b", false) == "a+b");
  CHECK(percent_decode("a+b", true) == "a b");
  CHECK(percent_decode("100%", false) == "100%");  // malformed escapes stay literal
  CHECK(percent_decode("%zz%4", false) == "%zz%4");

  auto q = parse_query("match=cpu%7Bhost%3D%22a%22%7D&x=a+b&flag&x=2&&empty=");
  CHECK(q.find("match")->second == "cpu{host=\"a\"}");
  CHECK(q.count("x") == 2);
  CHECK(q.find("x")->second == "a b");
  CHECK(q.find("flag")->second == "");
  CHECK(q.find("empty")->second == "");
}

TEST_CASE("request targets are split, decoded and kept inside their tree") {
  std::string path, query;
  REQUIRE(split_target("/api/query?match=a&points=10", path, query));
  CHECK(path == "/api/query");
  CHECK(query == "match=a&points=10");
  REQUIRE(split_target("/a%20b", path, query));
  CHECK(path == "/a b");
  CHECK(query.empty());
  REQUIRE(split_target("http://host:8470/x?y=1", path, query));  // absolute-form
  CHECK(path == "/x");
  CHECK_FALSE(split_target("/dashboard/../../etc/passwd", path, query));
  CHECK_FALSE(split_target("/dashboard/%2e%2e/secret", path, query));
  CHECK_FALSE(split_target("/a%00b", path, query));
  CHECK(split_target("/a..b/c", path, query));  // only whole ".." segments are refused
}

TEST_CASE("token comparison and where a token may come from") {
  CHECK(constant_time_equals("s3cret", "s3cret"));
  CHECK_FALSE(constant_time_equals("s3cret", "s3cre"));
  CHECK_FALSE(constant_time_equals("s3cret", "s3cret!"));
  CHECK_FALSE(constant_time_equals("s3cret", "S3cret"));
  CHECK_FALSE(constant_time_equals("s3cret", ""));

  HttpRequest r;
  CHECK(authorize(RouteAccess::normal, "", r) == AuthDecision::allow);
  CHECK(authorize(RouteAccess::admin, "", r) == AuthDecision::admin_disabled);
  CHECK(authorize(RouteAccess::open, "t", r) == AuthDecision::allow);
  CHECK(authorize(RouteAccess::normal, "t", r) == AuthDecision::missing_token);
  r.headers.add("authorization", "bearer t");
  CHECK(authorize(RouteAccess::admin, "t", r) == AuthDecision::allow);
  r.headers = HttpHeaders{{"Authorization", "Basic dDp0"}};  // "t:t": InfluxDB 1 clients, the token as password
  CHECK(authorize(RouteAccess::normal, "t", r) == AuthDecision::allow);
  r.headers = HttpHeaders{{"Authorization", "Digest x"}};  // not a scheme that carries the token
  CHECK(authorize(RouteAccess::normal, "t", r) == AuthDecision::missing_token);
  r.headers = HttpHeaders{{"Cookie", "theme=dark; vitals_token=t"}};
  CHECK(authorize(RouteAccess::normal, "t", r) == AuthDecision::allow);
  r.headers = HttpHeaders{{"Cookie", "vitals_token=wrong"}};
  CHECK(authorize(RouteAccess::normal, "t", r) == AuthDecision::invalid_token);
  r.query.emplace("token", "t");  // a matching query token wins over a stale cookie
  CHECK(authorize(RouteAccess::normal, "t", r) == AuthDecision::allow);
}

TEST_CASE("headers are looked up without regard to case, tokens inside lists") {
  HttpHeaders h{{"Content-Type", "text/plain"}, {"connection", "keep-alive, Upgrade"}};
  CHECK(h.get("content-type") == "text/plain");
  CHECK(h.has_token("Connection", "upgrade"));
  CHECK_FALSE(h.has_token("Connection", "close"));
  h.set("CONTENT-TYPE", "application/json");
  CHECK(h.size() == 2);
  CHECK(h.get("Content-Type") == "application/json");
  h.remove("connection");
  CHECK_FALSE(h.has("Connection"));
}

TEST_CASE("gzip policy: what the client accepts and what is worth compressing") {
  CHECK(accepts_gzip("gzip, deflate, br"));
  CHECK(accepts_gzip("br;q=1.0, GZIP;q=0.5"));
  CHECK(accepts_gzip("*"));
  CHECK_FALSE(accepts_gzip("gzip;q=0"));
  CHECK_FALSE(accepts_gzip("deflate, br"));
  CHECK_FALSE(accepts_gzip(""));

  CHECK(is_compressible("application/json"));
  CHECK(is_compressible("text/html; charset=utf-8"));
  CHECK(is_compressible("application/javascript"));
  CHECK(is_compressible("image/svg+xml"));
  CHECK_FALSE(is_compressible("image/png"));
  CHECK_FALSE(is_compressible("application/octet-stream"));

  std::string compressed;
  REQUIRE(gzip_compress(std::string(10000, 'a'), 1, compressed));
  CHECK(compressed.size() < 200);
  CHECK(static_cast<unsigned char>(compressed[0]) == 0x1f);  // gzip magic
  CHECK(static_cast<unsigned char>(compressed[1]) == 0x8b);
}
