// Token access control: which routes need the token and whether a request
// presents it (Authorization header, ?token=, the vitals_token cookie that
// the dashboard sets, or InfluxDB's ?p=).
#pragma once

#include <string_view>

#include "request.hpp"
#include "server.hpp"

namespace vitals::core::http {

enum class AuthDecision {
  allow,
  missing_token,   // 401
  invalid_token,   // 401, the client presented a token that does not match
  admin_disabled,  // 403, admin route while no token is configured
};

// `token` is the configured token, empty when auth is off. One credential
// decides: the first presented of the Authorization header (Bearer, Token,
// or Basic with the token as password), ?token=, the vitals_token cookie and
// ?p= (InfluxDB 1 clients). An explicit credential that is wrong is refused even
// next to a good cookie: otherwise a link with a wrong ?token= would reach the
// dashboard, which would then replace the browser's good cookie with it.
AuthDecision authorize(RouteAccess access, std::string_view token, const HttpRequest &request);

// The access a request needs: its route's, raised to admin for every method
// under /api/admin/ and for every write under /api/performance/ (reads there
// stay normal: the dashboard polls /api/performance/metrics). Decided by the
// request's path, so that no route (a prefix route, a plugin's route with
// the wrong flags, DELETE or PATCH) escapes it. This policy is the core's.
RouteAccess required_access(RouteAccess route_access, std::string_view method, std::string_view path);

// Compares in time that depends only on `expected`'s length, so that response
// timing does not reveal how much of a guess was right.
bool constant_time_equals(std::string_view expected, std::string_view given);

}  // namespace vitals::core::http
