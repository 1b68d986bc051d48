// Batches, labels and status replies on the wire (wire.hpp).
#include "wire.hpp"

namespace vitals::core::isolate {

namespace {
// Every string a peer sends becomes one the other side hands a plugin as a
// C string: kept NUL-terminated in a deque that never moves it.
const char *keep(std::deque<std::string> &strings, std::string_view s) { return strings.emplace_back(s).c_str(); }
}  // namespace

void write_labels(WireWriter &w, const vitals_label_t *labels, uint32_t n) {
  w.put(n);
  for (uint32_t i = 0; i < n; ++i) w.cstr(labels[i].key).cstr(labels[i].value);
}

void write_batch(WireWriter &w, const vitals_batch_t &batch) {
  w.reserve(w.size() + 8 + size_t{batch.n_samples} * 24 + size_t{batch.n_events} * 64);
  w.put(batch.n_samples).put(batch.n_events);
  w.array(batch.series, batch.n_samples).array(batch.ts_ns, batch.n_samples).array(batch.values, batch.n_samples);
  for (uint32_t i = 0; i < batch.n_events; ++i) {
    const vitals_event_t &e = batch.events[i];
    w.put(e.ts_ns).put(e.severity).cstr(e.source).cstr(e.message);
    write_labels(w, e.labels, e.n_labels);
  }
}

WireBatch::WireBatch(WireReader &r) {
  auto n_samples = r.get<uint32_t>();
  auto n_events = r.get<uint32_t>();
  view_.series = r.array(series_, n_samples);
  view_.ts_ns = r.array(ts_ns_, n_samples);
  view_.values = r.array(values_, n_samples);
  // Labels first into one array, then each event points at its slice: the
  // array stops growing before any pointer into it is taken.
  std::vector<std::pair<size_t, uint32_t>> slices;
  for (uint32_t i = 0; i < n_events; ++i) {
    vitals_event_t e{};
    e.ts_ns = r.get<int64_t>();
    e.severity = r.get<int32_t>();
    e.source = keep(strings_, r.str());
    e.message = keep(strings_, r.str());
    e.n_labels = r.get<uint32_t>();
    slices.emplace_back(labels_.size(), e.n_labels);
    for (uint32_t j = 0; j < e.n_labels; ++j) {
      const char *key = keep(strings_, r.str());
      labels_.push_back({key, keep(strings_, r.str())});
    }
    events_.push_back(e);
  }
  for (size_t i = 0; i < events_.size(); ++i) events_[i].labels = labels_.data() + slices[i].first;
  view_.n_samples = n_samples;
  view_.n_events = n_events;
  view_.events = events_.data();
}

WireLabels::WireLabels(WireReader &r) {
  auto n = r.get<uint32_t>();
  for (uint32_t i = 0; i < n; ++i) {
    const char *key = keep(strings_, r.str());
    labels_.push_back({key, keep(strings_, r.str())});
  }
}

std::string status_reply(int status, std::string_view error) {
  WireWriter w;
  w.put<int32_t>(status).str(error);
  return w.take();
}

std::pair<int, std::string> read_status_reply(std::string_view body) {
  WireReader r(body);
  int status = r.get<int32_t>();
  return {status, std::string(r.str())};
}

}  // namespace vitals::core::isolate
