// Copying batches in from plugins and viewing them out to plugins.
#include "batch.hpp"

namespace vitals::core {

std::shared_ptr<Batch> Batch::copy_of(const vitals_batch_t &b) {
  auto out = std::make_shared<Batch>();
  if (b.n_samples) {
    out->series.assign(b.series, b.series + b.n_samples);
    out->ts_ns.assign(b.ts_ns, b.ts_ns + b.n_samples);
    out->values.assign(b.values, b.values + b.n_samples);
  }
  out->events.reserve(b.n_events);
  for (uint32_t i = 0; i < b.n_events; ++i) {
    const vitals_event_t &e = b.events[i];
    OwnedEvent o;
    o.ts_ns = e.ts_ns;
    o.severity = e.severity;
    o.source = e.source ? e.source : "";
    o.message = e.message ? e.message : "";
    for (uint32_t k = 0; k < e.n_labels; ++k)
      if (e.labels[k].key) o.labels.emplace_back(e.labels[k].key, e.labels[k].value ? e.labels[k].value : "");
    out->events.push_back(std::move(o));
  }
  return out;
}

BatchCView::BatchCView(const Batch &b, bool with_events) {
  view_.n_samples = static_cast<uint32_t>(b.series.size());
  view_.series = b.series.data();
  view_.ts_ns = b.ts_ns.data();
  view_.values = b.values.data();
  if (with_events && !b.events.empty()) {
    labels_.resize(b.events.size());
    events_.reserve(b.events.size());
    for (size_t i = 0; i < b.events.size(); ++i) {
      const OwnedEvent &o = b.events[i];
      for (const auto &[k, v] : o.labels) labels_[i].push_back({k.c_str(), v.c_str()});
      vitals_event_t e{};
      e.ts_ns = o.ts_ns;
      e.severity = o.severity;
      e.source = o.source.c_str();
      e.message = o.message.c_str();
      e.labels = labels_[i].data();
      e.n_labels = static_cast<uint32_t>(labels_[i].size());
      events_.push_back(e);
    }
    view_.events = events_.data();
    view_.n_events = static_cast<uint32_t>(events_.size());
  }
}

}  // namespace vitals::core
