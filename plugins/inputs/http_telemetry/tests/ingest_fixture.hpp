// Drives the parsers directly against the SDK's test host's series registry,
// reading back samples as (series text, ts, value) and counting interns.
#pragma once

#include <doctest/doctest.h>
#include <time.h>

#include <string>
#include <vector>

#include "../ingest.hpp"
#include "../json_ingest.hpp"
#include "../line_protocol.hpp"
#include "vitals/testing.hpp"

namespace vitals::http_telemetry::test {

inline constexpr int64_t kNow = 1'700'000'000'000'000'000;

// CPU time of the calling thread: throughput per core even on a busy machine.
inline double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

struct Parsed {
  std::optional<IngestError> error;
  std::vector<vitals::testing::Sample> samples;
  IngestCounts counts;
};

class Ingest {
 public:
  explicit Ingest(std::vector<vitals::Label> extra_labels = {}, size_t cache_capacity = 1024)
      : resolver_({[this](const char *name, const vitals_label_t *labels, uint32_t n) {
                     ++interns;
                     return host.table()->intern(host.table()->ctx, name, labels, n);
                   },
                   [this](vitals_series_id_t id) { return host.table()->series(host.table()->ctx, id); }},
                  std::move(extra_labels), cache_capacity) {}

  Parsed line_protocol(std::string_view body, TimePrecision precision = TimePrecision::ns) {
    return run([&](vitals::Batch &b, IngestCounts &c) {
      return parse_line_protocol(body, precision, options, resolver_, b, c);
    });
  }
  Parsed json(std::string_view body) {
    return run([&](vitals::Batch &b, IngestCounts &c) { return parse_json_telemetry(body, options, resolver_, b, c); });
  }

  vitals::testing::Host host;
  IngestOptions options{kNow, true, 100000, {}};
  size_t interns = 0;
  SeriesResolver &resolver() { return resolver_; }

 private:
  template <typename Fn>
  Parsed run(Fn fn) {
    Parsed out;
    vitals::Batch batch;
    out.error = fn(batch, out.counts);
    const vitals_batch_t &v = batch.view();
    for (uint32_t i = 0; i < v.n_samples; ++i)
      out.samples.push_back({host.series_text(v.series[i]), v.ts_ns[i], v.values[i]});
    return out;
  }
  SeriesResolver resolver_;
};

// Checks the exact samples of a successful parse, in order.
inline void expect_samples(const Parsed &p, const std::vector<vitals::testing::Sample> &expected) {
  REQUIRE_MESSAGE(!p.error, (p.error ? p.error->json() : ""));
  REQUIRE(p.samples.size() == expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    INFO("sample " << i);
    CHECK(p.samples[i].series == expected[i].series);
    CHECK(p.samples[i].ts_ns == expected[i].ts_ns);
    CHECK(p.samples[i].value == expected[i].value);
  }
}

// Checks a refusal: status, a part of the message, and where.
inline void expect_error(const Parsed &p, const std::string &message_part, size_t line, size_t column,
                         int status = 400) {
  REQUIRE(p.error);
  INFO(p.error->json());
  CHECK(p.error->status == status);
  CHECK(p.error->message.find(message_part) != std::string::npos);
  CHECK(p.error->line == line);
  CHECK(p.error->column == column);
}

inline void expect_path_error(const Parsed &p, const std::string &message, const std::string &path) {
  REQUIRE(p.error);
  INFO(p.error->json());
  CHECK(p.error->status == 400);
  CHECK(p.error->message == message);
  CHECK(p.error->path == path);
}

}  // namespace vitals::http_telemetry::test
