// Which Host names and Origins the server answers: the defences of an agent
// on 127.0.0.1 against web pages. A DNS-rebinding page reaches us under its
// own name (the Host check); a foreign page's writes and WebSocket handshakes
// carry its Origin (the Origin check). Tokens do not help when none is set.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace vitals::core::http {

// The host part of a Host value or an Origin's authority, lower-case,
// without port or a trailing dot; IPv6 literals keep their brackets.
std::string host_name(std::string_view authority);

// Whether a Host header value names this server. Always: no Host (HTTP/1.0,
// an empty authority), IP literals (they cannot be rebound), "localhost" and
// names under ".localhost" (RFC 6761), and `allowed_hosts` ("*": anything).
// Other names only when listening beyond loopback and `allowed_hosts` is
// empty: such an agent is reached under names it cannot know.
bool host_allowed(std::string_view host_header, bool loopback_listener, const std::vector<std::string> &allowed_hosts);

// Whether an Origin header value is this server's own origin (same host and
// port as the request's Host) or a host named in `allowed_hosts`. "null"
// (sandboxed frames, file: pages) never is.
bool origin_allowed(std::string_view origin, std::string_view host_header,
                    const std::vector<std::string> &allowed_hosts);

// Requests a page could use to change state or open a stream: what the
// Origin check covers. GET, HEAD and OPTIONS answers are kept from foreign
// pages by the browser (no CORS headers are ever sent).
bool needs_same_origin(std::string_view method, bool upgrade);

}  // namespace vitals::core::http
