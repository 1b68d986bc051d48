// The HTTP server's parsing pieces called directly (much faster than a
// connection, so deeper into each grammar): request-target splitting and
// percent-decoding (uri.cpp), header token lists (headers.cpp), credentials
// (auth.cpp: Authorization schemes, ?token=, cookies, ?p=), Host and Origin
// names (host_origin.cpp), Accept-Encoding (gzip.cpp), and Content-Encoding
// bodies (content_decoding.cpp: gzip, deflate, bounded output).
//
// Input: the first byte picks the piece ('0' target, '1' auth, '2' Host and
// Origin, '3' header tokens, '4' body decoding; other bytes modulo 5), the
// rest is split at '\n' into the fields that piece needs (missing: empty).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "http/auth.hpp"
#include "http/content_decoding.hpp"
#include "http/gzip.hpp"
#include "http/host_origin.hpp"
#include "http/uri.hpp"

namespace {

using namespace vitals::core;
using namespace vitals::core::http;

std::vector<std::string_view> fields(std::string_view rest, size_t n) {
  std::vector<std::string_view> out;
  while (out.size() + 1 < n) {
    size_t nl = rest.find('\n');
    if (nl == std::string_view::npos) break;
    out.push_back(rest.substr(0, nl));
    rest.remove_prefix(nl + 1);
  }
  out.push_back(rest);
  out.resize(n);
  return out;
}

void target(std::string_view text) {
  std::string path, query;
  if (split_target(text, path, query)) {
    // What split_target promises the router.
    if (path.empty() || path[0] != '/' || path.find('\0') != std::string::npos) std::abort();
    (void)parse_query(query);
  }
  (void)percent_decode(text, true);
  (void)percent_decode(text, false);
}

void auth(std::string_view rest) {
  // method, target, Authorization, Cookie
  auto f = fields(rest, 4);
  HttpRequest r;
  r.method = std::string(f[0]);
  r.target = std::string(f[1]);
  if (!split_target(r.target, r.path, r.query_string))
    r.path.assign(1, '/');  // (not = "/": GCC 12 -Wrestrict false positive)
  r.query = parse_query(r.query_string);
  if (!f[2].empty()) r.headers.add("Authorization", std::string(f[2]));
  if (!f[3].empty()) r.headers.add("Cookie", std::string(f[3]));
  for (RouteAccess access : {RouteAccess::normal, RouteAccess::open, RouteAccess::admin}) {
    RouteAccess needed = required_access(access, r.method, r.path);
    for (std::string_view token : {"", "fuzz-token"}) {
      AuthDecision d = authorize(needed, token, r);
      // Without a token configured, only admin routes are refused.
      if (token.empty() && needed != RouteAccess::admin && d != AuthDecision::allow) std::abort();
    }
  }
  (void)constant_time_equals("fuzz-token", f[2]);
}

void hosts(std::string_view rest) {
  // Host, Origin, method
  auto f = fields(rest, 3);
  std::vector<std::string> allowed{"vitals.example", "*.example.org"};
  (void)host_name(f[0]);
  (void)host_name(f[1]);
  for (bool loopback : {true, false}) {
    (void)host_allowed(f[0], loopback, {});
    (void)host_allowed(f[0], loopback, allowed);
  }
  (void)origin_allowed(f[1], f[0], {});
  (void)origin_allowed(f[1], f[0], allowed);
  (void)needs_same_origin(f[2], false);
  (void)needs_same_origin(f[2], true);
}

void headers(std::string_view rest) {
  // a header value, then the token looked for
  auto f = fields(rest, 2);
  HttpHeaders h;
  h.add("Connection", std::string(f[0]));
  h.add("connection", std::string(f[1]));
  (void)h.has_token("CONNECTION", f[1]);
  (void)h.has_token("Connection", "upgrade");
  h.set("Connection", "close");
  if (h.size() != 1) std::abort();
  (void)accepts_gzip(f[0]);
  (void)is_compressible(f[0]);
  (void)iequals(f[0], f[1]);
}

void body(std::string_view rest) {
  // Content-Encoding, then the body bytes
  size_t nl = rest.find('\n');
  std::string_view coding = rest.substr(0, nl);
  std::string data(nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1));
  constexpr uint64_t max_bytes = 256 * 1024;
  std::string error;
  DecodeStatus s = decode_content(coding, data, max_bytes, error);
  if (s == DecodeStatus::decoded && data.size() > max_bytes) std::abort();
  // Our own compressor's output decodes back to its input.
  std::string original(rest.substr(0, 4096)), gz;
  if (!gzip_compress(original, 1, gz)) std::abort();
  if (decode_content("gzip", gz, max_bytes, error) != DecodeStatus::decoded || gz != original) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  std::string_view rest(reinterpret_cast<const char *>(data) + 1, size - 1);
  switch (static_cast<uint8_t>(data[0] - '0') % 5) {
    case 0:
      target(rest);
      break;
    case 1:
      auth(rest);
      break;
    case 2:
      hosts(rest);
      break;
    case 3:
      headers(rest);
      break;
    default:
      body(rest);
      break;
  }
  return 0;
}
