// From a complete request to its handler: access control (401/403, before
// anything about the routes is told), routing (404/405), request body
// decoding (413/400), and containment of handler exceptions (500).
#include "auth.hpp"
#include "content_decoding.hpp"
#include "exchange.hpp"
#include "host_origin.hpp"
#include "log.hpp"
#include "server_context.hpp"

namespace vitals::core::http {

namespace {

HttpHeaders json_headers() { return HttpHeaders{{"Content-Type", "application/json"}}; }

}  // namespace

std::string error_body(std::string_view message) {
  std::string out = "{\"error\":\"";
  for (char c : message) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  out += "\"}\n";
  return out;
}

void ServerContext::dispatch(HttpRequest &request, const std::shared_ptr<Exchange> &exchange) {
  ++stats.requests;
  std::shared_ptr<HttpResponse> response = make_response(exchange);
  // Before anything else, token or not: a page must not reach the agent
  // under a name of its own (DNS rebinding) or write to it from its origin.
  std::string_view host = request.header("Host").value_or("");
  if (!host_allowed(host, loopback_listener, config.allowed_hosts)) {
    response->send(421, json_headers(),
                   error_body("Host \"" + std::string(host) +
                              "\" is not a name of this agent: use its address or localhost, or add the name to "
                              "[agent.http] allowed_hosts"));
    return;
  }
  if (auto origin = request.header("Origin"); origin && needs_same_origin(request.method, request.upgrade) &&
                                              !origin_allowed(*origin, host, config.allowed_hosts)) {
    response->send(
        403, json_headers(),
        error_body("cross-origin request refused: Origin \"" + std::string(*origin) +
                   "\" is not this agent's origin (add its host to [agent.http] allowed_hosts to allow it)"));
    return;
  }
  RouteMatch match = router.match(request.method, request.path);
  // Auth before 404 and 405: without the token a client must not learn
  // which paths exist or which methods they take.
  switch (authorize(required_access(match.access, request.method, request.path), config.token, request)) {
    case AuthDecision::allow:
      break;
    case AuthDecision::missing_token: {
      HttpHeaders headers = json_headers();
      headers.add("WWW-Authenticate", "Bearer realm=\"vitals\"");
      response->send(401, std::move(headers), error_body("this route needs the token: Authorization: Bearer <token>"));
      return;
    }
    case AuthDecision::invalid_token: {
      HttpHeaders headers = json_headers();
      headers.add("WWW-Authenticate", "Bearer realm=\"vitals\", error=\"invalid_token\"");
      response->send(401, std::move(headers), error_body("invalid token"));
      return;
    }
    case AuthDecision::admin_disabled:
      response->send(403, json_headers(), error_body("admin routes are disabled: set [agent.http] token_file"));
      return;
  }

  if (!match.entry) {
    HttpHeaders headers = json_headers();
    if (match.status == 405) headers.add("Allow", match.allow);
    response->send(match.status, std::move(headers),
                   error_body(match.status == 405 ? "method not allowed" : "not found"));
    return;
  }
  const HttpRoute &route = match.entry->route;
  request.route = route.path;
  exchange->info.route = route.method + " " + route.path;

  // Compressed bodies (Telegraf gzips by default) are decoded once the
  // client is known to be allowed in: no inflating for strangers.
  std::string encoding(request.header("Content-Encoding").value_or(""));
  std::string decode_error;
  switch (decode_content(encoding, request.body, config.max_body_bytes, decode_error)) {
    case DecodeStatus::decoded:
      request.headers.remove("Content-Encoding");
      break;
    case DecodeStatus::too_large:
      response->send(413, json_headers(), error_body(decode_error));
      return;
    case DecodeStatus::corrupt:
      response->send(400, json_headers(), error_body(decode_error));
      return;
    case DecodeStatus::not_encoded:
    case DecodeStatus::unsupported:  // the route may know it, or answer 415
      break;
  }

  // A handler's exception must cost one 500, never the connection or the loop.
  try {
    route.handler(request, response);
  } catch (const std::exception &e) {
    log_error("http", exchange->info.route + ": handler failed: " + e.what());
    if (!response->started()) response->send(500, json_headers(), error_body("internal error"));
  } catch (...) {
    log_error("http", exchange->info.route + ": handler failed with a non-standard exception");
    if (!response->started()) response->send(500, json_headers(), error_body("internal error"));
  }
}

}  // namespace vitals::core::http
