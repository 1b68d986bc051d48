// Host and Origin checks (see host_origin.hpp for the why).
#include "host_origin.hpp"

#include <uv.h>

#include <algorithm>

#include "request.hpp"

namespace vitals::core::http {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char &c : out) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// "host:port" -> port text ("" when absent); IPv6 literals are bracketed.
std::string_view port_of(std::string_view authority) {
  size_t close = authority.rfind(']');
  size_t colon = authority.rfind(':');
  if (colon == std::string_view::npos || (close != std::string_view::npos && colon < close)) return {};
  return authority.substr(colon + 1);
}

bool is_ip_literal(const std::string &name) {
  unsigned char buf[16];
  if (name.size() > 2 && name.front() == '[' && name.back() == ']')
    return uv_inet_pton(AF_INET6, name.substr(1, name.size() - 2).c_str(), buf) == 0;
  return uv_inet_pton(AF_INET, name.c_str(), buf) == 0;
}

bool is_listed(const std::string &name, const std::vector<std::string> &allowed_hosts) {
  return std::any_of(allowed_hosts.begin(), allowed_hosts.end(),
                     [&](const std::string &a) { return host_name(a) == name; });
}

}  // namespace

std::string host_name(std::string_view authority) {
  authority = trim(authority);
  std::string_view port = port_of(authority);
  std::string_view name =
      port.empty() && !authority.ends_with(':') ? authority : authority.substr(0, authority.size() - port.size() - 1);
  if (name.ends_with('.')) name.remove_suffix(1);
  return lower(name);
}

bool host_allowed(std::string_view host_header, bool loopback_listener, const std::vector<std::string> &allowed_hosts) {
  std::string name = host_name(host_header);
  if (name.empty() || is_ip_literal(name)) return true;
  if (name == "localhost" || name.ends_with(".localhost")) return true;
  if (std::find(allowed_hosts.begin(), allowed_hosts.end(), "*") != allowed_hosts.end()) return true;
  if (is_listed(name, allowed_hosts)) return true;
  return !loopback_listener && allowed_hosts.empty();
}

bool origin_allowed(std::string_view origin, std::string_view host_header,
                    const std::vector<std::string> &allowed_hosts) {
  origin = trim(origin);
  size_t scheme_end = origin.find("://");
  if (scheme_end == std::string_view::npos) return false;  // "null" and anything malformed
  std::string scheme = lower(origin.substr(0, scheme_end));
  std::string_view authority = origin.substr(scheme_end + 3);
  if (authority.empty() || authority.find('/') != std::string_view::npos) return false;
  std::string name = host_name(authority);
  if (is_listed(name, allowed_hosts)) return true;
  // Same origin: same host and same port, an absent port being the scheme's.
  std::string_view default_port = scheme == "https" || scheme == "wss" ? "443" : "80";
  std::string_view origin_port = port_of(authority);
  std::string_view host_port = port_of(trim(host_header));
  if (origin_port.empty()) origin_port = default_port;
  if (host_port.empty()) host_port = default_port;
  return name == host_name(host_header) && origin_port == host_port;
}

bool needs_same_origin(std::string_view method, bool upgrade) {
  return upgrade || !(method == "GET" || method == "HEAD" || method == "OPTIONS");
}

}  // namespace vitals::core::http
