// The HTTP services of the plugin ABI (1.1): routes a component registers on
// the agent's server, and the request/response handles it gets.
#pragma once

#include <cstdint>

#include "vitals/plugin.h"

namespace vitals::core {

class HttpServer;
class Component;

// Fills the http_* entries of a host table.
void fill_http_host_functions(vitals_host_t &table);
// Removes every route the component registered (before it stops for good).
void remove_component_routes(HttpServer *server, Component &component);

}  // namespace vitals::core
