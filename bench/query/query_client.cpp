// bench/query client: one keep-alive loopback connection, one request at a
// time, GET /api/query over a moving or fixed range; prints latency
// percentiles as one JSON object on stdout.
//
//   query_client --port P --query 'match=sensor&method=raw&points=1000' --to T_NS --span NS
//                [--shift NS] [--requests 200] [--warmup 5]
//
// Request i asks for [to - i*shift - span, to - i*shift] (from and to as epoch
// nanoseconds). shift 0 repeats one request (after the first, cache hits);
// shift > 0 makes every request a new range (cache misses). Warm-up requests
// use ranges beyond the timed ones (shift > 0) or the same one (shift 0).
// Any status but 200 stops the run with exit status 1.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "http_client.hpp"

namespace {

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5)];
}

// Points in a reply: every `[` directly followed by a digit or '-' opens a
// [ts, value] pair (the points arrays open with `[[`).
size_t count_points(const std::string &body) {
  size_t n = 0;
  for (size_t i = 0; i + 1 < body.size(); ++i)
    if (body[i] == '[' && ((body[i + 1] >= '0' && body[i + 1] <= '9') || body[i + 1] == '-')) ++n;
  return n;
}

}  // namespace

int main(int argc, char **argv) {
  std::string host = "127.0.0.1", query;
  int port = 0, requests = 200, warmup = 5;
  long long to = 0, span = 0, shift = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i], v = argv[i + 1];
    if (a == "--host") host = v;
    else if (a == "--port") port = std::atoi(v.c_str());
    else if (a == "--query") query = v;
    else if (a == "--to") to = std::atoll(v.c_str());
    else if (a == "--span") span = std::atoll(v.c_str());
    else if (a == "--shift") shift = std::atoll(v.c_str());
    else if (a == "--requests") requests = std::atoi(v.c_str());
    else if (a == "--warmup") warmup = std::atoi(v.c_str());
    else {
      std::fprintf(stderr, "query_client: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (port <= 0 || to <= 0 || span < 0 || requests < 1) {
    std::fprintf(stderr,
                 "usage: query_client --port P --query 'match=...&method=...&points=N' --to T_NS --span NS "
                 "[--shift NS] [--requests 200] [--warmup 5]\n");
    return 2;
  }
  bench::HttpConnection http;
  std::string error;
  if (!http.connect(host, port, error)) {
    std::fprintf(stderr, "query_client: %s\n", error.c_str());
    return 1;
  }
  auto target = [&](long long offset) {
    long long t = to - offset * shift;
    return "/api/query?" + query + "&from=" + std::to_string(t - span) + "&to=" + std::to_string(t);
  };
  bench::HttpReply reply;
  auto get = [&](const std::string &path) {
    if (!http.exchange("GET", path, "", "", reply, error)) {
      std::fprintf(stderr, "query_client: %s\n", error.c_str());
      std::exit(1);
    }
    if (reply.status != 200) {
      std::fprintf(stderr, "query_client: HTTP %d for %s: %.300s\n", reply.status, path.c_str(), reply.body.c_str());
      std::exit(1);
    }
  };
  for (int w = 0; w < warmup; ++w) get(target(shift ? requests + w : 0));
  std::vector<double> ms;
  size_t min_points = SIZE_MAX, max_points = 0, min_bytes = SIZE_MAX, max_bytes = 0;
  for (int i = 0; i < requests; ++i) {
    std::string path = target(i);
    auto t0 = std::chrono::steady_clock::now();
    get(path);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    size_t points = count_points(reply.body);
    min_points = std::min(min_points, points);
    max_points = std::max(max_points, points);
    min_bytes = std::min(min_bytes, reply.body.size());
    max_bytes = std::max(max_bytes, reply.body.size());
  }
  double sum = 0;
  for (double m : ms) sum += m;
  std::printf(
      "{\"requests\":%d,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"min_ms\":%.3f,\"max_ms\":%.3f,\"mean_ms\":%.3f,"
      "\"min_points\":%zu,\"max_points\":%zu,\"min_bytes\":%zu,\"max_bytes\":%zu}\n",
      requests, percentile(ms, 0.5), percentile(ms, 0.99), percentile(ms, 0), percentile(ms, 1),
      sum / static_cast<double>(ms.size()), min_points, max_points, min_bytes, max_bytes);
  return 0;
}
