// Request-target decoding: percent-decoding, query parameters and the path
// checks that keep prefix routes (static files) inside their tree.
#pragma once

#include <string>
#include <string_view>

#include "request.hpp"

namespace vitals::core::http {

// Decodes %XX escapes (and '+' as a space for form-style query strings);
// malformed escapes are kept literally rather than rejected.
std::string percent_decode(std::string_view text, bool plus_is_space);

// "a=1&b=x+y&flag" -> {a: "1", b: "x y", flag: ""}.
QueryParams parse_query(std::string_view query_string);

// Splits a request target into a decoded path and the raw query string;
// false for targets that are not origin-form or absolute-form, or whose
// decoded path holds a NUL or a ".." segment.
bool split_target(std::string_view target, std::string &path, std::string &query_string);

}  // namespace vitals::core::http
