// What a route handler sees of one HTTP request: the decoded path, query
// parameters, headers with case-insensitive lookup and the whole body.
#pragma once

#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vitals::core {

// ASCII case-insensitive comparison, as header names and tokens need.
bool iequals(std::string_view a, std::string_view b);

// Header fields in arrival order. Names compare case-insensitively; repeated
// fields are kept (get() returns the first).
class HttpHeaders {
 public:
  using Field = std::pair<std::string, std::string>;

  HttpHeaders() = default;
  HttpHeaders(std::initializer_list<Field> fields) : fields_(fields) {}

  void add(std::string name, std::string value) { fields_.emplace_back(std::move(name), std::move(value)); }
  // Replaces every field of that name with this one.
  void set(std::string name, std::string value);
  void remove(std::string_view name);
  std::optional<std::string_view> get(std::string_view name) const;
  bool has(std::string_view name) const { return get(name).has_value(); }
  // Whether a comma-separated field (Connection, Accept-Encoding, ...) lists
  // `token`, ignoring case and ";parameters".
  bool has_token(std::string_view name, std::string_view token) const;

  size_t size() const { return fields_.size(); }
  bool empty() const { return fields_.empty(); }
  std::vector<Field>::const_iterator begin() const { return fields_.begin(); }
  std::vector<Field>::const_iterator end() const { return fields_.end(); }

 private:
  std::vector<Field> fields_;
};

// Decoded query parameters; a key may repeat (?match=a&match=b).
using QueryParams = std::multimap<std::string, std::string, std::less<>>;

struct HttpRequest {
  std::string method;        // "GET", "POST", ...; HEAD requests reach GET routes as "HEAD"
  std::string target;        // the request target exactly as sent
  std::string path;          // percent-decoded, always starts with '/'
  std::string query_string;  // raw, without the '?'
  QueryParams query;         // percent-decoded, '+' read as a space
  HttpHeaders headers;
  std::string body;            // complete; chunked bodies arrive de-chunked
  std::string remote_address;  // "127.0.0.1:52344" or "[::1]:52344"
  unsigned http_major = 1;
  unsigned http_minor = 1;
  std::string route;     // the matched route's path pattern, e.g. "/dashboard/*"
  bool upgrade = false;  // the client asked to switch protocols (Upgrade + Connection: upgrade)

  std::optional<std::string_view> header(std::string_view name) const { return headers.get(name); }
  // The first value of a query parameter.
  std::optional<std::string_view> param(std::string_view name) const {
    auto it = query.find(name);
    if (it == query.end()) return std::nullopt;
    return std::string_view(it->second);
  }
};

}  // namespace vitals::core
