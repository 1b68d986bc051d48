// The messages between the agent and an isolated plugin's process: a frame is
// [u32 length of the rest][u8 type][u64 call id][body]. Both ends are the same
// `vitals` image (the child is re-executed from /proc/self/exe, which is the
// running image even when the file was replaced), so numbers travel in native
// byte order and layout. The INIT message carries a protocol version all the
// same: a cheap guard should the child ever come from another binary.
#pragma once

#include <cstdint>
#include <cstring>
#include <deque>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "vitals/plugin.h"

namespace vitals::core::isolate {

inline constexpr uint32_t kProtocolVersion = 2;
// Larger frames are a broken or hostile peer, not data: the channel closes.
inline constexpr uint32_t kMaxFrameBytes = 256u << 20;
// u8 type + u64 call id.
inline constexpr size_t kFrameHeaderBytes = 9;
// How far the plugin's process may run ahead with emits the agent has not
// passed on yet (frame body bytes): within it an emit is one-way and costs
// no round trip; beyond it an emit waits for its answer. Bounds what the
// agent holds for one isolated plugin when its pipeline cannot keep up.
inline constexpr int64_t kEmitWindowBytes = 4 << 20;
// The agent gives credit back once this much has been passed on: one small
// frame per megabyte emitted.
inline constexpr int64_t kCreditGrainBytes = 1 << 20;

enum class Msg : uint8_t {
  reply = 1,  // the answer to the call with the same id (either direction)
  // agent -> plugin process; calls (each answered by a reply) but `ack`
  init,     // load the plugin and create the instance
  start,    // the plugin's start()
  stop,     // the plugin's stop()
  destroy,  // the plugin's destroy(), then the process exits
  collect,  // collect(now_ns)
  consume,  // consume(batch, token)
  flush,    // flush()
  stats,    // stats(): every value it visits
  ack,      // one-way: an emit's acknowledgement (the emit's id, status, error)
  credit,   // one-way: bytes of one-way emits passed on (u64): the process may emit that much more
  // plugin process -> agent: the core table's functions; calls but the one-way
  // complete, log and metric_update, and emit, which is one-way (id 0)
  // within the credit the agent gave and a call beyond it
  intern,
  series,
  emit,
  complete,
  log,
  metric,
  metric_update,
};

struct WireError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Appends values to a frame body.
class WireWriter {
 public:
  template <typename T>
  WireWriter &put(T value) {
    static_assert(std::is_trivially_copyable_v<T>);
    out_.append(reinterpret_cast<const char *>(&value), sizeof value);
    return *this;
  }
  WireWriter &str(std::string_view s) {
    put(static_cast<uint32_t>(s.size()));
    out_.append(s.data(), s.size());
    return *this;
  }
  WireWriter &cstr(const char *s) { return str(s ? std::string_view(s) : std::string_view()); }
  template <typename T>
  WireWriter &array(const T *data, size_t n) {
    static_assert(std::is_trivially_copyable_v<T>);
    if (n) out_.append(reinterpret_cast<const char *>(data), n * sizeof(T));
    return *this;
  }
  std::string take() { return std::move(out_); }
  // For a writer kept across messages (one per thread): its buffer's pages
  // stay mapped, where a fresh one of a few hundred KiB would fault them in
  // again each time.
  void clear() { out_.clear(); }
  void reserve(size_t n) { out_.reserve(n); }
  size_t size() const { return out_.size(); }
  std::string_view view() const { return out_; }

 private:
  std::string out_;
};

// Reads a frame body; any read past its end throws WireError.
class WireReader {
 public:
  explicit WireReader(std::string_view body) : in_(body) {}
  template <typename T>
  T get() {
    static_assert(std::is_trivially_copyable_v<T>);
    T value;
    std::memcpy(&value, need(sizeof value), sizeof value);
    return value;
  }
  std::string_view str() {
    auto n = get<uint32_t>();
    return {need(n), n};
  }
  // n values of T, in place when the body holds them aligned (a frame's
  // body is a heap buffer and arrays follow 8-byte fields), else copied
  // into `copy`.
  template <typename T>
  const T *array(std::vector<T> &copy, size_t n) {
    if (n > in_.size() / sizeof(T)) throw WireError("truncated array");
    const char *p = need(n * sizeof(T));
    if (reinterpret_cast<uintptr_t>(p) % alignof(T) == 0) return reinterpret_cast<const T *>(p);
    copy.resize(n);
    if (n) std::memcpy(copy.data(), p, n * sizeof(T));
    return copy.data();
  }

 private:
  const char *need(size_t n) {
    if (n > in_.size()) throw WireError("truncated message");
    const char *p = in_.data();
    in_.remove_prefix(n);
    return p;
  }
  std::string_view in_;
};

// Labels on the wire: u32 count, then key and value of each.
void write_labels(WireWriter &w, const vitals_label_t *labels, uint32_t n);
void write_batch(WireWriter &w, const vitals_batch_t &batch);

// A batch read off the wire, with the C view a plugin (or the host's emit)
// takes. Its sample arrays point into the frame's body where they are
// aligned (the body must outlive it); its strings are its own.
class WireBatch {
 public:
  explicit WireBatch(WireReader &r);
  const vitals_batch_t *view() const { return &view_; }

 private:
  std::vector<vitals_series_id_t> series_;
  std::vector<int64_t> ts_ns_;
  std::vector<double> values_;
  std::deque<std::string> strings_;  // a deque: pointers into it stay put
  std::vector<vitals_label_t> labels_;
  std::vector<vitals_event_t> events_;
  vitals_batch_t view_{};
};

// Labels read off the wire, with their own storage.
class WireLabels {
 public:
  explicit WireLabels(WireReader &r);
  const vitals_label_t *data() const { return labels_.data(); }
  uint32_t size() const { return static_cast<uint32_t>(labels_.size()); }

 private:
  std::deque<std::string> strings_;
  std::vector<vitals_label_t> labels_;
};

// The reply to a call that answers with a status (and the error text of a
// VITALS_ERROR).
std::string status_reply(int status, std::string_view error = {});
std::pair<int, std::string> read_status_reply(std::string_view body);

}  // namespace vitals::core::isolate
