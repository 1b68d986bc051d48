// Bearer-token access control for routes.
#include "auth.hpp"

#include <optional>

namespace vitals::core::http {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<std::string_view> bearer_token(const HttpRequest &request) {
  auto auth = request.header("Authorization");
  if (!auth) return std::nullopt;
  std::string_view value = trim(*auth);
  constexpr std::string_view scheme = "Bearer ";
  if (value.size() < scheme.size() || !iequals(value.substr(0, scheme.size()), scheme)) return std::nullopt;
  return trim(value.substr(scheme.size()));
}

std::optional<std::string_view> cookie_token(const HttpRequest &request) {
  for (const auto &[name, value] : request.headers) {
    if (!iequals(name, "Cookie")) continue;
    std::string_view rest = value;
    while (!rest.empty()) {
      size_t semi = rest.find(';');
      std::string_view pair = trim(rest.substr(0, semi));
      rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
      size_t eq = pair.find('=');
      if (eq != std::string_view::npos && pair.substr(0, eq) == "vitals_token") return pair.substr(eq + 1);
    }
  }
  return std::nullopt;
}

}  // namespace

bool constant_time_equals(std::string_view expected, std::string_view given) {
  // volatile keeps the compiler from turning the loop into an early exit.
  volatile unsigned char diff = expected.size() == given.size() ? 0 : 1;
  for (size_t i = 0; i < expected.size(); ++i) {
    unsigned char g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    diff = static_cast<unsigned char>(diff | (static_cast<unsigned char>(expected[i]) ^ g));
  }
  return diff == 0;
}

AuthDecision authorize(RouteAccess access, std::string_view token, const HttpRequest &request) {
  if (access == RouteAccess::open) return AuthDecision::allow;
  if (token.empty()) return access == RouteAccess::admin ? AuthDecision::admin_disabled : AuthDecision::allow;

  // Explicit credentials before the cookie: a browser may carry a stale
  // cookie next to a fresh header or ?token=, never the other way round.
  std::optional<std::string_view> presented = bearer_token(request);
  if (!presented) presented = request.param("token");
  if (!presented) presented = cookie_token(request);
  if (!presented) return AuthDecision::missing_token;
  return constant_time_equals(token, *presented) ? AuthDecision::allow : AuthDecision::invalid_token;
}

RouteAccess required_access(RouteAccess route_access, std::string_view method, std::string_view path) {
  auto under = [&](std::string_view prefix) {
    return path == prefix || (path.starts_with(prefix) && path.size() > prefix.size() && path[prefix.size()] == '/');
  };
  bool read = method == "GET" || method == "HEAD";
  if (under("/api/admin") || (under("/api/performance") && !read)) return RouteAccess::admin;
  return route_access;
}

}  // namespace vitals::core::http
