// InfluxDB line protocol bodies (POST /api/write) through parse_line_protocol,
// as the http_telemetry input runs it. Layout: telemetry_fuzz.hpp.
#include "../../plugins/inputs/http_telemetry/line_protocol.hpp"

#include "telemetry_fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace vitals::http_telemetry;
  vitals::fuzz::TelemetryCase c = vitals::fuzz::telemetry_case(data, size);
  vitals::fuzz::run_telemetry(
      c, [&](const IngestOptions &options, SeriesResolver &resolver, vitals::Batch &batch, IngestCounts &counts) {
        return parse_line_protocol(c.body, c.precision, options, resolver, batch, counts);
      });
  // The precision query parameter, from the same bytes.
  (void)vitals::parse_time_precision(c.body.substr(0, 4));
  return 0;
}
