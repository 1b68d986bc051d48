// InfluxDB line protocol (POST /api/write) to samples:
//   measurement,tag=v,tag2=v field=1.5,field2=2i,f3=true 1700000000000000000
// Each numeric field becomes series measurement_field (field "value" just
// measurement) with the tags as labels. String fields are counted and skipped.
#pragma once

#include <optional>
#include <string_view>

#include "ingest.hpp"
#include "vitals/plugin.hpp"
#include "vitals/time_parse.hpp"

namespace vitals::http_telemetry {

// Parses a whole body into out (appending). Stops at the first error and
// returns it; the caller then discards out, so a request lands whole or not
// at all. Series are resolved through series (interning only on cache misses).
std::optional<IngestError> parse_line_protocol(std::string_view body, TimePrecision precision,
                                               const IngestOptions &options, SeriesResolver &series, vitals::Batch &out,
                                               IngestCounts &counts);

}  // namespace vitals::http_telemetry
