// The routes the core itself serves: health, readiness, self-metrics, and the
// history API (/api/series, /api/query, /api/latest) answered by a storage.
#pragma once

namespace vitals::core {

class HttpServer;
class Pipeline;

// Registers the routes; they call into `pipeline`, which must outlive them.
void register_core_routes(HttpServer &server, Pipeline &pipeline);

}  // namespace vitals::core
