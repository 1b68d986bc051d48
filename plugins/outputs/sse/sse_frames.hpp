// The wire format of the sse output (text/event-stream frames) and the replay
// ring: the last events, each encoded at most once per distinct match.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "vitals/plugin.hpp"
#include "vitals/selector.hpp"

namespace vitals::sse {

// What a client's ?match= selects; shared by every client with the same text.
class Subscription {
 public:
  Subscription(std::string text, Selector selector) : text_(std::move(text)), selector_(std::move(selector)) {}
  const std::string &text() const { return text_; }
  bool matches(const Host &host, SeriesId id);

 private:
  static constexpr size_t max_memo_entries = 100'000;
  std::string text_;
  Selector selector_;
  std::unordered_map<SeriesId, bool> memo_;  // the regexes run once per series
};

// One SSE event: samples [begin, end) of a batch (filtered per subscription)
// or one vitals event (the same for every client).
class RingEvent {
 public:
  static std::unique_ptr<RingEvent> samples(uint64_t id, const BatchView &batch, size_t begin, size_t end);
  static std::unique_ptr<RingEvent> event(uint64_t id, const vitals_event_t &event);

  uint64_t id() const { return id_; }
  // Memory this event holds: its samples and every frame cached for it.
  size_t bytes() const { return bytes_; }
  // Appends this event as sub sees it; false (nothing appended) if no sample matches.
  bool append_frame(const Host &host, Subscription &sub, std::string &out);

 private:
  static constexpr size_t max_cached_frames = 16;
  explicit RingEvent(uint64_t id) : id_(id) {}
  void encode_samples(const Host &host, Subscription &sub, std::string &out) const;

  uint64_t id_;
  size_t bytes_ = sizeof(RingEvent);
  bool is_event_ = false;
  std::string event_frame_;
  std::vector<SeriesId> series_;
  std::vector<int64_t> ts_ns_;
  std::vector<double> values_;
  std::vector<std::pair<std::string, std::string>> frames_;  // match text -> frame ("" = none)
};

// `event: reset`, sent before a replay that cannot be complete.
std::string reset_frame(const char *reason, uint64_t oldest_id);

// The last events, ids contiguous, at most `capacity` of them holding at most
// `capacity_bytes` (frames cached for them included). A batch whose frame
// could exceed `max_frame_bytes` becomes several events (one sample at least
// each), so that no frame outgrows a client's buffer.
class ReplayRing {
 public:
  ReplayRing(size_t capacity, size_t capacity_bytes, size_t max_frame_bytes)
      : capacity_(capacity), capacity_bytes_(capacity_bytes), max_frame_bytes_(max_frame_bytes) {}
  uint64_t next_id() const { return next_id_; }
  // The oldest id still held (next_id() when empty).
  uint64_t oldest_id() const { return ring_.empty() ? next_id_ : ring_.front()->id(); }
  // Takes a batch: returns its events (for the live broadcast), kept in the ring.
  std::vector<RingEvent *> add(const Host &host, const BatchView &batch);
  // RingEvent::append_frame for an event of this ring, counting the frame it
  // may cache against capacity_bytes.
  bool append_frame(RingEvent &event, const Host &host, Subscription &sub, std::string &out);
  // Drops what exceeds the capacities (after the live broadcast used it).
  void trim();
  // Every event with an id above last_id, oldest first.
  template <typename Fn>
  void for_each_after(uint64_t last_id, Fn &&fn) {
    uint64_t oldest = oldest_id();
    size_t start = last_id < oldest ? 0 : static_cast<size_t>(last_id - oldest + 1);
    for (size_t i = start; i < ring_.size(); ++i) fn(*ring_[i]);
  }
  size_t size() const { return ring_.size(); }
  size_t bytes() const { return bytes_; }

 private:
  void push(std::unique_ptr<RingEvent> event, std::vector<RingEvent *> &added);

  size_t capacity_;
  size_t capacity_bytes_;
  size_t max_frame_bytes_;
  size_t bytes_ = 0;
  uint64_t next_id_ = 1;
  std::deque<std::unique_ptr<RingEvent>> ring_;
};

}  // namespace vitals::sse
