// The core's own batch: owned, immutable once routed, shared by every
// consumer it fans out to (no copy per consumer).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "vitals/plugin.h"

namespace vitals::core {

struct OwnedEvent {
  int64_t ts_ns = 0;
  int32_t severity = VITALS_SEVERITY_INFO;
  std::string source, message;
  std::vector<std::pair<std::string, std::string>> labels;
};

struct Batch {
  std::vector<vitals_series_id_t> series;
  std::vector<int64_t> ts_ns;
  std::vector<double> values;
  std::vector<OwnedEvent> events;

  size_t samples() const { return series.size(); }
  // What a batch costs in a queue: samples plus events.
  size_t weight() const { return series.size() + events.size(); }
  bool empty() const { return series.empty() && events.empty(); }

  static std::shared_ptr<Batch> copy_of(const vitals_batch_t &b);
};

using BatchPtr = std::shared_ptr<const Batch>;

// A C view of a Batch for handing to a plugin; owns the event arrays.
// Without events, the view shows the samples only (a processor whose events
// pass through).
class BatchCView {
 public:
  explicit BatchCView(const Batch &b, bool with_events = true);
  const vitals_batch_t *get() const { return &view_; }

 private:
  vitals_batch_t view_{};
  std::vector<vitals_event_t> events_;
  std::vector<std::vector<vitals_label_t>> labels_;
};

}  // namespace vitals::core
