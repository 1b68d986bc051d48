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

std::unique_ptr<RingEvent> RingEvent::samples(uint64_t id, const BatchView &batch, size_t begin, size_t end) {
  std::unique_ptr<RingEvent> e(new RingEvent(id));
  const vitals_batch_t &b = batch.raw();
  e->series_.assign(b.series + begin, b.series + end);
  e->ts_ns_.assign(b.ts_ns + begin, b.ts_ns + end);
  e->values_.assign(b.values + begin, b.values + end);
  e->bytes_ += (end - begin) * (sizeof(SeriesId) + sizeof(int64_t) + sizeof(double));
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
  e->bytes_ += out.size();
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
  if (frames_.size() < max_cached_frames) {
    frames_.emplace_back(sub.text(), out.substr(start));
    bytes_ += sub.text().size() + (out.size() - start);
  }
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

namespace {

// "id: 18446744073709551615\nevent: samples\ndata: {\"samples\":[" and "]}\n\n".
constexpr size_t samples_frame_overhead = 64;

// An upper bound of one sample's bytes in a samples frame: every
// subscription's frame holds a subset of the batch's samples.
size_t sample_bytes_bound(const Host &host, SeriesId id, std::string &scratch) {
  const vitals_series_t *s = host.series(id);
  scratch.clear();
  json::append_string(scratch, s && s->text ? s->text : "");
  // {"series":<text>,"ts":<int64>,"value":<double>}, and a comma.
  return scratch.size() + 64;
}

}  // namespace

void ReplayRing::push(std::unique_ptr<RingEvent> event, std::vector<RingEvent *> &added) {
  bytes_ += event->bytes();
  added.push_back(event.get());
  ring_.push_back(std::move(event));
}

std::vector<RingEvent *> ReplayRing::add(const Host &host, const BatchView &batch) {
  std::vector<RingEvent *> added;
  const vitals_batch_t &b = batch.raw();
  std::string scratch;
  size_t begin = 0, frame_bytes = samples_frame_overhead;
  for (size_t i = 0; i < b.n_samples; ++i) {
    size_t sample_bytes = sample_bytes_bound(host, b.series[i], scratch);
    if (i > begin && frame_bytes + sample_bytes > max_frame_bytes_) {
      push(RingEvent::samples(next_id_++, batch, begin, i), added);
      begin = i;
      frame_bytes = samples_frame_overhead;
    }
    frame_bytes += sample_bytes;
  }
  if (b.n_samples > begin) push(RingEvent::samples(next_id_++, batch, begin, b.n_samples), added);
  for (size_t i = 0; i < batch.event_count(); ++i) push(RingEvent::event(next_id_++, batch.event(i)), added);
  return added;
}

bool ReplayRing::append_frame(RingEvent &event, const Host &host, Subscription &sub, std::string &out) {
  size_t before = event.bytes();
  bool appended = event.append_frame(host, sub, out);
  bytes_ += event.bytes() - before;
  return appended;
}

void ReplayRing::trim() {
  while (!ring_.empty() && (ring_.size() > capacity_ || bytes_ > capacity_bytes_)) {
    bytes_ -= ring_.front()->bytes();
    ring_.pop_front();
  }
}

}  // namespace vitals::sse
