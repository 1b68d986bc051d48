// bench/chunks: what the v3 chunk encoding (plugins/storage/sqlite/
// chunk_codec.hpp) makes of realistic metrics, and how fast. bench/chunks/run
// drives it and sets VictoriaMetrics beside it on the same data.
//
// The data: SERIES series sampled every INTERVAL seconds for DAYS days, on
// the agent's aligned ticks, in four kinds of equal number:
//   walk1    a gauge as a random walk with one decimal (a temperature)
//   walk2    a random walk with two decimals (a voltage)
//   percent  a noisy percentage with two decimals (CPU busy)
//   counter  an integer counter (bytes sent: a varying rate times 10 s)
//   bytes    a slowly changing byte gauge (memory used, in whole pages)
// (five kinds: the series go round them in turn).
//
// usage: chunk_bench [--series N] [--interval S] [--days D] [--prom FILE] [--store DIR]
//   --prom FILE  also writes the data as Prometheus text with millisecond
//                timestamps, for VictoriaMetrics' /api/v1/import/prometheus
//   --store DIR  also writes it through the v3 tables (v3_store.hpp) into
//                DIR/v3.db: one commit per tick of every series, as the
//                agent's inputs commit, WAL with synchronous = NORMAL, a
//                seal each time a window closes; prints the file's bytes
//                per sample (after a checkpoint) and by table, and what the
//                process wrote to disk per sample (write_bytes)
// Prints one line per (chunk span, zstd level): bytes per sample in all and
// per kind, encode and decode ns per sample (median of 3).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "chunk_codec.hpp"
#include "db.hpp"
#include "schema.hpp"
#include "v3_store.hpp"

namespace chunk = vitals::sqlite::chunk;

namespace {

constexpr const char *kKinds[] = {"walk1", "walk2", "percent", "counter", "bytes"};
constexpr size_t kKindCount = 5;

struct Series {
  size_t kind;
  std::string name;
  std::vector<double> values;
};

double round_to(double v, int places) {
  const double p = std::pow(10.0, places);
  return std::round(v * p) / p;
}

std::vector<Series> generate(size_t n_series, size_t n_samples) {
  std::mt19937_64 rng(20261207);
  std::normal_distribution<double> normal(0, 1);
  std::vector<Series> out;
  for (size_t s = 0; s < n_series; ++s) {
    Series series{s % kKindCount, {}, std::vector<double>(n_samples)};
    series.name = std::string("bench_") + kKinds[series.kind] + "{host=\"pi" + std::to_string(s / kKindCount) + "\"}";
    double level = 0, rate = 0;
    switch (series.kind) {
      case 0:
        level = round_to(15 + 10 * std::uniform_real_distribution<>(0, 1)(rng), 1);
        break;
      case 1:
        level = round_to(3.3 + normal(rng) * 0.1, 2);
        break;
      case 2:
        level = 5 + 50 * std::uniform_real_distribution<>(0, 1)(rng);
        break;
      case 3:
        rate = 1e3 + 1e5 * std::uniform_real_distribution<>(0, 1)(rng);
        break;
      default:
        level = 4096.0 * static_cast<double>(50'000 + rng() % 200'000);
    }
    for (auto &v : series.values) {
      switch (series.kind) {
        case 0:
          level = round_to(level + std::round(normal(rng) * 0.7) / 10, 1);
          v = level;
          break;
        case 1:
          level = round_to(level + std::round(normal(rng) * 1.5) / 100, 2);
          v = level;
          break;
        case 2:
          v = round_to(std::clamp(level + normal(rng) * 6, 0.0, 100.0), 2);
          break;
        case 3:
          rate = std::max(0.0, rate * (1 + normal(rng) * 0.05));
          level += std::round(rate * 10 * (1 + normal(rng) * 0.2));
          v = level;
          break;
        default:
          if (rng() % 30 == 0) level += 4096.0 * static_cast<double>(static_cast<int64_t>(rng() % 2001) - 1000);
          v = level;
      }
    }
    out.push_back(std::move(series));
  }
  return out;
}

double median3(double a, double b, double c) { return std::max(std::min(a, b), std::min(std::max(a, b), c)); }

// This process's bytes written to storage so far (/proc/self/io).
int64_t write_bytes() {
  std::ifstream io("/proc/self/io");
  std::string key;
  int64_t value = 0;
  while (io >> key >> value)
    if (key == "write_bytes:") return value;
  return 0;
}

namespace v3 = vitals::sqlite::v3;

void store(const std::string &dir, const std::vector<Series> &series, const std::vector<int64_t> &ts) {
  using vitals::sqlite::Database;
  const std::string path = dir + "/v3.db";
  for (const char *suffix : {"", "-wal", "-shm"}) std::remove((path + suffix).c_str());
  const int64_t written_before = write_bytes();
  const auto t0 = std::chrono::steady_clock::now();
  v3::Options options;
  {
    Database db(path, Database::Open::create);
    db.query_text("PRAGMA journal_mode = WAL");
    db.exec("PRAGMA synchronous = NORMAL");
    vitals::sqlite::migrate(db);
    int64_t open_window = std::numeric_limits<int64_t>::min();
    vitals::sqlite::head::Rows commit;
    for (size_t i = 0; i < ts.size(); ++i) {
      commit.clear();
      for (size_t s = 0; s < series.size(); ++s) commit.add(static_cast<int64_t>(s + 1), ts[i], series[s].values[i]);
      vitals::sqlite::Transaction tx(db);
      v3::append_head(db, commit, options);
      tx.commit();
      const int64_t window = ts[i] - ((ts[i] % options.span_ns) + options.span_ns) % options.span_ns;
      if (window != open_window) {
        v3::seal(db, ts[i], options);
        open_window = window;
      }
    }
    v3::seal(db, ts.back() + options.span_ns, options);  // the last window too
    db.query_text("PRAGMA wal_checkpoint(TRUNCATE)");
    auto bytes_of = [&](const char *table) {
      return static_cast<double>(
          db.query_int(std::string("SELECT sum(pgsize) FROM dbstat WHERE name LIKE '") + table + "%'").value_or(0));
    };
    const double total = static_cast<double>(series.size() * ts.size());
    const auto file = static_cast<double>(std::filesystem::file_size(path));
    // The head held a whole open window before its seal: its pages are free
    // now, part of the file until a vacuum gives them back.
    const auto free_bytes = static_cast<double>(db.query_int("PRAGMA freelist_count").value_or(0) *
                                                db.query_int("PRAGMA page_size").value_or(0));
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf(
        "v3 store: %zu commits of %zu samples: file %.3f B/sample (in use %.3f: chunks %.3f, rollups %.3f, "
        "head %.3f; free %.3f); written %.2f B/sample; %.0f samples/s\n",
        ts.size(), series.size(), file / total, (file - free_bytes) / total, bytes_of("chunks") / total,
        bytes_of("rollup_chunks") / total, bytes_of("head") / total, free_bytes / total,
        static_cast<double>(write_bytes() - written_before) / total, total / secs);
  }
}

}  // namespace

int main(int argc, char **argv) {
  size_t n_series = 200;
  int64_t interval_s = 10;
  double days = 2;
  std::string prom, store_dir;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--series"))
      n_series = std::stoul(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--interval"))
      interval_s = std::stoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--days"))
      days = std::stod(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--prom"))
      prom = argv[i + 1];
    else if (!std::strcmp(argv[i], "--store"))
      store_dir = argv[i + 1];
    else
      return std::fprintf(stderr, "unknown option %s\n", argv[i]), 2;
  }
  const auto n_samples = static_cast<size_t>(days * 86400 / static_cast<double>(interval_s));
  const int64_t step_ns = interval_s * 1'000'000'000;
  // Ending at the last aligned tick before now (VictoriaMetrics keeps what
  // falls within its retention).
  const int64_t now_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  const int64_t first_ns = (now_ns / step_ns - static_cast<int64_t>(n_samples)) * step_ns;
  std::vector<int64_t> ts(n_samples);
  for (size_t i = 0; i < n_samples; ++i) ts[i] = first_ns + static_cast<int64_t>(i) * step_ns;
  const auto series = generate(n_series, n_samples);
  const double total = static_cast<double>(n_series * n_samples);
  std::printf("data %zu series x %zu samples = %.0f samples, every %llds\n", n_series, n_samples, total,
              static_cast<long long>(interval_s));

  if (!prom.empty()) {
    std::ofstream out(prom);
    char line[256];
    for (const auto &s : series)
      for (size_t i = 0; i < n_samples; ++i) {
        int len = std::snprintf(line, sizeof line, "%s %.17g %lld\n", s.name.c_str(), s.values[i],
                                static_cast<long long>(ts[i] / 1'000'000));
        out.write(line, len);
      }
  }

  for (int64_t span_s : {1800, 7200, 21600, 86400}) {
    const auto per_chunk = static_cast<size_t>(span_s / interval_s);
    for (int level : {0, 1, 3, 9, 19}) {
      chunk::EncodeOptions options{level};
      double bytes = 0, kind_bytes[kKindCount] = {}, encode_ns[3], decode_ns[3];
      for (int rep = 0; rep < 3; ++rep) {
        std::vector<std::string> blobs;
        auto t0 = std::chrono::steady_clock::now();
        for (const auto &s : series)
          for (size_t at = 0; at < n_samples; at += per_chunk) {
            const size_t n = std::min(per_chunk, n_samples - at);
            blobs.push_back(chunk::encode({ts.data() + at, n}, {s.values.data() + at, n}, options));
          }
        auto t1 = std::chrono::steady_clock::now();
        chunk::Samples decoded;
        std::string error;
        size_t decoded_samples = 0;
        for (const auto &b : blobs) {
          if (!chunk::decode(b, decoded, error)) return std::fprintf(stderr, "%s\n", error.c_str()), 1;
          decoded_samples += decoded.ts.size();
        }
        auto t2 = std::chrono::steady_clock::now();
        if (decoded_samples != n_series * n_samples) return std::fprintf(stderr, "sample count mismatch\n"), 1;
        encode_ns[rep] = std::chrono::duration<double, std::nano>(t1 - t0).count() / total;
        decode_ns[rep] = std::chrono::duration<double, std::nano>(t2 - t1).count() / total;
        if (rep == 0) {
          size_t k = 0;
          for (const auto &s : series)
            for (size_t at = 0; at < n_samples; at += per_chunk, ++k) {
              bytes += static_cast<double>(blobs[k].size());
              kind_bytes[s.kind] += static_cast<double>(blobs[k].size());
            }
        }
      }
      std::printf("span %6llds (%5zu samples) zstd %2d: %.3f B/sample;", static_cast<long long>(span_s), per_chunk,
                  level, bytes / total);
      for (size_t k = 0; k < kKindCount; ++k)
        std::printf(" %s %.3f", kKinds[k], kind_bytes[k] / (total / static_cast<double>(kKindCount)));
      std::printf("; encode %.1f ns, decode %.1f ns a sample\n", median3(encode_ns[0], encode_ns[1], encode_ns[2]),
                  median3(decode_ns[0], decode_ns[1], decode_ns[2]));
    }
  }
  if (!store_dir.empty()) store(store_dir, series, ts);
  return 0;
}
