// vitals.http, the HTTP service of the plugin ABI: routes a component
// registers on the agent's server, and the request/response handles it gets.
#pragma once

#include <cstdint>

#include "vitals/plugin.h"

namespace vitals::core {

class HttpServer;
class Component;

// The service table get_service("vitals.http") returns.
const vitals_http_service_t &http_service();
// Removes every route the component registered (before it stops for good).
void remove_component_routes(HttpServer *server, Component &component);

}  // namespace vitals::core
