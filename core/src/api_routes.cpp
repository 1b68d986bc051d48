// Core HTTP routes. The history routes translate query parameters into the
// storage contract (docs/storage-contract.md, sdk/include/vitals/storage.hpp)
// and pass the storage's JSON answer through unchanged.
#include "api_routes.hpp"

#include <cjson/cJSON.h>

#include <memory>
#include <string>

#include "http/server.hpp"
#include "engine/pipeline.hpp"
#include "engine/scheduler.hpp"
#include "vitals/storage.hpp"

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

// Reads a storage request from the route's op and its query parameters
// (match, and for op query from, to, points, method, tier) with the SDK's
// reader, the one every storage uses, so a bad parameter gets the same 400
// here as from the storage. Times resolve against the agent's clock.
std::optional<storage::Request> read_request(std::string_view op, const HttpRequest &req, HttpResponse &res) {
  json::Value request = json::Value::object();
  request.set("op", json::Value::string(std::string(op)));
  for (const char *key : {"match", "from", "to", "points", "method", "tier"}) {
    auto value = req.param(key);
    if (!value) continue;
    std::string text(*value);
    bool integer = !text.empty() && text.size() < 20 &&
                   text.find_first_not_of("0123456789", text[0] == '-' ? 1 : 0) == std::string::npos && text != "-";
    // points is a number on the wire; times stay strings (epoch digits by magnitude, as documented).
    request.set(key, std::string_view(key) == "points" && integer ? json::Value::number_literal(text)
                                                                  : json::Value::string(std::move(text)));
  }
  try {
    return storage::parse_request(request, wall_clock_ns());
  } catch (const storage::BadRequest &e) {
    send_error(res, 400, e.what());
    return std::nullopt;
  }
}

void forward(Pipeline &pipeline, const HttpRequest &req, std::string_view op, std::shared_ptr<HttpResponse> res) {
  auto request = read_request(op, req, *res);
  if (!request) return;
  std::string storage(req.param("storage").value_or(""));
  pipeline.query_storage(storage, storage::to_json(*request),
                         [res](int status, const std::string &type, std::string body) {
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
  for (const char *op : {"series", "latest", "query"}) {
    add(server, "GET", (std::string("/api/") + op).c_str(), RouteAccess::normal,
        [&pipeline, op](const HttpRequest &req, std::shared_ptr<HttpResponse> res) {
          forward(pipeline, req, op, res);
        });
  }
}

}  // namespace vitals::core
