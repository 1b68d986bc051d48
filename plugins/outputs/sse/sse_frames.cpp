// SSE frames and the replay ring of the sse output.
#include "sse_frames.hpp"

#include <span>

#include "vitals/json_writer.hpp"

namespace vitals::sse {

namespace {

void append_head(std::string &out, uint64_t id, const char *type) {
  out += "id: ";
  out += std::to_string(id);
  out += "\nevent: ";
  out += type;
  out += "\ndata: ";
}

}  // namespace

bool Subscription::matches(const Host &host, SeriesId id) {
  if (selector_.matches_everything()) return true;
  if (auto it = memo_.find(id); it != memo_.end()) return it->second;
  const vitals_series_t *s = host.series(id);
  bool match = s && selector_.matches(s->name, std::span<const vitals_label_t>(s->labels, s->n_labels));
  if (memo_.size() >= max_memo_entries) memo_.clear();
  memo_.emplace(id, match);
  return match;
}

std::unique_ptr<RingEvent> RingEvent::samples(uint64_t id, const BatchView &batch) {
  std::unique_ptr<RingEvent> e(new RingEvent(id));
  const vitals_batch_t &b = batch.raw();
  e->series_.assign(b.series, b.series + b.n_samples);
  e->ts_ns_.assign(b.ts_ns, b.ts_ns + b.n_samples);
  e->values_.assign(b.values, b.values + b.n_samples);
  return e;
}

std::unique_ptr<RingEvent> RingEvent::event(uint64_t id, const vitals_event_t &ev) {
  std::unique_ptr<RingEvent> e(new RingEvent(id));
  e->is_event_ = true;
  std::string &out = e->event_frame_;
  append_head(out, id, "event");
  out += "{\"ts\":";
  json::append_int(out, ev.ts_ns);
  out += ',';
  json::append_event_fields(out, vitals::severity_name(ev.severity), ev);
  out += "}\n\n";
  return e;
}

void RingEvent::encode_samples(const Host &host, Subscription &sub, std::string &out) const {
  size_t start = out.size();
  bool any = false;
  for (size_t i = 0; i < series_.size(); ++i) {
    if (!sub.matches(host, series_[i])) continue;
    const vitals_series_t *s = host.series(series_[i]);
    if (!s) continue;
    if (!any) {
      append_head(out, id_, "samples");
      out += "{\"samples\":[";
      any = true;
    } else {
      out += ',';
    }
    out += "{\"series\":";
    json::append_string(out, s->text ? s->text : "");
    out += ",\"ts\":";
    json::append_int(out, ts_ns_[i]);
    out += ",\"value\":";
    json::append_double(out, values_[i]);
    out += '}';
  }
  if (any)
    out += "]}\n\n";
  else
    out.resize(start);
}

bool RingEvent::append_frame(const Host &host, Subscription &sub, std::string &out) {
  if (is_event_) {
    out += event_frame_;
    return true;
  }
  for (const auto &[text, frame] : frames_) {
    if (text != sub.text()) continue;
    out += frame;
    return !frame.empty();
  }
  size_t start = out.size();
  encode_samples(host, sub, out);
  if (frames_.size() < max_cached_frames) frames_.emplace_back(sub.text(), out.substr(start));
  return out.size() > start;
}

std::string reset_frame(const char *reason, uint64_t oldest_id) {
  std::string out = "event: reset\ndata: {\"reason\":";
  json::append_string(out, reason);
  out += ",\"oldest_id\":";
  out += std::to_string(oldest_id);
  out += "}\n\n";
  return out;
}

std::vector<RingEvent *> ReplayRing::add(const BatchView &batch) {
  std::vector<RingEvent *> added;
  if (batch.size() > 0) {
    ring_.push_back(RingEvent::samples(next_id_++, batch));
    added.push_back(ring_.back().get());
  }
  for (size_t i = 0; i < batch.event_count(); ++i) {
    ring_.push_back(RingEvent::event(next_id_++, batch.event(i)));
    added.push_back(ring_.back().get());
  }
  return added;
}

void ReplayRing::trim() {
  while (ring_.size() > capacity_) ring_.pop_front();
}

}  // namespace vitals::sse
