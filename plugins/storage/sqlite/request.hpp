// Reading a query request: a flat JSON object of scalars. Numbers keep their
// text so that int64 nanoseconds are read exactly (no trip through double).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vitals/plugin.hpp"

namespace vitals::sqlite {

struct JsonScalar {
  enum class Kind { string, number, boolean, null, nested };
  Kind kind = Kind::null;
  std::string text;  // decoded string, or the number's literal text
  bool is_integer() const;
};

class Request {
 public:
  // Parses text; on failure returns nothing and sets error.
  static std::optional<Request> parse(std::string_view text, std::string &error);

  bool has(const std::string &key) const { return fields_.count(key) > 0; }
  const JsonScalar *get(const std::string &key) const;
  // The string value of key, or fallback when absent; throws
  // std::invalid_argument when present but not a string.
  std::string string(const std::string &key, const std::string &fallback = {}) const;
  // Every field as (key, value), in key order; throws std::invalid_argument
  // if one is not a string.
  std::vector<Label> string_fields() const;

 private:
  std::map<std::string, JsonScalar> fields_;
};

// Reads a time: a JSON integer is nanoseconds since the epoch; a string is
// any form vitals::parse_time (vitals/time_parse.hpp) reads, as the agent
// reads ?from=: RFC 3339 ("2024-05-01T12:00:00.5Z", "...+02:00"), a date,
// "now", relative ("-1h", "now-30m", "+5m"), or epoch digits with the unit
// by magnitude (below 1e11 seconds, 1e14 milliseconds, 1e17 microseconds,
// else nanoseconds). Throws std::invalid_argument naming `key` and the text.
int64_t parse_time(const JsonScalar &value, int64_t now_ns, std::string_view key);

}  // namespace vitals::sqlite
