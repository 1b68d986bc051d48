// Request-target decoding: percent-decoding, query parameters, path checks.
#include "uri.hpp"

#include <http_parser.h>

namespace vitals::core::http {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A ".." segment would let a prefix route serving files climb out of its
// directory; no API path needs one.
bool has_dot_dot_segment(std::string_view path) {
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    std::string_view segment =
        path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (segment == "..") return true;
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return false;
}

}  // namespace

std::string percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%' && i + 2 < text.size()) {
      int hi = hex_value(text[i + 1]), lo = hex_value(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && c == '+' ? ' ' : c);
  }
  return out;
}

QueryParams parse_query(std::string_view query_string) {
  QueryParams params;
  while (!query_string.empty()) {
    size_t amp = query_string.find('&');
    std::string_view pair = query_string.substr(0, amp);
    query_string = amp == std::string_view::npos ? std::string_view() : query_string.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string_view key = pair.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    params.emplace(percent_decode(key, true), percent_decode(value, true));
  }
  return params;
}

bool split_target(std::string_view target, std::string &path, std::string &query_string) {
  http_parser_url url;
  http_parser_url_init(&url);
  if (http_parser_parse_url(target.data(), target.size(), 0, &url) != 0) return false;
  if (!(url.field_set & (1 << UF_PATH))) return false;
  auto field = [&](int f) { return target.substr(url.field_data[f].off, url.field_data[f].len); };
  std::string_view raw_path = field(UF_PATH);
  if (raw_path.empty() || raw_path.front() != '/') return false;
  path = percent_decode(raw_path, false);
  if (path.find('\0') != std::string::npos || has_dot_dot_segment(path)) return false;
  query_string = (url.field_set & (1 << UF_QUERY)) ? std::string(field(UF_QUERY)) : std::string();
  return true;
}

}  // namespace vitals::core::http
