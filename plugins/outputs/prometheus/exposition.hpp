// The Prometheus text exposition format 0.0.4: name and label sanitising,
// escaping, and the page (families sorted, HELP/TYPE, histograms grouped).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vitals::prometheus {

// [a-zA-Z_:][a-zA-Z0-9_:]*: other characters become '_', a leading digit gets a '_' prefix.
std::string metric_name(std::string_view name);
// [a-zA-Z_][a-zA-Z0-9_]*; names starting with "__" are Prometheus's own, so
// they get a "label_" prefix.
std::string label_name(std::string_view name);
// Escapes \, " and newline; invalid UTF-8 becomes U+FFFD.
void append_label_value(std::string &out, std::string_view value);
// Shortest round-trip decimal; NaN, +Inf, -Inf as Prometheus spells them.
void append_value(std::string &out, double value);

// One series' latest sample, names already sanitised.
struct ExposedSample {
  std::string name;    // metric name
  std::string labels;  // `k="v",k2="v2"`, sorted by key; "" without labels
  std::string le;      // value of the `le` label ("" if none), for histograms
  // The labels but le, kept only where they differ from `labels`: long label
  // values must not cost their size twice per series.
  std::string labels_without_le;
  const std::string &group_labels() const { return le.empty() ? labels : labels_without_le; }
  std::string help;  // the series' original name
  int64_t ts_ns = 0;
  double value = 0;
};

// The whole page. Names ending in _total are counters; NAME_bucket (all with
// a numeric le), NAME_sum and NAME_count together form a histogram when no
// series is called NAME; everything else named *_bucket/_sum/_count is
// untyped, the rest gauges. Two samples with the same name and labels (after
// sanitising) keep the newer one.
std::string encode_page(std::vector<const ExposedSample *> samples, bool timestamps);

}  // namespace vitals::prometheus
