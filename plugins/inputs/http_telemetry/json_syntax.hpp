// Checks a body against the JSON grammar before cJSON parses it: cJSON accepts
// some invalid JSON (bad \u escapes, leading zeros, raw control characters)
// and says only roughly where it stopped; a client wants the exact byte.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace vitals::http_telemetry {

struct JsonSyntaxError {
  size_t offset;  // of the offending byte; the body's size for a premature end
  std::string reason;
};

// The first place body departs from the JSON grammar (RFC 8259), or nothing.
std::optional<JsonSyntaxError> find_json_syntax_error(std::string_view body);

}  // namespace vitals::http_telemetry
