// The route table: method + exact path, or method + path prefix ("/x/*");
// finds a request's route or says 404 / 405 (with the methods allowed).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "server.hpp"

namespace vitals::core::http {

struct RouteEntry {
  RouteId id = 0;
  HttpRoute route;
  std::string prefix;  // for "/x/*": "/x/"; empty for exact routes
};

struct RouteMatch {
  // Shared so that a handler removing its own route while it runs stays valid.
  std::shared_ptr<const RouteEntry> entry;
  int status = 0;     // 404 or 405 when `entry` is null
  std::string allow;  // for 405: "GET, HEAD, POST"
  // For 405: the strictest access of the routes at that path, so that a
  // client without the token cannot learn which methods they take.
  RouteAccess access = RouteAccess::normal;
};

class Router {
 public:
  RouteId add(HttpRoute route, std::string &error);
  bool remove(RouteId id);
  // Exact routes win over prefix routes, longer prefixes over shorter ones.
  // HEAD falls back to GET.
  RouteMatch match(std::string_view method, std::string_view path) const;

 private:
  using Entries = std::vector<std::shared_ptr<const RouteEntry>>;
  std::map<std::string, Entries, std::less<>> exact_;
  Entries prefixes_;  // longest prefix first
  RouteId next_id_ = 1;
};

}  // namespace vitals::core::http
