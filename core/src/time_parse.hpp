// Timestamps as users write them in query parameters and on the command
// line: RFC 3339 ("2026-11-24T05:00:00Z", "...+01:00", fractional seconds),
// epoch numbers in s, ms or ns (told apart by magnitude), "now", and times
// relative to now ("-1h", "-30m", "-1d12h").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vitals::core {

// Parses `text` into ns since the epoch; `now_ns` anchors relative forms.
// On failure returns nothing and sets `error` to a message naming the input.
std::optional<int64_t> parse_time(std::string_view text, int64_t now_ns, std::string &error);

}  // namespace vitals::core
