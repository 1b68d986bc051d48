// Bearer-token access control: which routes need the token and whether a
// request presents it (Authorization header, ?token= or the vitals_token
// cookie that the dashboard sets).
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

// `token` is the configured token, empty when auth is off.
AuthDecision authorize(RouteAccess access, std::string_view token, const HttpRequest &request);

// Compares in time that depends only on `expected`'s length, so that response
// timing does not reveal how much of a guess was right.
bool constant_time_equals(std::string_view expected, std::string_view given);

}  // namespace vitals::core::http
