// JSON telemetry bodies (POST /api/telemetry) through parse_json_telemetry,
// which checks the grammar first (json_syntax.cpp) and then reads values with
// cJSON (json_ingest.cpp). Layout: telemetry_fuzz.hpp.
#include "../../plugins/inputs/http_telemetry/json_ingest.hpp"
#include "../../plugins/inputs/http_telemetry/json_syntax.hpp"
#include "telemetry_fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace vitals::http_telemetry;
  vitals::fuzz::TelemetryCase c = vitals::fuzz::telemetry_case(data, size);
  vitals::fuzz::run_telemetry(
      c, [&](const IngestOptions &options, SeriesResolver &resolver, vitals::Batch &batch, IngestCounts &counts) {
        return parse_json_telemetry(c.body, options, resolver, batch, counts);
      });
  auto syntax = find_json_syntax_error(c.body);
  if (syntax && syntax->offset > c.body.size()) std::abort();
  // Timestamps as strings, from the same bytes.
  std::string error;
  (void)vitals::parse_rfc3339(c.body.substr(0, 64), error);
  return 0;
}
