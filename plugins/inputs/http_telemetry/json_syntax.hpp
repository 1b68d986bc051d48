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
  bool too_many_values = false;  // an item broke max_item_values; the JSON may be valid
};

// The first place body departs from the JSON grammar (RFC 8259), or nothing.
// Also refuses an item (the root, or each element of a root array) holding
// more than max_item_values values, scalars and containers alike, so a caller
// can bound what it builds from one item before building it.
std::optional<JsonSyntaxError> find_json_syntax_error(std::string_view body,
                                                      size_t max_item_values = static_cast<size_t>(-1));

// One past the last byte of the JSON value starting at `begin`, in a body
// find_json_syntax_error() accepted.
size_t json_value_end(std::string_view body, size_t begin);

}  // namespace vitals::http_telemetry
