// An in-process host for testing one plugin with doctest (or any framework),
// without the agent: it implements the vitals_host_t table, checks the TOML
// config against the plugin's schema exactly as the agent does, interns
// series by the agent's rules and gives them the agent's ids
// (vitals/series_name.hpp), and records every emitted sample and event.
//
//   vitals::testing::Host host;
//   auto input = host.create(vitals_plugin(), "interval = \"1s\"");
//   input.collect(host.now_ns());
//   CHECK(host.samples().size() > 0);
//
// Needs libuv, cJSON and toml++ at link time.
#pragma once

#include <toml++/toml.h>
#include <uv.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "vitals/config_schema.hpp"
#include "vitals/plugin.h"
#include "vitals/plugin.hpp"
#include "vitals/series_name.hpp"

namespace vitals::testing {

struct Sample {
  std::string series;  // canonical text: name{key="value",...}
  int64_t ts_ns;
  double value;
};

struct Event {
  int64_t ts_ns;
  int severity;
  std::string source, message;
};

struct LogLine {
  int level;
  std::string message;
};

class Host;

// The table of a service the plugin provides (vitals.storage,
// vitals.tunables); nullptr if it provides none by that name.
inline const void *provided_service(const vitals_plugin_t *plugin, std::string_view name) {
  for (uint32_t i = 0; i < plugin->n_provided_services; ++i)
    if (plugin->provided_services[i].name && plugin->provided_services[i].name == name)
      return plugin->provided_services[i].table;
  return nullptr;
}

// A WebSocket the plugin accepted through Host::http() (vitals.ws). The test
// plays the client: it reads what the plugin sent and sends messages. The
// test host accepts every request as a handshake; the agent's handshake
// checks are the core's and tested there.
struct TestWebSocket {
  struct Frame {
    int opcode;
    std::string payload;
  };
  std::vector<Frame> frames;  // everything the plugin sent, in order
  bool closed_by_plugin = false;
  int close_code = 0;
  std::string close_reason;
  bool gone = false;          // the test disconnected it
  size_t buffered_bytes = 0;  // set by the test to simulate a slow reader
  // When set, every frame sent adds its payload to buffered_bytes, as if the
  // client read nothing; the test resets buffered_bytes when it "reads".
  bool writes_stay_buffered = false;
  vitals_ws_handlers_t handlers{};
  void *user = nullptr;

  bool open() const { return !closed_by_plugin && !gone; }
  // The client sends a message.
  void receive(std::string_view data, int opcode = VITALS_WS_TEXT) {
    if (open() && handlers.on_message) handlers.on_message(user, handle(), opcode, data.data(), data.size());
  }
  // The client goes away (or closes with `code`).
  void disconnect(int code = 1006) {
    if (!open()) return;
    gone = true;
    if (handlers.on_close) handlers.on_close(user, handle(), code, "");
  }
  // Payloads of the text frames, in order.
  std::vector<std::string> texts() const {
    std::vector<std::string> out;
    for (const auto &f : frames)
      if (f.opcode == VITALS_WS_TEXT) out.push_back(f.payload);
    return out;
  }
  vitals_ws_t *handle() { return reinterpret_cast<vitals_ws_t *>(this); }
};

// What a plugin answered to Host::http(); filled in when it answers (which may
// be after the call returns, e.g. once acks are delivered).
struct HttpResult {
  int status = 0;  // 0 until answered
  std::string content_type;
  std::string body;  // whole body, or every streamed chunk so far
  std::vector<std::pair<std::string, std::string>> headers;
  bool streaming = false;
  bool finished = false;
  bool client_gone = false;   // set by the test to make stream writes fail
  size_t buffered_bytes = 0;  // set by the test to simulate a slow reader
  // When set, every stream write adds to buffered_bytes, as if the client had
  // read nothing yet; the test resets buffered_bytes when it "reads".
  bool writes_stay_buffered = false;
  std::vector<size_t> write_sizes;  // the length of each stream write, in order
  vitals_http_close_fn on_close = nullptr;
  void *on_close_user = nullptr;
  std::shared_ptr<TestWebSocket> websocket;  // set (status 101) once the plugin accepted one
};

// One created plugin instance; destroyed (after stop) when it goes out of scope.
class Instance {
 public:
  Instance(Host *host, const vitals_plugin_t *plugin, void *instance);
  Instance(Instance &&o) noexcept;
  Instance &operator=(Instance &&) = delete;
  ~Instance();

  int start() { return plugin_->start ? plugin_->start(inst_) : VITALS_OK; }
  int stop() { return plugin_->stop ? plugin_->stop(inst_) : VITALS_OK; }
  int flush() { return plugin_->flush ? plugin_->flush(inst_) : VITALS_OK; }
  int collect(int64_t now_ns) { return plugin_->collect(inst_, now_ns); }
  // Consumes samples given as (series text, ts, value); returns the status.
  int consume(const std::vector<Sample> &samples);
  std::string last_error() const { return plugin_->last_error ? plugin_->last_error(inst_) : ""; }
  std::map<std::string, double> stats() const {
    std::map<std::string, double> out;
    if (plugin_->stats)
      plugin_->stats(
          inst_,
          [](void *user, const char *name, const vitals_label_t *, uint32_t, double v) {
            (*static_cast<std::map<std::string, double> *>(user))[name] = v;
          },
          &out);
    return out;
  }
  void *raw() const { return inst_; }
  const vitals_plugin_t *plugin() const { return plugin_; }

  // vitals.tunables, when the plugin provides it.
  const vitals_tunables_service_t *tunables_service() const {
    return static_cast<const vitals_tunables_service_t *>(provided_service(plugin_, VITALS_SERVICE_TUNABLES));
  }
  std::vector<Tunable> tunables() const {
    const vitals_tunables_service_t *t = tunables_service();
    if (!t) return {};
    std::vector<vitals_tunable_t> raw(t->list(inst_, nullptr, 0));
    raw.resize(t->list(inst_, raw.data(), static_cast<uint32_t>(raw.size())));
    std::vector<Tunable> out;
    for (const auto &r : raw) out.push_back({r.name, r.description ? r.description : "", r.min, r.max, r.value});
    return out;
  }
  // Calls the plugin's set directly (no range check: that is the host's,
  // see Host's vitals.control); VITALS_INVALID without vitals.tunables.
  int set_tunable(const std::string &name, double value) const {
    const vitals_tunables_service_t *t = tunables_service();
    return t ? t->set(inst_, name.c_str(), value) : VITALS_INVALID;
  }

 private:
  Host *host_;
  const vitals_plugin_t *plugin_;
  void *inst_;
};

class Host {
 public:
  Host() {
    uv_loop_init(&loop_);
    char tmpl[] = "/tmp/vitals-test-XXXXXX";
    if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    data_dir_ = tmpl;
    ctx_.self = this;
    table_.struct_size = sizeof(vitals_host_t);
    table_.abi_minor = VITALS_ABI_MINOR;
    table_.ctx = reinterpret_cast<vitals_host_ctx_t *>(&ctx_);
    table_.get_service = [](vitals_host_ctx_t *c, const char *name, uint32_t min_version) -> const void * {
      return self(c)->find_service(name ? name : "", min_version);
    };
    table_.log = [](vitals_host_ctx_t *c, int level, const char *m) {
      auto *h = self(c);
      std::lock_guard lock(h->mutex_);
      h->logs_.push_back({level, m});
    };
    table_.intern = [](vitals_host_ctx_t *c, const char *name, const vitals_label_t *labels, uint32_t n) {
      return self(c)->intern(name, labels, n);
    };
    table_.series = [](vitals_host_ctx_t *c, vitals_series_id_t id) -> const vitals_series_t * {
      auto *h = self(c);
      std::lock_guard lock(h->mutex_);
      const SeriesEntry *entry = h->find_series(id);
      return entry ? &entry->c : nullptr;
    };
    // The test host records batches and acks them on demand: a parent adds nothing to observe.
    table_.emit = [](vitals_host_ctx_t *c, vitals_ack_t *, const vitals_batch_t *b, vitals_ack_fn fn, void *user) {
      return self(c)->emit(b, fn, user);
    };
    table_.complete = [](vitals_host_ctx_t *c, vitals_ack_t *ack, int status, const char *) {
      auto *h = self(c);
      std::lock_guard lock(h->mutex_);
      h->completions_.push_back({reinterpret_cast<uintptr_t>(ack), status});
    };
    table_.loop = [](vitals_host_ctx_t *c) -> uv_loop_s * { return &self(c)->loop_; };
    table_.timer_start = [](vitals_host_ctx_t *c, uint64_t first, uint64_t repeat, vitals_timer_fn fn, void *user) {
      return self(c)->timer_start(first, repeat, fn, user);
    };
    table_.timer_stop = [](vitals_host_ctx_t *c, uint64_t id) { self(c)->timers_.erase(id); };
    table_.metric = [](vitals_host_ctx_t *c, const char *name, int type, const char *) {
      auto *h = self(c);
      std::lock_guard lock(h->mutex_);
      auto &slot = h->metrics_[name];
      if (!slot) slot = std::make_unique<MetricSlot>();
      slot->type = type;
      return reinterpret_cast<vitals_metric_t *>(slot.get());
    };
    // Counters add, gauges set; a histogram records the sum of observations.
    table_.metric_update = [](vitals_metric_t *m, double v) {
      auto *slot = reinterpret_cast<MetricSlot *>(m);
      if (slot->type == VITALS_METRIC_GAUGE)
        slot->value.store(v);
      else
        slot->value.fetch_add(v);
    };
    table_.data_dir = [](vitals_host_ctx_t *c) { return self(c)->data_dir_.c_str(); };
    table_.instance_id = [](vitals_host_ctx_t *) { return "test"; };
    fill_http_service();
    fill_ws_service();
    fill_control_service();
    storage_.struct_size = sizeof storage_;
    storage_.version = VITALS_SERVICE_STORAGE_VERSION;
    storage_.reply = [](vitals_reply_t *r, int status, const char *, const char *body, size_t len) {
      auto *reply = reinterpret_cast<QueryReply *>(r);
      reply->body.assign(body, len);
      reply->status.store(status);  // last: publishes the body
    };
  }
  ~Host() {
    timers_.clear();
    uv_run(&loop_, UV_RUN_NOWAIT);
    uv_loop_close(&loop_);
    std::error_code ec;
    std::filesystem::remove_all(data_dir_, ec);
  }
  Host(const Host &) = delete;
  Host &operator=(const Host &) = delete;

  // Checks toml_config against the plugin's schema and creates an instance.
  // Throws std::runtime_error with "line N: ..." messages if the config is refused.
  Instance create(const vitals_plugin_t *plugin, const std::string &toml_config = "") {
    std::string json = check_config(plugin, toml_config);
    char err[512] = "";
    void *inst = plugin->create(&table_, json.c_str(), err, sizeof err);
    if (!inst) throw std::runtime_error(std::string("create failed: ") + err);
    return Instance(this, plugin, inst);
  }

  // Creates and starts an instance, as the agent does; throws if either fails.
  Instance create_started(const vitals_plugin_t *plugin, const std::string &toml_config = "") {
    Instance inst = create(plugin, toml_config);
    if (inst.start() != VITALS_OK) throw std::runtime_error("start failed: " + inst.last_error());
    return inst;
  }

  // The JSON the plugin would receive for toml_config; throws on config errors.
  static std::string check_config(const vitals_plugin_t *plugin, const std::string &toml_config) {
    toml::table table;
    try {
      table = toml::parse(toml_config);
    } catch (const toml::parse_error &e) {
      throw std::runtime_error("line " + std::to_string(e.source().begin.line) + ": " + std::string(e.description()));
    }
    std::vector<ConfigError> errors;
    std::span<const vitals_config_field_t> fields(plugin->config_fields, plugin->n_config_fields);
    std::string json = apply_config_schema(table, fields, {}, errors);
    if (!errors.empty()) {
      std::string all;
      for (auto &e : errors) all += (all.empty() ? "" : "; ") + ("line " + std::to_string(e.line) + ": " + e.message);
      throw std::runtime_error(all);
    }
    return json;
  }

  vitals_series_id_t intern(const std::string &name, std::vector<Label> labels = {}) {
    std::vector<vitals_label_t> c;
    for (auto &l : labels) c.push_back({l.key.c_str(), l.value.c_str()});
    return intern(name.c_str(), c.data(), static_cast<uint32_t>(c.size()));
  }
  // Series interned so far.
  size_t series_count() {
    std::lock_guard lock(mutex_);
    return series_.size();
  }
  std::string series_text(vitals_series_id_t id) {
    std::lock_guard lock(mutex_);
    const SeriesEntry *entry = find_series(id);
    return entry ? entry->text : "";
  }

  std::vector<Sample> samples() {
    std::lock_guard lock(mutex_);
    return samples_;
  }
  std::vector<Sample> take_samples() {
    std::lock_guard lock(mutex_);
    return std::exchange(samples_, {});
  }
  std::vector<Event> events() {
    std::lock_guard lock(mutex_);
    return events_;
  }
  std::vector<LogLine> logs() {
    std::lock_guard lock(mutex_);
    return logs_;
  }
  size_t emit_calls() const { return emit_calls_.load(); }
  // Completions reported for PENDING consumes: (ack token, status).
  std::vector<std::pair<uintptr_t, int>> completions() {
    std::lock_guard lock(mutex_);
    return completions_;
  }
  double metric(const std::string &name) {
    std::lock_guard lock(mutex_);
    auto it = metrics_.find(name);
    return it == metrics_.end() ? 0 : it->second->value.load();
  }
  // Makes the next emits answer VITALS_AGAIN, as a full "block" queue would.
  // New series past this many are refused (intern() answers 0), as the
  // agent does at [agent] max_series.
  void set_series_limit(size_t limit) { series_limit_ = limit; }
  void set_backpressure(bool on) { backpressure_ = on; }
  // Acks to emits with a callback are delivered when the test calls this.
  void deliver_acks(int status = VITALS_OK) {
    auto pending = std::exchange(pending_acks_, {});
    for (auto &[fn, user] : pending) fn(user, status, status == VITALS_OK ? nullptr : "failed in test");
  }

  // Runs the loop (timers, plugin handles) for about ms milliseconds.
  void run_for_ms(uint64_t ms) {
    uv_timer_t stop;
    uv_timer_init(&loop_, &stop);
    stop.data = this;
    uv_timer_start(
        &stop, [](uv_timer_t *t) { uv_stop(t->loop); }, ms, 0);
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_close(reinterpret_cast<uv_handle_t *>(&stop), nullptr);
    uv_run(&loop_, UV_RUN_NOWAIT);
  }
  static int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  uv_loop_t *loop() { return &loop_; }
  const std::string &data_dir() const { return data_dir_; }
  const vitals_host_t *table() const { return &table_; }

  // Sends a request to a route the plugin registered, as the agent's HTTP
  // server would (no auth). `target` may carry a query: "/api/x?a=1". The
  // result fills in when the plugin answers; 404 if no route matches.
  std::shared_ptr<HttpResult> http(const std::string &method, const std::string &target, const std::string &body = "",
                                   std::vector<std::pair<std::string, std::string>> headers = {}) {
    auto result = std::make_shared<HttpResult>();
    results_.push_back(result);
    std::string path = target.substr(0, target.find('?'));
    std::string query = target.find('?') == std::string::npos ? "" : target.substr(target.find('?') + 1);
    for (auto &r : routes_) {
      bool prefix = r.flags & VITALS_HTTP_PREFIX;
      if (r.method != method || !(prefix ? path.rfind(r.path, 0) == 0 : path == r.path)) continue;
      std::vector<vitals_label_t> c_headers;
      for (auto &[k, v] : headers) c_headers.push_back({k.c_str(), v.c_str()});
      vitals_http_request_t req{};
      req.method = method.c_str();
      req.path = path.c_str();
      req.query = query.c_str();
      req.body = body.data();
      req.body_len = body.size();
      req.headers = c_headers.data();
      req.n_headers = static_cast<uint32_t>(c_headers.size());
      req.remote = "127.0.0.1:40000";
      r.fn(r.user, &req, reinterpret_cast<vitals_http_response_t *>(result.get()));
      return result;
    }
    result->status = 404;
    result->finished = true;
    return result;
  }
  // How many WebSocket frames the plugin encoded (each may go to many clients).
  size_t ws_frames_created() const { return ws_frames_created_; }
  // The routes the plugin registered, as "METHOD path".
  std::vector<std::string> routes() const {
    std::vector<std::string> out;
    for (auto &r : routes_) out.push_back(r.method + " " + r.path);
    return out;
  }

  // Queries a storage instance and returns (status, body).
  std::pair<int, std::string> query(Instance &storage, const std::string &request_json) {
    QueryReply reply;
    const auto *table =
        static_cast<const vitals_storage_service_t *>(provided_service(storage.plugin(), VITALS_SERVICE_STORAGE));
    if (!table) throw std::runtime_error("the plugin does not provide " VITALS_SERVICE_STORAGE);
    table->query(storage.raw(), request_json.c_str(), reinterpret_cast<vitals_reply_t *>(&reply));
    for (int i = 0; i < 500 && reply.status.load() == 0; ++i) run_for_ms(10);
    return {reply.status.load(), reply.body};
  }

  // Leaves the named service out, as an agent without it would (get_service
  // answers NULL): to test how a plugin copes.
  void remove_service(const std::string &name) { removed_services_.push_back(name); }

 private:
  struct Ctx {
    Host *self;
  };

  const void *find_service(const std::string &name, uint32_t min_version) const {
    for (const auto &removed : removed_services_)
      if (removed == name) return nullptr;
    const void *table = nullptr;
    uint32_t version = 0;
    if (name == VITALS_SERVICE_HTTP) table = &http_, version = http_.version;
    if (name == VITALS_SERVICE_WS) table = &ws_, version = ws_.version;
    if (name == VITALS_SERVICE_CONTROL) table = &control_, version = control_.version;
    if (name == VITALS_SERVICE_STORAGE) table = &storage_, version = storage_.version;
    return version >= min_version ? table : nullptr;
  }

  void fill_http_service() {
    http_.struct_size = sizeof http_;
    http_.version = VITALS_SERVICE_HTTP_VERSION;
    http_.route = [](vitals_host_ctx_t *c, const char *method, const char *path, uint32_t flags,
                     vitals_http_handler_fn fn, void *user) {
      auto *h = self(c);
      for (auto &r : h->routes_)
        if (r.method == method && r.path == path) return static_cast<int>(VITALS_INVALID);
      h->routes_.push_back({method, path, flags, fn, user});
      return static_cast<int>(VITALS_OK);
    };
    http_.header = [](vitals_http_response_t *r, const char *name, const char *value) {
      reinterpret_cast<HttpResult *>(r)->headers.emplace_back(name, value);
    };
    http_.respond = [](vitals_http_response_t *r, int status, const char *type, const char *body, size_t len) {
      auto *res = reinterpret_cast<HttpResult *>(r);
      res->status = status;
      res->content_type = type ? type : "";
      res->body.assign(body ? body : "", body ? len : 0);
      res->finished = true;
    };
    http_.stream_start = [](vitals_http_response_t *r, int status, const char *type) {
      auto *res = reinterpret_cast<HttpResult *>(r);
      res->status = status;
      res->content_type = type ? type : "";
      res->streaming = true;
      return static_cast<int>(VITALS_OK);
    };
    http_.stream_write = [](vitals_http_response_t *r, const char *data, size_t len) {
      auto *res = reinterpret_cast<HttpResult *>(r);
      if (res->client_gone) return static_cast<int>(VITALS_STOPPED);
      res->body.append(data, len);
      res->write_sizes.push_back(len);
      if (res->writes_stay_buffered) res->buffered_bytes += len;
      return static_cast<int>(VITALS_OK);
    };
    http_.stream_end = [](vitals_http_response_t *r) { reinterpret_cast<HttpResult *>(r)->finished = true; };
    http_.on_close = [](vitals_http_response_t *r, vitals_http_close_fn fn, void *user) {
      auto *res = reinterpret_cast<HttpResult *>(r);
      res->on_close = fn;
      res->on_close_user = user;
    };
    http_.stream_buffered = [](vitals_http_response_t *r) { return reinterpret_cast<HttpResult *>(r)->buffered_bytes; };
  }

  void fill_ws_service() {
    ws_.struct_size = sizeof ws_;
    ws_.version = VITALS_SERVICE_WS_VERSION;
    ws_.accept = [](vitals_http_response_t *r, const vitals_ws_handlers_t *handlers, void *user, vitals_ws_t **out) {
      auto *res = reinterpret_cast<HttpResult *>(r);
      res->status = 101;
      res->finished = true;
      res->websocket = std::make_shared<TestWebSocket>();
      res->websocket->handlers = *handlers;
      res->websocket->user = user;
      *out = res->websocket->handle();
      return static_cast<int>(VITALS_OK);
    };
    ws_.frame = [](vitals_host_ctx_t *c, int opcode, const char *data, size_t len) -> vitals_ws_frame_t * {
      bool control = opcode == VITALS_WS_PING || opcode == VITALS_WS_PONG;
      if (!control && opcode != VITALS_WS_TEXT && opcode != VITALS_WS_BINARY) return nullptr;
      if (control && len > 125) return nullptr;
      ++self(c)->ws_frames_created_;
      return reinterpret_cast<vitals_ws_frame_t *>(new TestWebSocket::Frame{opcode, std::string(data, len)});
    };
    ws_.frame_release = [](vitals_ws_frame_t *f) { delete reinterpret_cast<TestWebSocket::Frame *>(f); };
    ws_.send = [](vitals_ws_t *ws, vitals_ws_frame_t *f) {
      auto *t = reinterpret_cast<TestWebSocket *>(ws);
      if (!t->open()) return static_cast<int>(VITALS_STOPPED);
      t->frames.push_back(*reinterpret_cast<TestWebSocket::Frame *>(f));
      if (t->writes_stay_buffered) t->buffered_bytes += t->frames.back().payload.size();
      return static_cast<int>(VITALS_OK);
    };
    ws_.buffered = [](vitals_ws_t *ws) { return reinterpret_cast<TestWebSocket *>(ws)->buffered_bytes; };
    ws_.close = [](vitals_ws_t *ws, int code, const char *reason) {
      auto *t = reinterpret_cast<TestWebSocket *>(ws);
      if (!t->open()) return;
      t->closed_by_plugin = true;
      t->close_code = code;
      t->close_reason = reason ? reason : "";
    };
  }

  void fill_control_service() {
    control_.struct_size = sizeof control_;
    control_.version = VITALS_SERVICE_CONTROL_VERSION;
    // The test host's only component is the instance under test, "test".
    control_.components = [](vitals_host_ctx_t *c, vitals_component_visit_fn visit, void *user) {
      for (const Instance *inst : self(c)->live_) {
        vitals_component_info_t info{};
        info.id = "test";
        info.kind = inst->plugin()->kind;
        info.plugin = inst->plugin()->name;
        info.version = inst->plugin()->version;
        info.n_tunables = static_cast<uint32_t>(inst->tunables().size());
        visit(user, &info);
      }
    };
    control_.metrics = [](vitals_host_ctx_t *c, vitals_stat_visit_fn visit, void *user) {
      auto *h = self(c);
      std::vector<std::pair<std::string, double>> values;
      {
        std::lock_guard lock(h->mutex_);
        for (auto &[name, slot] : h->metrics_) values.emplace_back(name, slot->value.load());
      }
      for (auto &[name, value] : values) visit(user, name.c_str(), nullptr, 0, value);
    };
    control_.tunables = [](vitals_host_ctx_t *c, const char *id, vitals_tunable_t *out, uint32_t cap) -> uint32_t {
      const Instance *inst = self(c)->tuned(id);
      return inst ? inst->tunables_service()->list(inst->raw(), out, cap) : 0;
    };
    // As the agent: only declared tunables, only within their range.
    control_.set_tunable = [](vitals_host_ctx_t *c, const char *id, const char *name, double value, const char *) {
      Instance *inst = self(c)->tuned(id);
      if (!inst || !name) return static_cast<int>(VITALS_INVALID);
      for (const auto &t : inst->tunables())
        if (t.name == name) {
          if (!tunable_accepts(t.min, t.max, value)) return static_cast<int>(VITALS_INVALID);
          return inst->set_tunable(name, value) == VITALS_OK ? static_cast<int>(VITALS_OK)
                                                             : static_cast<int>(VITALS_ERROR);
        }
      return static_cast<int>(VITALS_INVALID);
    };
  }

  Instance *tuned(const char *id) const {
    if (!id || std::string_view(id) != "test") return nullptr;
    for (Instance *inst : live_)
      if (inst->tunables_service()) return inst;
    return nullptr;
  }

  struct SeriesEntry {
    std::string name, text;
    std::vector<std::pair<std::string, std::string>> labels;
    std::vector<vitals_label_t> c_labels;
    vitals_series_t c{};
  };
  struct MetricSlot {
    std::atomic<double> value{0};
    int type = VITALS_METRIC_COUNTER;
  };
  // Written by the thread that runs query(), read by the test thread.
  struct QueryReply {
    std::atomic<int> status{0};
    std::string body;
  };
  struct Timer {
    uv_timer_t handle;
    vitals_timer_fn fn;
    void *user;
  };
  struct TimerCloser {
    void operator()(Timer *t) const {
      uv_timer_stop(&t->handle);
      uv_close(reinterpret_cast<uv_handle_t *>(&t->handle),
               [](uv_handle_t *h) { delete static_cast<Timer *>(h->data); });
    }
  };

  static Host *self(vitals_host_ctx_t *c) { return reinterpret_cast<Ctx *>(c)->self; }

  // Under mutex_. nullptr if unknown.
  const SeriesEntry *find_series(vitals_series_id_t id) const {
    auto it = series_.find(id);
    return it == series_.end() ? nullptr : it->second.get();
  }

  // As the agent interns (vitals/series_name.hpp): the same refusals, the
  // same canonical text, the same id for the same series.
  vitals_series_id_t intern(const char *name, const vitals_label_t *labels, uint32_t n) {
    SeriesLabels sorted;
    if (!name || !series_labels_from_c(labels, n, sorted) || !canonicalize_series(name, sorted)) return 0;
    std::string text = canonical_series_text(name, sorted);
    std::lock_guard lock(mutex_);
    if (auto it = ids_.find(text); it != ids_.end()) return it->second;
    if (series_.size() >= series_limit_) return 0;  // as the agent at [agent] max_series
    auto entry = std::make_unique<SeriesEntry>();
    entry->name = name;
    entry->text = text;
    entry->labels = std::move(sorted);
    for (auto &[k, v] : entry->labels) entry->c_labels.push_back({k.c_str(), v.c_str()});
    vitals_series_id_t id = series_id_first_candidate(text);
    while (series_.count(id)) id = series_id_next_candidate(id);
    entry->c.id = id;
    entry->c.name = entry->name.c_str();
    entry->c.text = entry->text.c_str();
    entry->c.labels = entry->c_labels.data();
    entry->c.n_labels = static_cast<uint32_t>(entry->c_labels.size());
    series_.emplace(id, std::move(entry));
    ids_[text] = id;
    return id;
  }

  int emit(const vitals_batch_t *b, vitals_ack_fn fn, void *user) {
    if (!b) return VITALS_INVALID;
    if (backpressure_) return VITALS_AGAIN;
    ++emit_calls_;
    {
      std::lock_guard lock(mutex_);
      for (uint32_t i = 0; i < b->n_samples; ++i) {
        const SeriesEntry *entry = find_series(b->series[i]);
        std::string text = entry ? entry->text : "";
        samples_.push_back({text, b->ts_ns[i], b->values[i]});
      }
      for (uint32_t i = 0; i < b->n_events; ++i) {
        const auto &e = b->events[i];
        events_.push_back({e.ts_ns, e.severity, e.source ? e.source : "", e.message ? e.message : ""});
      }
    }
    if (fn) pending_acks_.emplace_back(fn, user);
    return VITALS_OK;
  }

  uint64_t timer_start(uint64_t first, uint64_t repeat, vitals_timer_fn fn, void *user) {
    auto *t = new Timer{{}, fn, user};
    uv_timer_init(&loop_, &t->handle);
    t->handle.data = t;
    uv_timer_start(
        &t->handle,
        [](uv_timer_t *h) {
          auto *timer = static_cast<Timer *>(h->data);
          timer->fn(timer->user);
        },
        first, repeat);
    uint64_t id = ++next_timer_;
    timers_[id] = std::unique_ptr<Timer, TimerCloser>(t);
    return id;
  }

  struct Route {
    std::string method, path;
    uint32_t flags;
    vitals_http_handler_fn fn;
    void *user;
  };

  friend class Instance;

  uv_loop_t loop_{};
  std::string data_dir_;
  Ctx ctx_{};
  vitals_host_t table_{};
  vitals_http_service_t http_{};
  vitals_ws_service_t ws_{};
  vitals_control_service_t control_{};
  vitals_storage_host_service_t storage_{};
  std::vector<std::string> removed_services_;
  std::vector<Instance *> live_;  // created and not yet destroyed
  std::mutex mutex_;
  size_t series_limit_ = SIZE_MAX;
  std::map<vitals_series_id_t, std::unique_ptr<SeriesEntry>> series_;
  std::map<std::string, vitals_series_id_t> ids_;
  std::vector<Sample> samples_;
  std::vector<Event> events_;
  std::vector<LogLine> logs_;
  std::vector<std::pair<uintptr_t, int>> completions_;
  std::map<std::string, std::unique_ptr<MetricSlot>> metrics_;
  std::vector<std::pair<vitals_ack_fn, void *>> pending_acks_;
  std::map<uint64_t, std::unique_ptr<Timer, TimerCloser>> timers_;
  std::vector<Route> routes_;
  std::vector<std::shared_ptr<HttpResult>> results_;  // alive while the plugin may still answer
  uint64_t next_timer_ = 0;
  std::atomic<size_t> ws_frames_created_{0};
  uintptr_t next_ack_token_ = 0;
  std::atomic<size_t> emit_calls_{0};
  bool backpressure_ = false;
};

inline Instance::Instance(Host *host, const vitals_plugin_t *plugin, void *instance)
    : host_(host), plugin_(plugin), inst_(instance) {
  host_->live_.push_back(this);
}

inline Instance::Instance(Instance &&o) noexcept
    : host_(o.host_), plugin_(o.plugin_), inst_(std::exchange(o.inst_, nullptr)) {
  for (auto &p : host_->live_)
    if (p == &o) p = this;
}

inline Instance::~Instance() {
  std::erase(host_->live_, this);
  if (!inst_) return;
  // As the agent does: every ack still pending is delivered (as stopped)
  // before the plugin goes, so none is lost and none outlives its code.
  host_->deliver_acks(VITALS_STOPPED);
  plugin_->destroy(inst_);
}

inline int Instance::consume(const std::vector<Sample> &samples) {
  std::vector<vitals_series_id_t> ids;
  std::vector<int64_t> ts;
  std::vector<double> values;
  for (const auto &s : samples) {
    // Accept "name" or "name{k="v",...}" by interning through the same rules.
    std::string name = s.series.substr(0, s.series.find('{'));
    std::vector<Label> labels;
    if (auto brace = s.series.find('{'); brace != std::string::npos) {
      std::string body = s.series.substr(brace + 1, s.series.size() - brace - 2);
      size_t i = 0;
      while (i < body.size()) {
        size_t eq = body.find('=', i);
        size_t q1 = body.find('"', eq);
        size_t q2 = q1 + 1;
        std::string value;
        while (q2 < body.size() && body[q2] != '"') {
          if (body[q2] == '\\' && q2 + 1 < body.size()) ++q2;
          value += body[q2++];
        }
        labels.push_back({body.substr(i, eq - i), value});
        i = q2 + 1;
        if (i < body.size() && body[i] == ',') ++i;
      }
    }
    ids.push_back(host_->intern(name, labels));
    ts.push_back(s.ts_ns);
    values.push_back(s.value);
  }
  vitals_batch_t b{};
  b.n_samples = static_cast<uint32_t>(ids.size());
  b.series = ids.data();
  b.ts_ns = ts.data();
  b.values = values.data();
  // Each call gets its own ack token (1, 2, 3, ...), as completions() reports.
  return plugin_->consume(inst_, &b, reinterpret_cast<vitals_ack_t *>(++host_->next_ack_token_));
}

}  // namespace vitals::testing
