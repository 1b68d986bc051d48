// What the two http_telemetry targets share: options picked by the input's
// first byte, a deterministic interner, and the oracle that parsing the same
// body twice through one resolver (the second time from its cache, partly
// evicted) gives the same samples and the same error.
//
// First byte: bits 0-1 precision (ns, us, ms, s; line protocol only), bit 2
// sanitize_names off, bit 3 a configured extra label, bit 4 tight limits
// (3 labels, 16-byte names and values, 5 samples). ' ' (0x20) is all
// defaults, so seed files are a space followed by the body.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "../../plugins/inputs/http_telemetry/ingest.hpp"
#include "vitals/time_parse.hpp"

namespace vitals::fuzz {

struct TelemetryCase {
  TimePrecision precision = TimePrecision::ns;
  http_telemetry::IngestOptions options;
  std::vector<vitals::Label> extra_labels;
  std::string_view body;
};

inline TelemetryCase telemetry_case(const uint8_t *data, size_t size) {
  TelemetryCase c;
  c.options.now_ns = 1'700'000'000'000'000'000;
  if (size == 0) return c;
  uint8_t flags = data[0];
  static constexpr TimePrecision precisions[] = {TimePrecision::ns, TimePrecision::us, TimePrecision::ms,
                                                 TimePrecision::s};
  c.precision = precisions[flags & 3];
  c.options.sanitize_names = (flags & 4) == 0;
  if (flags & 8) c.extra_labels = {{"host", "fuzz"}};
  if (flags & 16) {
    c.options.max_samples = 5;
    c.options.limits = {3, 16, 16};
  }
  c.body = std::string_view(reinterpret_cast<const char *>(data) + 1, size - 1);
  return c;
}

// The host's registry, deterministic: the same series always gets the same
// id, and series named "refused..." are refused (the host's error path).
class FuzzInterner {
 public:
  vitals_series_id_t intern(const char *name, const vitals_label_t *labels, uint32_t n) {
    if (std::string_view(name).starts_with("refused")) return 0;
    std::vector<std::pair<std::string, std::string>> sorted;
    for (uint32_t i = 0; i < n; ++i) sorted.emplace_back(labels[i].key, labels[i].value);
    std::sort(sorted.begin(), sorted.end());
    std::string key(name);
    for (const auto &[k, v] : sorted) key += '\0' + k + '\0' + v;
    auto [it, added] = ids_.try_emplace(std::move(key), series_.size() + 1);
    if (added) {
      auto entry = std::make_unique<Entry>();
      entry->name = name;
      entry->labels = std::move(sorted);
      for (const auto &[k, v] : entry->labels) entry->c_labels.push_back({k.c_str(), v.c_str()});
      entry->c.id = it->second;
      entry->c.name = entry->name.c_str();
      entry->c.labels = entry->c_labels.data();
      entry->c.n_labels = static_cast<uint32_t>(entry->c_labels.size());
      series_.push_back(std::move(entry));
    }
    return it->second;
  }
  const vitals_series_t *series(vitals_series_id_t id) const {
    return id >= 1 && id <= series_.size() ? &series_[id - 1]->c : nullptr;
  }

 private:
  struct Entry {
    std::string name;
    std::vector<std::pair<std::string, std::string>> labels;
    std::vector<vitals_label_t> c_labels;
    vitals_series_t c{};
  };
  std::map<std::string, vitals_series_id_t> ids_;
  std::vector<std::unique_ptr<Entry>> series_;
};

struct TelemetryResult {
  std::optional<http_telemetry::IngestError> error;
  std::vector<vitals_series_id_t> series;
  std::vector<int64_t> ts;
  std::vector<double> values;
  http_telemetry::IngestCounts counts;
};

inline void check_same(const TelemetryResult &a, const TelemetryResult &b) {
  bool same = a.error.has_value() == b.error.has_value() && a.series == b.series && a.ts == b.ts &&
              a.counts.samples == b.counts.samples && a.counts.string_fields_skipped == b.counts.string_fields_skipped;
  if (same && a.error) same = a.error->json() == b.error->json();
  if (same) {
    for (size_t i = 0; i < a.values.size(); ++i) {
      // NaN never equals itself; compare bits of the rest.
      bool both_nan = a.values[i] != a.values[i] && b.values[i] != b.values[i];
      if (!both_nan && a.values[i] != b.values[i]) same = false;
    }
  }
  if (!same) {
    std::fprintf(stderr, "parsing the same body twice gave different results (the series cache?)\n");
    std::abort();
  }
}

// Runs parse(options, resolver, batch, counts) twice through one resolver
// with a small cache and checks both runs agree.
template <typename Parse>
void run_telemetry(const TelemetryCase &c, Parse parse) {
  FuzzInterner interner;
  http_telemetry::SeriesResolver resolver({[&interner](const char *name, const vitals_label_t *labels, uint32_t n) {
                                             return interner.intern(name, labels, n);
                                           },
                                           [&interner](vitals_series_id_t id) { return interner.series(id); }},
                                          c.extra_labels, 8);
  TelemetryResult runs[2];
  for (auto &r : runs) {
    vitals::Batch batch;
    r.error = parse(c.options, resolver, batch, r.counts);
    if (r.error) {
      (void)r.error->json();
      // 400 malformed, 413 too many samples, 503 the host refused a series (its limit).
      int status = r.error->status;
      if (status != 400 && status != 413 && status != 503) std::abort();
      continue;
    }
    const vitals_batch_t &v = batch.view();
    if (v.n_samples > c.options.max_samples) std::abort();
    r.series.assign(v.series, v.series + v.n_samples);
    r.ts.assign(v.ts_ns, v.ts_ns + v.n_samples);
    r.values.assign(v.values, v.values + v.n_samples);
    for (auto id : r.series)
      if (id == 0) std::abort();
  }
  check_same(runs[0], runs[1]);
}

}  // namespace vitals::fuzz
