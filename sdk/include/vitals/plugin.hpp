// Header-only C++ layer over the C ABI in plugin.h. A plugin derives from
// vitals::Input, PushInput, Processor, Storage, Output or Optimizer and ends
// its source with VITALS_PLUGIN(Class, "name", "1.0", "description").
//
// The macro generates the one exported symbol and C trampolines that trap
// every exception into the instance's last-error text: nothing thrown ever
// crosses into the host. Optional members are detected at compile time:
//   static constexpr auto schema = vitals::settings<Settings>(...);  (vitals/settings.hpp)
//   static constexpr vitals_config_field_t config_fields[] = {...};   (raw rows instead)
//   static constexpr const char *sample_config = "...";
//   static constexpr uint64_t flags = VITALS_FLAG_...;
#pragma once

#include <cjson/cJSON.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "vitals/plugin.h"

namespace vitals {

using SeriesId = vitals_series_id_t;

enum class Status : int { ok = VITALS_OK, pending = VITALS_PENDING, error = VITALS_ERROR };

enum class LogLevel : int {
  error = VITALS_LOG_ERROR,
  warn = VITALS_LOG_WARN,
  info = VITALS_LOG_INFO,
  debug = VITALS_LOG_DEBUG
};

struct Label {
  std::string key;
  std::string value;
};

// "info", "warning", "critical", "emergency" (what outputs write).
inline const char *severity_name(int32_t severity) {
  switch (severity) {
    case VITALS_SEVERITY_INFO:
      return "info";
    case VITALS_SEVERITY_WARNING:
      return "warning";
    case VITALS_SEVERITY_CRITICAL:
      return "critical";
    case VITALS_SEVERITY_EMERGENCY:
      return "emergency";
    default:
      return "unknown";
  }
}

class BatchView;

// Builds a batch to emit. Owns its storage; view() borrows it.
class Batch {
 public:
  void add(SeriesId series, int64_t ts_ns, double value) {
    series_.push_back(series);
    ts_.push_back(ts_ns);
    values_.push_back(value);
  }
  void add_event(int64_t ts_ns, vitals_severity_t severity, std::string source, std::string message,
                 std::vector<Label> labels = {}) {
    events_.push_back({ts_ns, severity, std::move(source), std::move(message), std::move(labels)});
  }
  // Copies an event unchanged (a processor that owns events passing one on).
  void add_event(const vitals_event_t &e) {
    std::vector<Label> labels;
    labels.reserve(e.n_labels);
    for (uint32_t k = 0; k < e.n_labels; ++k)
      if (e.labels[k].key) labels.push_back({e.labels[k].key, e.labels[k].value ? e.labels[k].value : ""});
    add_event(e.ts_ns, static_cast<vitals_severity_t>(e.severity), e.source ? e.source : "", e.message ? e.message : "",
              std::move(labels));
  }
  // Copies every event of a consumed batch unchanged.
  inline void add_events(const BatchView &batch);
  size_t size() const { return series_.size(); }
  SeriesId series(size_t i) const { return series_[i]; }
  // Gives sample i another series: a placeholder id replaced once interned.
  void set_series(size_t i, SeriesId series) { series_[i] = series; }
  size_t event_count() const { return events_.size(); }
  bool empty() const { return series_.empty() && events_.empty(); }
  void clear() {
    series_.clear();
    ts_.clear();
    values_.clear();
    events_.clear();
  }
  void reserve(size_t n) {
    series_.reserve(n);
    ts_.reserve(n);
    values_.reserve(n);
  }

  // A C view of this batch, valid until the batch is next modified.
  const vitals_batch_t &view() {
    c_events_.clear();
    c_labels_.clear();
    c_labels_.resize(events_.size());
    for (size_t i = 0; i < events_.size(); ++i) {
      for (const auto &l : events_[i].labels) c_labels_[i].push_back({l.key.c_str(), l.value.c_str()});
      vitals_event_t e{};
      e.ts_ns = events_[i].ts_ns;
      e.severity = events_[i].severity;
      e.source = events_[i].source.c_str();
      e.message = events_[i].message.c_str();
      e.labels = c_labels_[i].data();
      e.n_labels = static_cast<uint32_t>(c_labels_[i].size());
      c_events_.push_back(e);
    }
    view_ = vitals_batch_t{};
    view_.n_samples = static_cast<uint32_t>(series_.size());
    view_.series = series_.data();
    view_.ts_ns = ts_.data();
    view_.values = values_.data();
    view_.n_events = static_cast<uint32_t>(c_events_.size());
    view_.events = c_events_.data();
    return view_;
  }

 private:
  struct Event {
    int64_t ts_ns;
    vitals_severity_t severity;
    std::string source, message;
    std::vector<Label> labels;
  };
  std::vector<SeriesId> series_;
  std::vector<int64_t> ts_;
  std::vector<double> values_;
  std::vector<Event> events_;
  std::vector<vitals_event_t> c_events_;
  std::vector<std::vector<vitals_label_t>> c_labels_;
  vitals_batch_t view_{};
};

// A borrowed batch handed to consume().
class BatchView {
 public:
  explicit BatchView(const vitals_batch_t &b) : b_(b) {}
  size_t size() const { return b_.n_samples; }
  SeriesId series(size_t i) const { return b_.series[i]; }
  int64_t ts_ns(size_t i) const { return b_.ts_ns[i]; }
  double value(size_t i) const { return b_.values[i]; }
  size_t event_count() const { return b_.n_events; }
  const vitals_event_t &event(size_t i) const { return b_.events[i]; }
  const vitals_batch_t &raw() const { return b_; }

 private:
  const vitals_batch_t &b_;
};

inline void Batch::add_events(const BatchView &batch) {
  for (size_t i = 0; i < batch.event_count(); ++i) add_event(batch.event(i));
}

// A self-metric handle; update() adds (counter), sets (gauge) or observes.
class Metric {
 public:
  Metric() = default;
  Metric(const vitals_host_t *host, vitals_metric_t *m) : host_(host), m_(m) {}
  void update(double value) const {
    if (m_) host_->metric_update(m_, value);
  }

 private:
  const vitals_host_t *host_ = nullptr;
  vitals_metric_t *m_ = nullptr;
};

// A handle to answer one storage query (the host's half of vitals.storage).
class Reply {
 public:
  Reply(const vitals_storage_host_service_t *service, vitals_reply_t *r) : service_(service), r_(r) {}
  void send(int http_status, std::string_view content_type, std::string_view body) const {
    service_->reply(r_, http_status, std::string(content_type).c_str(), body.data(), body.size());
  }

 private:
  const vitals_storage_host_service_t *service_;
  vitals_reply_t *r_;
};

// Thrown when the host lacks a service the plugin asked for: an agent older
// than the plugin, or one without that part (a test host without HTTP).
class ServiceUnavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One row of a config_fields schema. min and max are written as the value
// would be in TOML ("1", "0.5", "\"100ms\"", "\"64KiB\""); choices is a
// NULL-terminated array of the allowed strings.
constexpr vitals_config_field_t config_field(const char *key, vitals_config_type_t type, int required,
                                             const char *default_value, const char *description,
                                             const char *min = nullptr, const char *max = nullptr,
                                             const char *const *choices = nullptr) {
  return vitals_config_field_t{key, type, required, default_value, description, min, max, choices, {}};
}

// A required_services entry: the plugin cannot work without `name` at
// `version` or later, and the loader refuses it on an agent that lacks it.
constexpr vitals_service_ref_t require_service(const char *name, uint32_t version) {
  return vitals_service_ref_t{name, version, 0, nullptr, {}};
}

struct ComponentInfo {
  std::string id;
  vitals_kind_t kind;
  std::string plugin, version;
  uint32_t n_tunables = 0;
};

struct Tunable {
  std::string name;
  std::string description;
  double min = 0, max = 0, value = 0;
};

// The one rule of vitals.control's set_tunable, shared by the agent and the
// test host: a finite value within the declared [min, max].
inline bool tunable_accepts(double min, double max, double value) {
  return std::isfinite(value) && value >= min && value <= max;
}

// vitals.control: what an optimizer (or the `agent` input) uses to watch and
// tune the running agent. Loop thread only.
class Control {
 public:
  Control(const vitals_control_service_t *service, vitals_host_ctx_t *ctx) : s_(service), ctx_(ctx) {}

  std::vector<ComponentInfo> components() const {
    std::vector<ComponentInfo> out;
    s_->components(
        ctx_,
        [](void *user, const vitals_component_info_t *c) {
          static_cast<std::vector<ComponentInfo> *>(user)->push_back(
              {c->id, static_cast<vitals_kind_t>(c->kind), c->plugin, c->version ? c->version : "", c->n_tunables});
        },
        &out);
    return out;
  }
  // Visits every self-metric of the agent and every plugin's stats.
  using MetricVisitor = std::function<void(const char *name, const vitals_label_t *labels, uint32_t n, double value)>;
  void metrics(const MetricVisitor &visit) const {
    s_->metrics(
        ctx_,
        [](void *user, const char *name, const vitals_label_t *labels, uint32_t n, double value) {
          (*static_cast<const MetricVisitor *>(user))(name, labels, n, value);
        },
        const_cast<void *>(static_cast<const void *>(&visit)));
  }
  std::vector<Tunable> tunables(const std::string &component_id) const {
    std::vector<vitals_tunable_t> raw(s_->tunables(ctx_, component_id.c_str(), nullptr, 0));
    raw.resize(s_->tunables(ctx_, component_id.c_str(), raw.data(), static_cast<uint32_t>(raw.size())));
    std::vector<Tunable> out;
    for (const auto &t : raw) out.push_back({t.name, t.description ? t.description : "", t.min, t.max, t.value});
    return out;
  }
  // VITALS_OK, VITALS_INVALID (unknown, or outside its range) or VITALS_ERROR
  // (the plugin refused it). A change is logged and emitted as an event.
  int set_tunable(const std::string &component_id, const std::string &name, double value,
                  const std::string &reason) const {
    return s_->set_tunable(ctx_, component_id.c_str(), name.c_str(), value, reason.c_str());
  }

 private:
  const vitals_control_service_t *s_;
  vitals_host_ctx_t *ctx_;
};

// The services of the host, for one instance. Cheap to copy.
class Host {
 public:
  explicit Host(const vitals_host_t *h) : h_(h) {}

  // The host's table of a service at min_version or later; nullptr if it
  // lacks one.
  template <class Table>
  const Table *service(const char *name, uint32_t min_version) const {
    return h_->get_service ? static_cast<const Table *>(h_->get_service(h_->ctx, name, min_version)) : nullptr;
  }
  // The same, throwing ServiceUnavailable.
  template <class Table>
  const Table &require(const char *name, uint32_t min_version) const {
    if (const Table *t = service<Table>(name, min_version)) return *t;
    throw ServiceUnavailable(std::string("this agent lacks the service ") + name + " version " +
                             std::to_string(min_version));
  }
  const vitals_http_service_t &http() const {
    return require<vitals_http_service_t>(VITALS_SERVICE_HTTP, VITALS_SERVICE_HTTP_VERSION);
  }
  const vitals_ws_service_t &ws() const {
    return require<vitals_ws_service_t>(VITALS_SERVICE_WS, VITALS_SERVICE_WS_VERSION);
  }
  Control control() const {
    return Control(&require<vitals_control_service_t>(VITALS_SERVICE_CONTROL, VITALS_SERVICE_CONTROL_VERSION), h_->ctx);
  }

  void log(LogLevel level, const std::string &message) const {
    h_->log(h_->ctx, static_cast<int>(level), message.c_str());
  }
  void error(const std::string &m) const { log(LogLevel::error, m); }
  void warn(const std::string &m) const { log(LogLevel::warn, m); }
  void info(const std::string &m) const { log(LogLevel::info, m); }
  void debug(const std::string &m) const { log(LogLevel::debug, m); }

  // Interns name{labels}; throws std::invalid_argument if the name or a label key is invalid.
  SeriesId intern(const std::string &name, const std::vector<Label> &labels = {}) const {
    std::vector<vitals_label_t> c;
    c.reserve(labels.size());
    for (const auto &l : labels) c.push_back({l.key.c_str(), l.value.c_str()});
    SeriesId id = h_->intern(h_->ctx, name.c_str(), c.data(), static_cast<uint32_t>(c.size()));
    if (id == 0) throw std::invalid_argument("invalid series name or label: " + name);
    return id;
  }
  const vitals_series_t *series(SeriesId id) const { return h_->series(h_->ctx, id); }

  // Emits a batch. The optional on_ack runs on the loop thread once the data
  // is committed downstream (status VITALS_OK) or failed.
  int emit(Batch &batch, std::function<void(int status, std::string_view error)> on_ack = {}) const {
    return emit_for(nullptr, batch, std::move(on_ack));
  }
  // Emits on behalf of a batch this instance consumes and has not completed
  // yet (`parent` is the ack its consume() got): the input's acknowledgement
  // waits for this batch too. For a processor that answers PENDING and emits
  // later.
  int emit_for(vitals_ack_t *parent, Batch &batch,
               std::function<void(int status, std::string_view error)> on_ack = {}) const {
    if (!on_ack) return h_->emit(h_->ctx, parent, &batch.view(), nullptr, nullptr);
    auto *fn = new std::function<void(int, std::string_view)>(std::move(on_ack));
    int rc = h_->emit(h_->ctx, parent, &batch.view(), &ack_trampoline, fn);
    if (rc != VITALS_OK) delete fn;  // on_ack is never called on refusal
    return rc;
  }
  void complete(vitals_ack_t *ack, Status status, const std::string &error = {}) const {
    h_->complete(h_->ctx, ack, static_cast<int>(status), error.empty() ? nullptr : error.c_str());
  }

  struct uv_loop_s *loop() const {
    return h_->loop(h_->ctx);
  }
  Metric metric(const std::string &name, vitals_metric_type_t type, const std::string &help) const {
    return Metric(h_, h_->metric(h_->ctx, name.c_str(), type, help.c_str()));
  }
  std::string data_dir() const { return h_->data_dir(h_->ctx); }
  std::string instance_id() const { return h_->instance_id(h_->ctx); }
  const vitals_host_t *raw() const { return h_; }

 private:
  static void ack_trampoline(void *user, int status, const char *error) {
    std::unique_ptr<std::function<void(int, std::string_view)>> fn(
        static_cast<std::function<void(int, std::string_view)> *>(user));
    try {
      (*fn)(status, error ? error : "");
    } catch (...) {
      // An exception must not unwind into the host; the ack is delivered once.
    }
  }
  const vitals_host_t *h_;
};

// The checked config a plugin receives: the schema's keys, defaults filled in.
class Config {
 public:
  explicit Config(const char *json) : root_(cJSON_Parse(json ? json : "{}"), cJSON_Delete) {
    if (!root_) root_.reset(cJSON_CreateObject());
  }
  bool has(const char *key) const { return get(key) != nullptr; }
  std::string string(const char *key, std::string fallback = {}) const {
    const cJSON *v = get(key);
    return cJSON_IsString(v) ? std::string(v->valuestring) : fallback;
  }
  int64_t integer(const char *key, int64_t fallback = 0) const {
    const cJSON *v = get(key);
    if (!cJSON_IsNumber(v)) return fallback;
    // JSON numbers are doubles here: saturate rather than cast out of range (UB).
    constexpr double limit = 9223372036854775808.0;  // 2^63
    if (v->valuedouble >= limit) return std::numeric_limits<int64_t>::max();
    if (v->valuedouble <= -limit) return std::numeric_limits<int64_t>::min();
    return static_cast<int64_t>(v->valuedouble);
  }
  double number(const char *key, double fallback = 0) const {
    const cJSON *v = get(key);
    return cJSON_IsNumber(v) ? v->valuedouble : fallback;
  }
  bool boolean(const char *key, bool fallback = false) const {
    const cJSON *v = get(key);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : fallback;
  }
  int64_t duration_ns(const char *key, int64_t fallback = 0) const { return integer(key, fallback); }
  uint64_t size_bytes(const char *key, uint64_t fallback = 0) const {
    const cJSON *v = get(key);
    if (!cJSON_IsNumber(v)) return fallback;
    constexpr double limit = 18446744073709551616.0;  // 2^64
    if (v->valuedouble >= limit) return std::numeric_limits<uint64_t>::max();
    return v->valuedouble <= 0 ? 0 : static_cast<uint64_t>(v->valuedouble);
  }
  std::vector<std::string> strings(const char *key) const {
    std::vector<std::string> out;
    const cJSON *v = get(key);
    const cJSON *item = nullptr;
    cJSON_ArrayForEach(item, v) if (cJSON_IsString(item)) out.emplace_back(item->valuestring);
    return out;
  }
  // The raw JSON value (for VITALS_CONFIG_ANY keys); nullptr when absent.
  const cJSON *get(const char *key) const { return cJSON_GetObjectItemCaseSensitive(root_.get(), key); }

 private:
  std::unique_ptr<cJSON, decltype(&cJSON_Delete)> root_;
};

// A request to one of the plugin's HTTP routes (vitals.http). Borrowed: valid
// during the handler call only; copy what an asynchronous answer needs.
class HttpRequest {
 public:
  explicit HttpRequest(const vitals_http_request_t &r) : r_(r) {}
  std::string_view method() const { return r_.method; }
  std::string_view path() const { return r_.path; }
  std::string_view query() const { return r_.query; }
  std::string_view body() const { return {r_.body, r_.body_len}; }
  std::string_view remote() const { return r_.remote ? r_.remote : ""; }
  // A header by lower-case name; empty if absent.
  std::string_view header(std::string_view lower_name) const {
    for (uint32_t i = 0; i < r_.n_headers; ++i)
      if (lower_name == r_.headers[i].key) return r_.headers[i].value;
    return {};
  }
  // A query parameter, percent-decoded ('+' as space); nothing if absent.
  std::optional<std::string> param(std::string_view name) const {
    std::string_view q = query();
    while (!q.empty()) {
      size_t amp = q.find('&');
      std::string_view pair = q.substr(0, amp);
      size_t eq = pair.find('=');
      if (decode(pair.substr(0, eq)) == name)
        return eq == std::string_view::npos ? std::string() : decode(pair.substr(eq + 1));
      if (amp == std::string_view::npos) break;
      q.remove_prefix(amp + 1);
    }
    return std::nullopt;
  }
  const vitals_http_request_t &raw() const { return r_; }

  static std::string decode(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '+') {
        out += ' ';
      } else if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
        out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
        i += 2;
      } else {
        out += s[i];
      }
    }
    return out;
  }

 private:
  static int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }
  const vitals_http_request_t &r_;
};

// One WebSocket frame, encoded once (vitals.ws): send the same bytes to every
// connection that should get them. Cheap to copy; thread-safe to create.
class WsFrame {
 public:
  WsFrame() = default;
  // Throws std::invalid_argument for a bad opcode or an oversized ping/pong.
  // Throws ServiceUnavailable when the host has no vitals.ws.
  WsFrame(const Host &host, int opcode, std::string_view payload) {
    const vitals_ws_service_t *ws = &host.ws();
    vitals_ws_frame_t *f = ws->frame(host.raw()->ctx, opcode, payload.data(), payload.size());
    if (!f) throw std::invalid_argument("invalid WebSocket frame");
    frame_ = std::shared_ptr<vitals_ws_frame_t>(f, [ws](vitals_ws_frame_t *p) { ws->frame_release(p); });
  }
  static WsFrame text(const Host &host, std::string_view payload) { return WsFrame(host, VITALS_WS_TEXT, payload); }
  explicit operator bool() const { return frame_ != nullptr; }
  vitals_ws_frame_t *raw() const { return frame_.get(); }

 private:
  std::shared_ptr<vitals_ws_frame_t> frame_;
};

// A handle on an accepted WebSocket connection; valid until close() or the
// handler's on_close(). Loop thread only.
class WebSocket {
 public:
  WebSocket(const vitals_ws_service_t *service, vitals_ws_t *ws) : s_(service), ws_(ws) {}
  // False once the connection is closing.
  bool send(const WsFrame &frame) const { return s_->send(ws_, frame.raw()) == VITALS_OK; }
  // Bytes queued and not yet taken by the client's socket.
  size_t buffered() const { return s_->buffered(ws_); }
  // Sends a close frame; the handle is invalid afterwards and no callback follows.
  void close(int code = 1000, const std::string &reason = {}) const { s_->close(ws_, code, reason.c_str()); }
  vitals_ws_t *raw() const { return ws_; }

 private:
  const vitals_ws_service_t *s_;
  vitals_ws_t *ws_;
};

// The answer to one request. Copyable handle; finish it exactly once with
// respond() or stream_end(), possibly later (on the loop thread).
class HttpResponse {
 public:
  HttpResponse(const Host &host, vitals_http_response_t *r)
      : HttpResponse(&host.http(), host.service<vitals_ws_service_t>(VITALS_SERVICE_WS, VITALS_SERVICE_WS_VERSION), r) {
  }
  // From the service tables alone (they live as long as the agent): for an
  // answer given after the instance that took the request is gone. Without
  // `ws` the handle cannot accept a WebSocket.
  HttpResponse(const vitals_http_service_t *http, vitals_http_response_t *r) : HttpResponse(http, nullptr, r) {}
  HttpResponse(const vitals_http_service_t *http, const vitals_ws_service_t *ws, vitals_http_response_t *r)
      : http_(http), ws_(ws), r_(r) {}
  void header(const std::string &name, const std::string &value) const {
    http_->header(r_, name.c_str(), value.c_str());
  }
  void respond(int status, std::string_view content_type, std::string_view body) const {
    http_->respond(r_, status, std::string(content_type).c_str(), body.data(), body.size());
  }
  // A JSON error body: {"error": message}.
  void error(int status, std::string_view message) const {
    std::string body = "{\"error\":\"";
    for (char c : message) {
      if (c == '"' || c == '\\') body += '\\';
      if (static_cast<unsigned char>(c) < 0x20) {
        body += ' ';
        continue;
      }
      body += c;
    }
    body += "\"}";
    respond(status, "application/json", body);
  }
  bool stream_start(int status, std::string_view content_type) const {
    return http_->stream_start(r_, status, std::string(content_type).c_str()) == VITALS_OK;
  }
  // False once the client has gone away.
  bool stream_write(std::string_view data) const {
    return http_->stream_write(r_, data.data(), data.size()) == VITALS_OK;
  }
  void stream_end() const { http_->stream_end(r_); }
  // Bytes written but not yet taken by the client (a slow reader grows it).
  size_t stream_buffered() const { return http_->stream_buffered(r_); }
  // Calls fn if the client goes away before the response is finished. The
  // function must stay valid until then (store it in the plugin).
  void on_close(vitals_http_close_fn fn, void *user) const { http_->on_close(r_, fn, user); }
  vitals_http_response_t *raw() const { return r_; }

  // Accepts a WebSocket handshake (vitals.ws) and finishes the response.
  // `handler` must have on_message(int opcode, std::string_view data) and
  // on_close(int code, std::string_view reason), and stay alive until
  // on_close() runs or the plugin calls WebSocket::close(). Returns nullopt
  // when the request is no valid handshake, or the agent's stream limit is
  // reached: the host answered it (400/426, 503).
  template <class Handler>
  std::optional<WebSocket> accept_websocket(Handler *handler, uint32_t max_message = 0) const {
    const vitals_ws_service_t *ws_service = ws_;
    if (!ws_service) {
      respond(501, "application/json", "{\"error\":\"this agent has no WebSocket support (vitals.ws)\"}");
      return std::nullopt;
    }
    vitals_ws_handlers_t handlers{};
    handlers.struct_size = sizeof handlers;
    handlers.max_message = max_message;
    handlers.on_message = [](void *user, vitals_ws_t *, int opcode, const char *data, size_t len) {
      try {
        static_cast<Handler *>(user)->on_message(opcode, std::string_view(data, len));
      } catch (...) {
        // An exception must not unwind into the host.
      }
    };
    handlers.on_close = [](void *user, vitals_ws_t *, int code, const char *reason) {
      try {
        static_cast<Handler *>(user)->on_close(code, std::string_view(reason ? reason : ""));
      } catch (...) {
      }
    };
    vitals_ws_t *ws = nullptr;
    if (ws_service->accept(r_, &handlers, handler, &ws) != VITALS_OK) return std::nullopt;
    return WebSocket(ws_service, ws);
  }

 private:
  const vitals_http_service_t *http_;
  const vitals_ws_service_t *ws_ = nullptr;
  vitals_http_response_t *r_;
};

using HttpHandler = std::function<void(const HttpRequest &, HttpResponse)>;

// Thrown by PluginBase::route() when the agent runs without an HTTP server
// ([agent.http] enabled = false, or a host without vitals.http): a plugin may
// catch it and carry on without its routes.
class HttpUnavailable : public ServiceUnavailable {
 public:
  using ServiceUnavailable::ServiceUnavailable;
};

using StatsVisitor = std::function<void(const std::string &name, double value, const std::vector<Label> &labels)>;

// What every plugin kind shares.
class PluginBase {
 public:
  explicit PluginBase(Host host) : host_(host) {}
  virtual ~PluginBase() {
    for (auto &[id, fn] : timers_) host_.raw()->timer_stop(host_.raw()->ctx, id);
  }
  PluginBase(const PluginBase &) = delete;
  PluginBase &operator=(const PluginBase &) = delete;

  virtual void start() {}
  virtual void stop() {}
  virtual void flush() {}
  virtual void stats(const StatsVisitor &) {}
  virtual std::vector<Tunable> tunables() { return {}; }
  virtual void set_tunable(const std::string &name, double) { throw std::invalid_argument("no tunable named " + name); }

 protected:
  const Host &host() const { return host_; }

  // Runs fn on the loop thread after first_ms, then every repeat_ms (0: once).
  uint64_t start_timer(uint64_t first_ms, uint64_t repeat_ms, std::function<void()> fn) {
    auto owned = std::make_unique<std::function<void()>>(std::move(fn));
    uint64_t id = host_.raw()->timer_start(
        host_.raw()->ctx, first_ms, repeat_ms,
        [](void *user) {
          try {
            (*static_cast<std::function<void()> *>(user))();
          } catch (...) {
          }
        },
        owned.get());
    if (id) timers_[id] = std::move(owned);
    return id;
  }
  void stop_timer(uint64_t id) {
    host_.raw()->timer_stop(host_.raw()->ctx, id);
    timers_.erase(id);
  }

  // Registers an HTTP route (VITALS_HTTP_* flags); the host removes it when
  // the instance stops. Throws if the route is refused. An exception from the
  // handler becomes a 500 answer.
  void route(const std::string &method, const std::string &path, uint32_t flags, HttpHandler handler) {
    const vitals_http_service_t *http =
        host_.service<vitals_http_service_t>(VITALS_SERVICE_HTTP, VITALS_SERVICE_HTTP_VERSION);
    if (!http) throw HttpUnavailable("this agent has no HTTP service (vitals.http)");
    auto owned = std::make_unique<HttpHandler>(std::move(handler));
    int rc = http->route(
        host_.raw()->ctx, method.c_str(), path.c_str(), flags,
        [](void *user, const vitals_http_request_t *req, vitals_http_response_t *resp) {
          auto *self = static_cast<RouteState *>(user);
          HttpResponse response(self->http, self->ws, resp);
          try {
            (*self->handler)(HttpRequest(*req), response);
          } catch (const std::exception &e) {
            response.error(500, e.what());
          } catch (...) {
            response.error(500, "internal error");
          }
        },
        routes_
            .emplace_back(std::make_unique<RouteState>(RouteState{
                http, host_.service<vitals_ws_service_t>(VITALS_SERVICE_WS, VITALS_SERVICE_WS_VERSION), owned.get()}))
            .get());
    if (rc != VITALS_OK) {
      routes_.pop_back();
      if (rc == VITALS_ERROR) throw HttpUnavailable("the agent's HTTP server is disabled ([agent.http] enabled)");
      throw std::runtime_error("cannot register " + method + " " + path + ": already taken");
    }
    handlers_.push_back(std::move(owned));
  }

 private:
  Host host_;
  std::map<uint64_t, std::unique_ptr<std::function<void()>>> timers_;
  std::vector<std::unique_ptr<HttpHandler>> handlers_;
  // What a route's handler needs, looked up once at registration, not per request.
  struct RouteState {
    const vitals_http_service_t *http;
    const vitals_ws_service_t *ws;
    HttpHandler *handler;
  };
  std::vector<std::unique_ptr<RouteState>> routes_;
};

// Polled on an interval: collect() emits what it measured at now_ns.
class Input : public PluginBase {
 public:
  using PluginBase::PluginBase;
  static constexpr vitals_kind_t kind = VITALS_KIND_INPUT;
  virtual void collect(int64_t now_ns) = 0;
};

// Pushes data when it arrives (HTTP, sockets); never polled.
class PushInput : public PluginBase {
 public:
  using PluginBase::PluginBase;
  static constexpr vitals_kind_t kind = VITALS_KIND_INPUT;
};

// Turns batches into other batches.
//
// What it is handed: consume() gets the samples the component's `match`
// selects (every sample without one). The core passes everything else on
// downstream of the processor unchanged (same series, timestamps, values),
// on the consumed batch's acknowledgement; a batch of which nothing is
// selected never reaches consume(). Events pass the same way and consume()
// sees none, unless the plugin opts in with
//   static constexpr uint64_t flags = VITALS_FLAG_PROCESSOR_EVENTS;
// then consume() gets every event of the batch (`match` selects series, not
// events) and owns them: it emits those it keeps, and Batch::add_events(batch)
// passes them all on unchanged.
//
// Acknowledgement: what consume() emits (on any thread) joins the consumed
// batch's acknowledgement. One that answers Status::pending and emits later
// must use host().emit_for(ack, ...) and then complete(ack): the input is
// acknowledged once every storage and output committed what was emitted.
//
// Backpressure (VITALS_AGAIN): emit() inside consume() and emit_for() on an
// ack not yet completed never answer VITALS_AGAIN for a full "block" queue
// downstream. The core keeps the batch until there is room and holds the
// processor meanwhile (no more input reaches consume(); its queue fills and
// its producers wait), so nothing is refused and order is kept. Any status
// but VITALS_OK there is a failure: fail the batch (throw, Status::error, or
// complete(ack, Status::error)). Only an emit() with no consumed batch behind
// it (a timer flushing state of the processor's own) may answer VITALS_AGAIN:
// nothing was sent and on_ack is never called; keep the data and emit it
// again later (from a timer), or drop it and count the drop in stats().
class Processor : public PluginBase {
 public:
  using PluginBase::PluginBase;
  static constexpr vitals_kind_t kind = VITALS_KIND_PROCESSOR;
  virtual Status consume(const BatchView &batch, vitals_ack_t *ack) = 0;
};

// Keeps what it consumes and answers queries (vitals.storage: the C++ layer
// provides the plugin's half and requires the host's).
class Storage : public PluginBase {
 public:
  using PluginBase::PluginBase;
  static constexpr vitals_kind_t kind = VITALS_KIND_STORAGE;
  virtual Status consume(const BatchView &batch, vitals_ack_t *ack) = 0;
  virtual void query(const std::string &request_json, Reply reply) = 0;
};

class Output : public PluginBase {
 public:
  using PluginBase::PluginBase;
  static constexpr vitals_kind_t kind = VITALS_KIND_OUTPUT;
  virtual Status consume(const BatchView &batch, vitals_ack_t *ack) = 0;
};

// Watches the agent; collect() evaluates once (on its interval or on demand).
// host().control() (vitals.control) lists components, reads every metric and
// sets tunables within their declared range; it runs on the loop thread
// only, so an optimizer that uses it sets VITALS_FLAG_COLLECT_ON_LOOP (the
// host refuses calls from elsewhere). Each change the host accepts is logged
// and emitted as an event from the optimizer, so outputs see it.
class Optimizer : public PluginBase {
 public:
  using PluginBase::PluginBase;
  static constexpr vitals_kind_t kind = VITALS_KIND_OPTIMIZER;
  virtual void collect(int64_t now_ns) = 0;
};

namespace detail {

template <typename T>
struct Instance {
  vitals_host_t host;  // the host's table, copied: it outlives nothing
  std::unique_ptr<T> plugin;
  std::string last_error;
  std::vector<Tunable> tunables;  // keeps names alive for tunables()
  const vitals_storage_host_service_t *storage_host = nullptr;
};

inline void copy_error(char *err, size_t err_size, const char *message) {
  if (err && err_size) {
    std::strncpy(err, message, err_size - 1);
    err[err_size - 1] = '\0';
  }
}

// Runs fn, turning any exception into VITALS_ERROR plus last_error.
template <typename T, typename Fn>
int guarded(void *instance, Fn &&fn) {
  auto *inst = static_cast<Instance<T> *>(instance);
  try {
    return fn(*inst->plugin);
  } catch (const std::exception &e) {
    inst->last_error = e.what();
  } catch (...) {
    inst->last_error = "unknown exception";
  }
  return VITALS_ERROR;
}

// True when T declares tunables() itself (the inherited one has none).
template <typename T>
constexpr bool has_tunables = !std::is_same_v<decltype(&T::tunables), decltype(&PluginBase::tunables)>;

template <typename T>
constexpr vitals_storage_service_t storage_service() {
  vitals_storage_service_t s{};
  s.struct_size = sizeof s;
  s.version = VITALS_SERVICE_STORAGE_VERSION;
  s.query = [](void *i, const char *request, vitals_reply_t *reply) {
    auto *inst = static_cast<Instance<T> *>(i);
    return guarded<T>(i, [&](T &p) { return p.query(request, Reply(inst->storage_host, reply)), VITALS_OK; });
  };
  return s;
}

template <typename T>
constexpr vitals_tunables_service_t tunables_service() {
  vitals_tunables_service_t s{};
  s.struct_size = sizeof s;
  s.version = VITALS_SERVICE_TUNABLES_VERSION;
  s.list = [](void *i, vitals_tunable_t *out, uint32_t cap) -> uint32_t {
    auto *inst = static_cast<Instance<T> *>(i);
    try {
      inst->tunables = inst->plugin->tunables();
    } catch (...) {
      inst->tunables.clear();
    }
    for (uint32_t k = 0; k < cap && k < inst->tunables.size(); ++k) {
      const Tunable &t = inst->tunables[k];
      out[k] = vitals_tunable_t{t.name.c_str(), t.description.c_str(), t.min, t.max, t.value, {}};
    }
    return static_cast<uint32_t>(inst->tunables.size());
  };
  s.set = [](void *i, const char *name, double value) {
    return guarded<T>(i, [name, value](T &p) { return p.set_tunable(name, value), VITALS_OK; });
  };
  return s;
}

// The services T requires: its own required_services, plus the host's half of
// vitals.storage for a storage.
template <typename T>
struct RequiredServices {
  static constexpr size_t own() {
    if constexpr (requires { T::required_services; })
      return std::size(T::required_services);
    else
      return 0;
  }
  static constexpr size_t count = own() + (std::is_base_of_v<Storage, T> ? 1 : 0);
  static constexpr std::array<vitals_service_ref_t, count> make() {
    std::array<vitals_service_ref_t, count> out{};
    size_t n = 0;
    if constexpr (requires { T::required_services; })
      for (const auto &r : T::required_services) out[n++] = r;
    if constexpr (std::is_base_of_v<Storage, T>)
      out[n++] = require_service(VITALS_SERVICE_STORAGE, VITALS_SERVICE_STORAGE_VERSION);
    return out;
  }
  static constexpr std::array<vitals_service_ref_t, count> list = make();
};

// The services T provides: vitals.storage for a storage, vitals.tunables when
// it has knobs.
template <typename T>
struct ProvidedServices {
  static constexpr vitals_storage_service_t storage = storage_service<T>();
  static constexpr vitals_tunables_service_t tunables = tunables_service<T>();
  static constexpr size_t count = (std::is_base_of_v<Storage, T> ? 1 : 0) + (has_tunables<T> ? 1 : 0);
  static constexpr std::array<vitals_service_ref_t, count> make() {
    std::array<vitals_service_ref_t, count> out{};
    size_t n = 0;
    if constexpr (std::is_base_of_v<Storage, T>)
      out[n++] = vitals_service_ref_t{VITALS_SERVICE_STORAGE, VITALS_SERVICE_STORAGE_VERSION, 0, &storage, {}};
    if constexpr (has_tunables<T>)
      out[n++] = vitals_service_ref_t{VITALS_SERVICE_TUNABLES, VITALS_SERVICE_TUNABLES_VERSION, 0, &tunables, {}};
    return out;
  }
  static constexpr std::array<vitals_service_ref_t, count> list = make();
};

template <typename T>
vitals_plugin_t make_descriptor(const char *name, const char *version, const char *description) {
  vitals_plugin_t d{};
  d.abi_major = VITALS_ABI_MAJOR;
  d.abi_minor = VITALS_ABI_MINOR;
  d.struct_size = sizeof(vitals_plugin_t);
  d.kind = T::kind;
  d.name = name;
  d.version = version;
  d.description = description;
  if constexpr (requires { T::flags; }) d.flags = T::flags;
  if constexpr (requires { T::schema.fields; }) {  // config declared once (vitals/settings.hpp)
    static_assert(
        !requires { T::config_fields; }, "declare either schema or config_fields, not both");
    d.config_fields = T::schema.fields.data();
    d.n_config_fields = static_cast<uint32_t>(T::schema.fields.size());
  } else if constexpr (requires { T::config_fields; }) {
    d.config_fields = T::config_fields;
    d.n_config_fields = static_cast<uint32_t>(std::size(T::config_fields));
  }
  if constexpr (requires { T::sample_config; }) d.sample_config = T::sample_config;
  d.required_services = RequiredServices<T>::list.data();
  d.n_required_services = static_cast<uint32_t>(RequiredServices<T>::count);
  d.provided_services = ProvidedServices<T>::list.data();
  d.n_provided_services = static_cast<uint32_t>(ProvidedServices<T>::count);

  d.create = [](const vitals_host_t *host, const char *config_json, char *err, size_t err_size) -> void * {
    try {
      auto inst = std::make_unique<Instance<T>>();
      inst->host = *host;
      if constexpr (std::is_base_of_v<Storage, T>)
        inst->storage_host =
            &Host(&inst->host)
                 .require<vitals_storage_host_service_t>(VITALS_SERVICE_STORAGE, VITALS_SERVICE_STORAGE_VERSION);
      inst->plugin = std::make_unique<T>(Host(&inst->host), Config(config_json));
      return inst.release();
    } catch (const std::exception &e) {
      copy_error(err, err_size, e.what());
    } catch (...) {
      copy_error(err, err_size, "unknown exception");
    }
    return nullptr;
  };
  d.destroy = [](void *instance) {
    try {
      delete static_cast<Instance<T> *>(instance);
    } catch (...) {
    }
  };
  d.start = [](void *i) { return guarded<T>(i, [](T &p) { return p.start(), VITALS_OK; }); };
  d.stop = [](void *i) { return guarded<T>(i, [](T &p) { return p.stop(), VITALS_OK; }); };
  d.flush = [](void *i) { return guarded<T>(i, [](T &p) { return p.flush(), VITALS_OK; }); };
  if constexpr (std::is_base_of_v<Input, T> || std::is_base_of_v<Optimizer, T>) {
    d.collect = [](void *i, int64_t now_ns) {
      return guarded<T>(i, [now_ns](T &p) { return p.collect(now_ns), VITALS_OK; });
    };
  }
  if constexpr (std::is_base_of_v<Processor, T> || std::is_base_of_v<Storage, T> || std::is_base_of_v<Output, T>) {
    d.consume = [](void *i, const vitals_batch_t *batch, vitals_ack_t *ack) {
      return guarded<T>(i, [batch, ack](T &p) { return static_cast<int>(p.consume(BatchView(*batch), ack)); });
    };
  }
  d.stats = [](void *i, vitals_stat_visit_fn visit, void *user) {
    return guarded<T>(i, [visit, user](T &p) {
      p.stats([visit, user](const std::string &name, double value, const std::vector<Label> &labels) {
        std::vector<vitals_label_t> c;
        for (const auto &l : labels) c.push_back({l.key.c_str(), l.value.c_str()});
        visit(user, name.c_str(), c.data(), static_cast<uint32_t>(c.size()), value);
      });
      return VITALS_OK;
    });
  };
  d.last_error = [](void *i) -> const char * { return static_cast<Instance<T> *>(i)->last_error.c_str(); };
  return d;
}

}  // namespace detail
}  // namespace vitals

// Exports the plugin descriptor for Class. Use once per shared object.
#define VITALS_PLUGIN(Class, NAME, VERSION, DESCRIPTION)                                                            \
  extern "C" VITALS_EXPORT const vitals_plugin_t *vitals_plugin(void) {                                             \
    static const vitals_plugin_t descriptor = ::vitals::detail::make_descriptor<Class>(NAME, VERSION, DESCRIPTION); \
    return &descriptor;                                                                                             \
  }
