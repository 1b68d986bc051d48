// Token access control for routes.
#include "auth.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace vitals::core::http {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// RFC 4648 base64; nullopt on anything else.
std::optional<std::string> base64_decode(std::string_view in) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  size_t padding = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '+')
      v = 62;
    else if (c == '/')
      v = 63;
    else if (c == '=') {
      ++padding;
      continue;
    } else
      return std::nullopt;
    if (padding > 0) return std::nullopt;  // data after padding
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  if (padding > 2) return std::nullopt;
  return out;
}

// The token in an Authorization header: "Bearer T"; "Token T", as InfluxDB
// 2 clients (Telegraf's influxdb_v2 output) send it; or "Basic" with T as
// the password, as InfluxDB 1 clients send username and password (the
// username is not checked: the token is the only secret). A malformed Basic
// value presents an empty token, which never matches.
std::optional<std::string> header_token(const HttpRequest &request) {
  auto auth = request.header("Authorization");
  if (!auth) return std::nullopt;
  std::string_view value = trim(*auth);
  size_t space = value.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  std::string_view scheme = value.substr(0, space);
  std::string_view credentials = trim(value.substr(space + 1));
  if (iequals(scheme, "Bearer") || iequals(scheme, "Token")) return std::string(credentials);
  if (iequals(scheme, "Basic")) {
    auto decoded = base64_decode(credentials);
    size_t colon = decoded ? decoded->find(':') : std::string::npos;
    return colon == std::string::npos ? std::string() : decoded->substr(colon + 1);
  }
  return std::nullopt;
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
  std::optional<std::string> presented = header_token(request);
  if (!presented) presented = request.param("token");
  if (!presented) presented = cookie_token(request);
  // InfluxDB 1 clients may send the password as ?p= (with ?u=). Last: "p"
  // is a common parameter name, and must not shadow the cookie of a page.
  if (!presented) presented = request.param("p");
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
