// Reads the points of a /api/query reply, for integration tests that check
// what a storage kept: series text -> (ts, value) in reply order.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

namespace vitals::test {

struct Point {
  int64_t ts;
  double value;
  bool operator==(const Point &) const = default;
};

// ts are written as exact int64, so they compare exactly.
inline std::map<std::string, std::vector<Point>> parse_points(const std::string &body) {
  std::map<std::string, std::vector<Point>> out;
  size_t pos = 0;
  while ((pos = body.find("{\"series\":\"", pos)) != std::string::npos) {
    pos += 11;
    std::string series;
    while (pos < body.size() && body[pos] != '"') {
      if (body[pos] == '\\') ++pos;
      series += body[pos++];
    }
    size_t pts = body.find("\"points\":[", pos);
    if (pts == std::string::npos) break;
    const char *p = body.c_str() + pts + 10;
    auto &list = out[series];
    while (*p == '[') {
      char *end = nullptr;
      int64_t ts = std::strtoll(p + 1, &end, 10);
      double value = std::strtod(end + 1, &end);
      list.push_back({ts, value});
      p = end + 1;  // past ']'
      if (*p == ',') ++p;
    }
    pos = static_cast<size_t>(p - body.c_str());
  }
  return out;
}

}  // namespace vitals::test
