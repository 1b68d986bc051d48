// Core HTTP routes. The history routes translate query parameters into the
// storage query contract (see the sqlite plugin README) and pass the
// storage's JSON answer through unchanged.
#include "api_routes.hpp"

#include <cjson/cJSON.h>

#include <memory>
#include <string>

#include "http/server.hpp"
#include "pipeline.hpp"
#include "scheduler.hpp"
#include "vitals/selector.hpp"
#include "vitals/time_parse.hpp"

namespace vitals::core {

namespace {

using Json = std::unique_ptr<cJSON, decltype(&cJSON_Delete)>;

std::string print(const Json &json) {
  char *text = cJSON_PrintUnformatted(json.get());
  std::string out = text ? text : "{}";
  cJSON_free(text);
  return out;
}

void send_error(HttpResponse &res, int status, const std::string &message) {
  Json body(cJSON_CreateObject(), cJSON_Delete);
  cJSON_AddStringToObject(body.get(), "error", message.c_str());
  res.send(status, "application/json", print(body));
}

// Adds "match" to the request, refusing a malformed selector with 400.
bool add_match(const HttpRequest &req, cJSON *request, HttpResponse &res) {
  std::string match(req.param("match").value_or(""));
  Selector sel;
  std::string error;
  if (!Selector::parse(match, sel, error)) {
    send_error(res, 400, "match: " + error);
    return false;
  }
  cJSON_AddStringToObject(request, "match", match.c_str());
  return true;
}

void forward(Pipeline &pipeline, const HttpRequest &req, const Json &request, std::shared_ptr<HttpResponse> res) {
  std::string storage(req.param("storage").value_or(""));
  pipeline.query_storage(storage, print(request), [res](int status, const std::string &type, std::string body) {
    res->send(status, type.empty() ? "application/json" : type, std::move(body));
  });
}

void add(HttpServer &server, const char *method, const char *path, RouteAccess access, HttpHandler handler) {
  std::string error;
  server.add_route({method, path, std::move(handler), access}, error);
}

}  // namespace

void register_core_routes(HttpServer &server, Pipeline &pipeline) {
  add(server, "GET", "/healthz", RouteAccess::open, [](const HttpRequest &, std::shared_ptr<HttpResponse> res) {
    res->send(200, "application/json", "{\"status\":\"ok\"}");
  });
  // InfluxDB's health route, which InfluxDB clients and load balancers in
  // front of Telegraf probe; open like /healthz, in InfluxDB's shape.
  add(server, "GET", "/health", RouteAccess::open, [](const HttpRequest &, std::shared_ptr<HttpResponse> res) {
    res->send(200, "application/json",
              "{\"name\":\"vitals\",\"message\":\"ready for queries and writes\",\"status\":\"pass\",\"checks\":[]}");
  });
  add(server, "GET", "/readyz", RouteAccess::normal,
      [&pipeline](const HttpRequest &, std::shared_ptr<HttpResponse> res) {
        bool ready = pipeline.ready();
        res->send(ready ? 200 : 503, "application/json",
                  ready ? "{\"status\":\"ready\"}" : "{\"status\":\"not ready\"}");
      });
  // Same as SIGHUP, for operators without shell access to the host.
  add(server, "POST", "/api/admin/reload", RouteAccess::admin,
      [&pipeline](const HttpRequest &, std::shared_ptr<HttpResponse> res) {
        pipeline.request_reload();
        res->send(202, "application/json", "{\"status\":\"reload requested\"}");
      });
  add(server, "GET", "/api/performance/metrics", RouteAccess::normal,
      [&pipeline](const HttpRequest &, std::shared_ptr<HttpResponse> res) {
        Json body(cJSON_CreateObject(), cJSON_Delete);
        cJSON *list = cJSON_AddArrayToObject(body.get(), "metrics");
        pipeline.metrics().visit([&](const std::string &name, const MetricLabels &labels, double value) {
          cJSON *m = cJSON_CreateObject();
          cJSON_AddStringToObject(m, "name", name.c_str());
          cJSON *l = cJSON_AddObjectToObject(m, "labels");
          for (const auto &[k, v] : labels) cJSON_AddStringToObject(l, k.c_str(), v.c_str());
          cJSON_AddNumberToObject(m, "value", value);
          cJSON_AddItemToArray(list, m);
        });
        cJSON_AddNumberToObject(body.get(), "series", static_cast<double>(pipeline.series().size()));
        res->send(200, "application/json", print(body));
      });
  add(server, "GET", "/api/series", RouteAccess::normal,
      [&pipeline](const HttpRequest &req, std::shared_ptr<HttpResponse> res) {
        Json request(cJSON_CreateObject(), cJSON_Delete);
        cJSON_AddStringToObject(request.get(), "op", "series");
        if (add_match(req, request.get(), *res)) forward(pipeline, req, request, res);
      });
  add(server, "GET", "/api/latest", RouteAccess::normal,
      [&pipeline](const HttpRequest &req, std::shared_ptr<HttpResponse> res) {
        Json request(cJSON_CreateObject(), cJSON_Delete);
        cJSON_AddStringToObject(request.get(), "op", "latest");
        if (add_match(req, request.get(), *res)) forward(pipeline, req, request, res);
      });
  add(server, "GET", "/api/query", RouteAccess::normal,
      [&pipeline](const HttpRequest &req, std::shared_ptr<HttpResponse> res) {
        Json request(cJSON_CreateObject(), cJSON_Delete);
        cJSON_AddStringToObject(request.get(), "op", "query");
        if (!add_match(req, request.get(), *res)) return;
        int64_t now = wall_clock_ns();
        std::string error;
        auto from = parse_time(req.param("from").value_or("-1h"), now, error);
        auto to = from ? parse_time(req.param("to").value_or("now"), now, error) : std::nullopt;
        if (!from || !to) return send_error(*res, 400, error);
        if (*from > *to) return send_error(*res, 400, "from is after to");
        // Exact int64 nanoseconds: cJSON numbers are doubles, so write them raw.
        cJSON_AddItemToObject(request.get(), "from", cJSON_CreateRaw(std::to_string(*from).c_str()));
        cJSON_AddItemToObject(request.get(), "to", cJSON_CreateRaw(std::to_string(*to).c_str()));
        std::string points(req.param("points").value_or("1000"));
        char *end = nullptr;
        long n = std::strtol(points.c_str(), &end, 10);
        if (points.empty() || *end || n < 1 || n > 1'000'000)
          return send_error(*res, 400, "points must be an integer from 1 to 1000000");
        cJSON_AddNumberToObject(request.get(), "points", static_cast<double>(n));
        cJSON_AddStringToObject(request.get(), "method", std::string(req.param("method").value_or("lttb")).c_str());
        forward(pipeline, req, request, res);
      });
}

}  // namespace vitals::core
