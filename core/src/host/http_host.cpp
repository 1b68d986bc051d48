// Bridges plugin routes to the core HTTP server. A plugin sees plain C
// structs; the core keeps the C++ request alive for the handler call and the
// response alive until the plugin finishes it.
#include "http_host.hpp"

#include <memory>
#include <string>
#include <vector>

#include "engine/component.hpp"
#include "engine/pipeline.hpp"
#include "http/server.hpp"
#include "log.hpp"
#include "plugin_response.hpp"

namespace vitals::core {

namespace {

HttpHeaders with_type(HttpHeaders headers, const char *content_type) {
  if (content_type && *content_type) headers.set("Content-Type", content_type);
  return headers;
}

int http_route(vitals_host_ctx_t *ctx, const char *method, const char *path, uint32_t flags,
               vitals_http_handler_fn handler, void *user) {
  auto &hc = *reinterpret_cast<HostContext *>(ctx);
  HttpServer *server = hc.pipeline->http_server();
  if (!server) return VITALS_ERROR;
  if (!method || !path || !handler) return VITALS_INVALID;
  HttpRoute route;
  route.method = method;
  route.path = path;
  if (flags & VITALS_HTTP_PREFIX) route.path += route.path.ends_with('/') ? "*" : "/*";
  // Requests under the admin prefixes are admin whatever the plugin asked
  // for: the server decides that per request (http::required_access).
  route.access = (flags & VITALS_HTTP_ADMIN)    ? RouteAccess::admin
                 : (flags & VITALS_HTTP_PUBLIC) ? RouteAccess::open
                                                : RouteAccess::normal;
  // What a fatal signal in the handler names: "HTTP handler GET /metrics".
  std::string call = "HTTP handler " + route.method + " " + route.path;
  route.handler = [handler, user, &hc, call = std::move(call)](const HttpRequest &req,
                                                               std::shared_ptr<HttpResponse> res) {
    std::vector<std::string> names;
    std::vector<vitals_label_t> headers;
    names.reserve(req.headers.size());
    for (const auto &[name, value] : req.headers) {
      std::string lower = name;
      for (char &c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
      names.push_back(std::move(lower));
    }
    size_t i = 0;
    for (const auto &field : req.headers) headers.push_back({names[i++].c_str(), field.second.c_str()});
    vitals_http_request_t c{};
    c.method = req.method.c_str();
    c.path = req.path.c_str();
    c.query = req.query_string.c_str();
    c.body = req.body.data();
    c.body_len = req.body.size();
    c.headers = headers.data();
    c.n_headers = static_cast<uint32_t>(headers.size());
    c.remote = req.remote_address.c_str();
    auto *owned = new PluginResponse{std::move(res), {}, &hc, {}};
    if (req.headers.has("Upgrade"))
      owned->handshake = http::check_websocket_handshake(req);
    else
      owned->handshake = {426, {}, "this route speaks WebSocket: send a handshake (Upgrade: websocket)"};
    call_plugin(hc.component->identity(), call.c_str(), handler, user, &c,
                reinterpret_cast<vitals_http_response_t *>(owned));
  };
  std::string error;
  RouteId id = server->add_route(std::move(route), error);
  if (!id) {
    log_warn(hc.component->id(), "cannot register route: " + error);
    return VITALS_INVALID;
  }
  hc.component->remember_route(id);
  return VITALS_OK;
}

void http_header(vitals_http_response_t *r, const char *name, const char *value) {
  if (r && name && value) from_c(r)->headers.add(name, value);
}

void http_respond(vitals_http_response_t *r, int status, const char *content_type, const char *body, size_t len) {
  if (!r) return;
  std::unique_ptr<PluginResponse> owned(from_c(r));
  owned->response->send(status, with_type(std::move(owned->headers), content_type),
                        std::string(body ? body : "", body ? len : 0));
}

int http_stream_start(vitals_http_response_t *r, int status, const char *content_type) {
  if (!r) return VITALS_INVALID;
  PluginResponse *p = from_c(r);
  if (!p->response->connected()) return VITALS_STOPPED;
  // Refused when max_streams are open: the host answered 503.
  return p->response->start(status, with_type(std::move(p->headers), content_type)) ? VITALS_OK : VITALS_STOPPED;
}

int http_stream_write(vitals_http_response_t *r, const char *data, size_t len) {
  if (!r) return VITALS_INVALID;
  return from_c(r)->response->write(std::string_view(data, len)) ? VITALS_OK : VITALS_STOPPED;
}

void http_stream_end(vitals_http_response_t *r) {
  if (!r) return;
  std::unique_ptr<PluginResponse> owned(from_c(r));
  owned->response->end();
}

void http_on_close(vitals_http_response_t *r, vitals_http_close_fn fn, void *user) {
  if (!r || !fn) return;
  PluginResponse *p = from_c(r);
  const PluginIdentity *who = p->host ? &p->host->component->identity() : nullptr;
  p->response->on_close([fn, user, who] {
    if (who)
      call_plugin(*who, "HTTP close callback", fn, user);
    else
      fn(user);
  });
}

size_t http_stream_buffered(vitals_http_response_t *r) { return r ? from_c(r)->response->buffered_bytes() : 0; }

}  // namespace

const vitals_http_service_t &http_service() {
  static const vitals_http_service_t table = [] {
    vitals_http_service_t t{};
    t.struct_size = sizeof t;
    t.version = VITALS_SERVICE_HTTP_VERSION;
    t.route = http_route;
    t.header = http_header;
    t.respond = http_respond;
    t.stream_start = http_stream_start;
    t.stream_write = http_stream_write;
    t.stream_end = http_stream_end;
    t.on_close = http_on_close;
    t.stream_buffered = http_stream_buffered;
    return t;
  }();
  return table;
}

void remove_component_routes(HttpServer *server, Component &component) {
  std::vector<uint64_t> routes = component.take_routes();
  if (server)
    for (RouteId id : routes) server->remove_route(id);
}

}  // namespace vitals::core
