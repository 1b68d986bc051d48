// bench/ingest load generator: POSTs samples to the agent over loopback, one
// thread and one keep-alive connection per `--conns`, one request in flight
// per connection, and prints what it measured as one JSON object on stdout.
//
//   loadgen --port P [--format lp|json] [--path TARGET] [--conns 8] [--series 100] [--batch 1000]
//           [--duration SECONDS | --per-series N] [--start-ns T] [--step-ns 1000000000] [--interleave]
//
// lp POSTs /api/write?precision=ns, json POSTs /api/telemetry (explicit form,
// an array of `batch` samples); --path POSTs the same bodies elsewhere (such
// as /write?precision=ns, VictoriaMetrics' InfluxDB endpoint). Rows: see
// connection_rows.hpp; --interleave makes every connection write every
// series, their timestamps interleaved across the connections. With
// --duration every connection stops starting requests at the deadline and
// waits for the one in flight; with --per-series it sends exactly N samples
// of each series (the last request of a connection may be shorter).
//
// Only requests answered 204 count as samples. A 503 (backpressure) is
// counted and the same request retried 10 ms later, so timestamps stay
// gapless; any other status stops the run with exit status 1.
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "connection_rows.hpp"
#include "http_client.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  bool json = false;
  std::string path;  // empty: the agent's endpoint for the format
  bool interleave = false;
  int conns = 8;
  int series = 100;
  int batch = 1000;
  double duration_s = 0;
  int64_t per_series = 0;
  int64_t start_ns = 0;
  int64_t step_ns = 1'000'000'000;
};

struct Result {
  std::vector<float> latency_us;  // of requests answered 204
  int64_t samples = 0, requests = 0, busy = 0, bytes = 0;
  Clock::time_point first_sent{}, last_done{};
  std::string error;
};

[[noreturn]] void usage(const char *why) {
  std::fprintf(stderr,
               "loadgen: %s\nusage: loadgen --port P [--host 127.0.0.1] [--format lp|json] [--path TARGET] [--conns 8] "
               "[--series 100] [--batch 1000] [--duration S | --per-series N] [--start-ns T] [--step-ns NS] "
               "[--interleave]\n",
               why);
  std::exit(2);
}

Options parse(int argc, char **argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--interleave") {
      o.interleave = true;
      continue;
    }
    if (i + 1 >= argc) usage(("missing value for " + a).c_str());
    std::string v = argv[++i];
    if (a == "--host") o.host = v;
    else if (a == "--port") o.port = std::atoi(v.c_str());
    else if (a == "--format") {
      if (v != "lp" && v != "json") usage("--format is lp or json");
      o.json = v == "json";
    } else if (a == "--path") {
      if (v.empty() || v[0] != '/') usage("--path starts with /");
      o.path = v;
    } else if (a == "--conns") o.conns = std::atoi(v.c_str());
    else if (a == "--series") o.series = std::atoi(v.c_str());
    else if (a == "--batch") o.batch = std::atoi(v.c_str());
    else if (a == "--duration") o.duration_s = std::atof(v.c_str());
    else if (a == "--per-series") o.per_series = std::atoll(v.c_str());
    else if (a == "--start-ns") o.start_ns = std::atoll(v.c_str());
    else if (a == "--step-ns") o.step_ns = std::atoll(v.c_str());
    else usage(("unknown option " + a).c_str());
  }
  if (o.port <= 0) usage("--port is required");
  if (o.conns < 1 || o.series < o.conns || o.batch < 1) usage("need conns >= 1, series >= conns, batch >= 1");
  if ((o.duration_s > 0) == (o.per_series > 0)) usage("give exactly one of --duration and --per-series");
  if (o.json && (o.start_ns % 1'000'000'000 || o.step_ns % 1'000'000'000))
    usage("json timestamps are whole seconds: --start-ns and --step-ns must be multiples of 1e9");
  return o;
}

void run_connection(const Options &o, int conn, Clock::time_point deadline, Result &r) {
  bench::ConnectionRows stream(conn, o.conns, o.series, o.start_ns, o.step_ns, o.interleave);
  const int64_t total = o.per_series > 0 ? stream.total(o.per_series) : INT64_MAX;
  bench::HttpConnection http;
  if (!http.connect(o.host, o.port, r.error)) return;
  const std::string target = !o.path.empty() ? o.path : o.json ? "/api/telemetry" : "/api/write?precision=ns";
  const char *type = o.json ? "application/json" : "text/plain; charset=utf-8";
  std::string body;
  body.reserve(static_cast<size_t>(o.batch) * 80);
  bench::HttpReply reply;
  r.latency_us.reserve(1 << 16);
  int64_t k = 0;
  bool first = true;
  while (k < total) {
    if (o.duration_s > 0 && Clock::now() >= deadline) break;
    int64_t n = std::min<int64_t>(o.batch, total - k);
    body.clear();
    if (o.json) body += '[';
    for (int64_t i = 0; i < n; ++i) {
      bench::Row row = stream.row(k + i);
      if (o.json)
        bench::append_json(body, row, i == 0);
      else
        bench::append_line_protocol(body, row);
    }
    if (o.json) body += ']';
    for (;;) {
      auto t0 = Clock::now();
      if (first) r.first_sent = t0, first = false;
      if (!http.exchange("POST", target, type, body, reply, r.error)) return;
      auto t1 = Clock::now();
      ++r.requests;
      if (reply.status == 204) {
        r.latency_us.push_back(std::chrono::duration<float, std::micro>(t1 - t0).count());
        r.samples += n;
        r.bytes += static_cast<int64_t>(body.size());
        r.last_done = t1;
        break;
      }
      if (reply.status == 503) {
        ++r.busy;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        continue;
      }
      r.error = "HTTP " + std::to_string(reply.status) + ": " + reply.body.substr(0, 300);
      return;
    }
    k += n;
  }
}

double percentile(std::vector<float> &v, double p) {
  if (v.empty()) return 0;
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  std::nth_element(v.begin(), v.begin() + static_cast<long>(i), v.end());
  return v[i];
}

}  // namespace

int main(int argc, char **argv) {
  Options o = parse(argc, argv);
  std::vector<Result> results(static_cast<size_t>(o.conns));
  std::vector<std::thread> threads;
  auto start = Clock::now();
  auto deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.duration_s));
  for (int c = 0; c < o.conns; ++c)
    threads.emplace_back(run_connection, std::cref(o), c, deadline, std::ref(results[static_cast<size_t>(c)]));
  for (auto &t : threads) t.join();

  Result all;
  all.first_sent = Clock::time_point::max();
  std::string errors;
  for (auto &r : results) {
    all.samples += r.samples;
    all.requests += r.requests;
    all.busy += r.busy;
    all.bytes += r.bytes;
    all.latency_us.insert(all.latency_us.end(), r.latency_us.begin(), r.latency_us.end());
    if (r.requests) all.first_sent = std::min(all.first_sent, r.first_sent);
    all.last_done = std::max(all.last_done, r.last_done);
    if (!r.error.empty()) errors = r.error;
  }
  double elapsed = all.samples ? std::chrono::duration<double>(all.last_done - all.first_sent).count() : 0;
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  double cpu = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
               static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  size_t ok = all.latency_us.size();
  double p50 = percentile(all.latency_us, 0.50), p99 = percentile(all.latency_us, 0.99);
  double max = ok ? *std::max_element(all.latency_us.begin(), all.latency_us.end()) : 0;
  std::printf(
      "{\"samples\":%lld,\"requests\":%lld,\"ok\":%zu,\"busy\":%lld,\"bytes\":%lld,\"elapsed_s\":%.6f,"
      "\"samples_per_s\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,\"client_cpu_s\":%.3f,\"error\":\"",
      static_cast<long long>(all.samples), static_cast<long long>(all.requests), ok, static_cast<long long>(all.busy),
      static_cast<long long>(all.bytes), elapsed, elapsed > 0 ? static_cast<double>(all.samples) / elapsed : 0.0,
      p50 / 1000, p99 / 1000, max / 1000, cpu);
  for (char ch : errors) {
    if (ch == '"' || ch == '\\') std::putchar('\\');
    std::putchar(static_cast<unsigned char>(ch) < 0x20 ? ' ' : ch);
  }
  std::printf("\"}\n");
  return errors.empty() ? 0 : 1;
}
