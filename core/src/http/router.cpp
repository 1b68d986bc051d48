// The route table: exact and prefix routes, 404 and 405 with Allow.
#include "router.hpp"

#include <algorithm>
#include <set>

namespace vitals::core::http {

namespace {

bool valid_method(std::string_view m) {
  if (m.empty()) return false;
  return std::all_of(m.begin(), m.end(), [](char c) { return (c >= 'A' && c <= 'Z') || c == '-' || c == '_'; });
}

bool prefix_matches(const RouteEntry &e, std::string_view path) {
  // "/dashboard/*" also takes "/dashboard" itself.
  std::string_view bare(e.prefix.data(), e.prefix.size() - 1);
  return path.starts_with(e.prefix) || (!bare.empty() && path == bare);
}

RouteAccess stricter(RouteAccess a, RouteAccess b) {
  auto rank = [](RouteAccess x) { return x == RouteAccess::open ? 0 : x == RouteAccess::normal ? 1 : 2; };
  return rank(a) >= rank(b) ? a : b;
}

const RouteEntry *find_method(const std::vector<std::shared_ptr<const RouteEntry>> &entries, std::string_view method) {
  for (const auto &e : entries)
    if (e->route.method == method) return e.get();
  return nullptr;
}

}  // namespace

RouteId Router::add(HttpRoute route, std::string &error) {
  std::string name = route.method + " " + route.path;
  if (!valid_method(route.method)) {
    error = "route " + name + ": method must be an upper-case token like GET";
    return 0;
  }
  if (route.path.empty() || route.path.front() != '/') {
    error = "route " + name + ": path must start with '/'";
    return 0;
  }
  if (!route.handler) {
    error = "route " + name + ": no handler";
    return 0;
  }
  auto entry = std::make_shared<RouteEntry>();
  size_t star = route.path.find('*');
  if (star != std::string::npos) {
    if (star != route.path.size() - 1 || !route.path.ends_with("/*")) {
      error = "route " + name + ": '*' is only allowed as a final \"/*\" (a prefix route)";
      return 0;
    }
    entry->prefix = route.path.substr(0, route.path.size() - 1);
  }
  bool taken = entry->prefix.empty() ? exact_.contains(route.path) && find_method(exact_[route.path], route.method)
                                     : std::any_of(prefixes_.begin(), prefixes_.end(), [&](const auto &e) {
                                         return e->prefix == entry->prefix && e->route.method == route.method;
                                       });
  if (taken) {
    error = "route " + name + " is already registered";
    return 0;
  }
  entry->id = next_id_++;
  entry->route = std::move(route);
  if (entry->prefix.empty()) {
    exact_[entry->route.path].push_back(entry);
  } else {
    prefixes_.push_back(entry);
    std::stable_sort(prefixes_.begin(), prefixes_.end(),
                     [](const auto &a, const auto &b) { return a->prefix.size() > b->prefix.size(); });
  }
  return entry->id;
}

bool Router::remove(RouteId id) {
  for (auto it = exact_.begin(); it != exact_.end(); ++it) {
    if (std::erase_if(it->second, [&](const auto &e) { return e->id == id; }) > 0) {
      if (it->second.empty()) exact_.erase(it);
      return true;
    }
  }
  return std::erase_if(prefixes_, [&](const auto &e) { return e->id == id; }) > 0;
}

RouteMatch Router::match(std::string_view method, std::string_view path) const {
  auto exact = exact_.find(path);
  // HEAD is answered by a HEAD route if one exists, else by GET without body.
  auto pick = [&](const Entries &entries) -> std::shared_ptr<const RouteEntry> {
    for (std::string_view m : {method, method == "HEAD" ? std::string_view("GET") : std::string_view()}) {
      if (m.empty()) continue;
      for (const auto &e : entries)
        if (e->route.method == m) return e;
    }
    return nullptr;
  };
  if (exact != exact_.end())
    if (auto e = pick(exact->second)) return {e, 0, {}, e->route.access};
  Entries matching_prefixes;
  for (const auto &e : prefixes_)
    if (prefix_matches(*e, path)) matching_prefixes.push_back(e);
  // Longest prefix first: the first match of the method is the most specific.
  if (auto e = pick(matching_prefixes)) return {e, 0, {}, e->route.access};

  std::set<std::string> allowed;
  RouteAccess access = RouteAccess::open;
  auto note = [&](const RouteEntry &e) {
    allowed.insert(e.route.method);
    access = stricter(access, e.route.access);
  };
  if (exact != exact_.end())
    for (const auto &e : exact->second) note(*e);
  for (const auto &e : matching_prefixes) note(*e);
  if (allowed.empty()) return {nullptr, 404, {}, RouteAccess::normal};
  if (allowed.contains("GET")) allowed.insert("HEAD");
  std::string allow;
  for (const auto &m : allowed) allow += (allow.empty() ? "" : ", ") + m;
  return {nullptr, 405, allow, access};
}

}  // namespace vitals::core::http
