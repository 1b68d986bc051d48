// Access control over real sockets: which credential counts when several are
// presented, that nothing about protected routes leaks before the token is
// checked, and that the admin prefixes are admin whatever the method or route.
#include <doctest/doctest.h>

#include "http_test_support.hpp"

using namespace vitals::core;
using namespace vitals::testing;

namespace {

std::vector<ParsedResponse> ask(Harness &h, const std::vector<std::string> &requests) {
  std::vector<ParsedResponse> out;
  h.run([&] {
    TestClient c(h.port());
    for (const auto &req : requests) {
      c.send(req);
      out.push_back(c.read_response());
    }
  });
  REQUIRE(out.size() == requests.size());
  return out;
}

std::string request(const std::string &method, const std::string &target, const std::string &extra = "") {
  return method + " " + target + " HTTP/1.1\r\nHost: t\r\n" + extra + "Content-Length: 0\r\n\r\n";
}

}  // namespace

TEST_CASE("a wrong ?token= is refused even next to a good cookie, so a page cannot replace the cookie with it") {
  auto config = test_config();
  config.token = "s3cret";
  Harness h(config);
  h.route("GET", "/page", text("page"));
  auto r = ask(h, {
                      get_request("/page?token=wrong", "Cookie: vitals_token=s3cret\r\n"),
                      get_request("/page?token=s3cret", "Cookie: vitals_token=stale\r\n"),
                      get_request("/page", "Authorization: Bearer s3cret\r\nCookie: vitals_token=stale\r\n"),
                      get_request("/page", "Authorization: Bearer wrong\r\nCookie: vitals_token=s3cret\r\n"),
                      get_request("/page", "Cookie: vitals_token=s3cret\r\n"),
                  });
  CHECK(r[0].status == 401);
  CHECK(r[0].header("www-authenticate").find("invalid_token") != std::string::npos);
  CHECK(r[1].status == 200);  // an explicit good token wins over a stale cookie
  CHECK(r[2].status == 200);
  CHECK(r[3].status == 401);  // an explicit credential is never overruled by the cookie
  CHECK(r[4].status == 200);
}

TEST_CASE("with a token configured, a request without it learns nothing: 401 before 404 and 405") {
  auto config = test_config();
  config.token = "s3cret";
  Harness h(config);
  h.route("POST", "/api/thing", text("done"));
  h.route("GET", "/healthz", text("ok"), RouteAccess::open);
  const std::string auth = "Authorization: Bearer s3cret\r\n";
  auto r =
      ask(h, {
                 request("GET", "/api/thing"), request("GET", "/api/nothing"), request("GET", "/api/thing", auth),
                 request("GET", "/api/nothing", auth), request("POST", "/healthz"),  // open routes have nothing to hide
             });
  CHECK(r[0].status == 401);
  CHECK_FALSE(r[0].has("allow"));
  CHECK(r[1].status == 401);
  CHECK(r[2].status == 405);
  CHECK(r[2].header("allow") == "POST");
  CHECK(r[3].status == 404);
  CHECK(r[4].status == 405);
}

TEST_CASE("every method under /api/admin/, and every write under /api/performance/, is admin") {
  Harness h;  // no token: admin is refused with 403
  int handled = 0;
  auto count = [&](const HttpRequest &, std::shared_ptr<HttpResponse> res) {
    ++handled;
    res->send(200, "text/plain", "handled");
  };
  // Registered as normal routes, as a careless plugin might.
  h.route("DELETE", "/api/admin/thing", count);
  h.route("GET", "/api/admin/thing", count);
  h.route("PATCH", "/api/performance/thresholds", count);
  h.route("GET", "/api/performance/metrics", count);
  h.route("POST", "/api/*", count);  // a prefix route that covers the admin paths
  auto r = ask(h, {
                      request("DELETE", "/api/admin/thing"),
                      request("GET", "/api/admin/thing"),
                      request("PATCH", "/api/performance/thresholds"),
                      request("POST", "/api/admin/reload2"),
                      request("POST", "/api/admin"),
                      request("GET", "/api/performance/metrics"),  // reads stay open: the dashboard polls it
                      request("POST", "/api/other"),
                  });
  CHECK(r[0].status == 403);
  CHECK(r[1].status == 403);
  CHECK(r[2].status == 403);
  CHECK(r[3].status == 403);
  CHECK(r[4].status == 403);
  CHECK(r[5].status == 200);
  CHECK(r[6].status == 200);
  CHECK(handled == 2);
}
