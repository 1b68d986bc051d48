// JSON telemetry (POST /api/telemetry) to samples. Accepted shapes:
//   {"timestamp": T, "signals": {"name": value, ...}, "labels": {...}, "device": "id"}
//   [ that, ... ]
//   {"name": "n", "labels": {...}, "ts": T, "value": v}   and an array of those
// T is an RFC 3339 string or an epoch number (unit by magnitude); values are
// numbers or booleans (1/0). Arrays may mix both object shapes.
#pragma once

#include <optional>
#include <string_view>

#include "ingest.hpp"
#include "vitals/plugin.hpp"

namespace vitals::http_telemetry {

// Parses a whole body into out (appending). Stops at the first error and
// returns it, with a byte offset for syntax errors and a JSON path for values;
// the caller then discards out, so a request lands whole or not at all.
std::optional<IngestError> parse_json_telemetry(std::string_view body, const IngestOptions &options,
                                                SeriesResolver &series, vitals::Batch &out, IngestCounts &counts);

}  // namespace vitals::http_telemetry
