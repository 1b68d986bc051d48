// The isolated plugin's process (child.hpp). Three threads, as the plugin
// would have them in the agent: a libuv loop (create, start, stop, destroy,
// stats, timers, ack callbacks, and collect or consume when the plugin asks
// for the loop), a worker (collect otherwise, as on the pool; consume and
// flush with VITALS_FLAG_CONSUME_ON_THREAD, as on a consumer thread), and the
// channel's thread, which reads the agent's calls and hands them to the
// other two. It runs no plugin code, so the replies a plugin's thread waits
// for (intern, series, metric, an emit beyond the credit) are read whatever
// the plugin's other threads do.
#include "child.hpp"

#include <fcntl.h>
#include <signal.h>
#include <uv.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "channel.hpp"
#include "engine/uv_timer.hpp"
#include "host/fatal_signal.hpp"
#include "host/plugin_call.hpp"
#include "host/plugin_loader.hpp"
#include "log.hpp"

namespace vitals::core {

using namespace isolate;

namespace {

// The delivery whose consume() runs on this thread: what it emits joins that
// batch's acknowledgement, as in the agent.
thread_local uint64_t consuming_token = 0;

// A series as the agent described it, kept for the process's life.
struct KnownSeries {
  vitals_series_t series{};
  std::deque<std::string> strings;
  std::vector<vitals_label_t> labels;
};

struct ChildMetric {
  uint64_t handle;  // the agent's
};

// Runs one of the agent's calls. A malformed message from the agent (it is
// the same binary: a bug) ends this process with a line; the agent restarts it.
void run_guarded(const std::function<void()> &task) {
  try {
    task();
  } catch (const std::exception &e) {
    log_error("isolate", std::string("isolated process: ") + e.what());
    ::_exit(70);
  }
}

// A thread that runs tasks in order.
class Worker {
 public:
  Worker() : thread_([this] { run(); }) {}
  void post(std::function<void()> task) {
    {
      std::lock_guard lock(mutex_);
      tasks_.push_back(std::move(task));
    }
    cv_.notify_one();
  }

 private:
  void run() {
    ensure_signal_stack();
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] { return !tasks_.empty(); });
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      run_guarded(task);
    }
  }
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  std::thread thread_;  // last: starts once the rest exists; never joined (the process _exits)
};

class ChildProcess {
 public:
  [[noreturn]] void run(int fd) {
    uv_loop_init(&loop_);
    uv_async_init(&loop_, &async_, [](uv_async_t *a) { static_cast<ChildProcess *>(a->data)->run_loop_tasks(); });
    async_.data = this;
    channel_ = std::make_unique<Channel>(
        fd, [this](Frame &&f) { on_frame(std::move(f)); },
        // The agent went away (or broke the protocol): nothing is left to do.
        [](const std::string &) { ::_exit(0); });
    channel_->start();
    uv_run(&loop_, UV_RUN_DEFAULT);
    ::_exit(0);
  }

 private:
  const vitals_plugin_t &plugin() const { return plugin_->descriptor; }
  static ChildProcess &of(vitals_host_ctx_t *ctx) { return *reinterpret_cast<ChildProcess *>(ctx); }

  void post_loop(std::function<void()> task) {
    {
      std::lock_guard lock(tasks_mutex_);
      loop_tasks_.push_back(std::move(task));
    }
    uv_async_send(&async_);
  }
  void run_loop_tasks() {
    std::deque<std::function<void()>> tasks;
    {
      std::lock_guard lock(tasks_mutex_);
      tasks.swap(loop_tasks_);
    }
    for (auto &task : tasks) run_guarded(task);
  }

  // The agent's calls, on the channel's thread: each runs where the plugin
  // expects it and is answered from there.
  void on_frame(Frame &&f) {
    auto on_loop = [&](auto fn) { post_loop([this, f = std::move(f), fn]() mutable { (this->*fn)(f); }); };
    auto on_worker = [&](auto fn) { worker_.post([this, f = std::move(f), fn]() mutable { (this->*fn)(f); }); };
    switch (f.type) {
      case Msg::init:
        return on_loop(&ChildProcess::init);
      case Msg::start:
        return on_loop(&ChildProcess::start);
      case Msg::stop:
        return on_loop(&ChildProcess::stop);
      case Msg::destroy:
        return on_loop(&ChildProcess::destroy);
      case Msg::stats:
        return on_loop(&ChildProcess::stats);
      case Msg::ack:
        return on_loop(&ChildProcess::acked);
      case Msg::credit:  // here, at once: an emit waiting for credit needs no other thread
        credit_ += WireReader(f.body).get<uint64_t>();
        return;
      case Msg::collect:
        if (instance_ && (plugin().flags & VITALS_FLAG_COLLECT_ON_LOOP)) return on_loop(&ChildProcess::collect);
        return on_worker(&ChildProcess::collect);
      case Msg::consume:
        if (instance_ && !(plugin().flags & VITALS_FLAG_CONSUME_ON_THREAD)) return on_loop(&ChildProcess::consume);
        return on_worker(&ChildProcess::consume);
      case Msg::flush:
        if (instance_ && !(plugin().flags & VITALS_FLAG_CONSUME_ON_THREAD)) return on_loop(&ChildProcess::flush);
        return on_worker(&ChildProcess::flush);
      default:
        throw WireError("unexpected message type " + std::to_string(static_cast<int>(f.type)));
    }
  }

  void answer(const Frame &f, int status) {
    channel_->reply(f.id, status_reply(status, status == VITALS_ERROR ? error_text() : std::string()));
  }
  std::string error_text() {
    if (instance_ && plugin().last_error)
      if (const char *e = call_plugin(identity_, "last_error", plugin().last_error, instance_); e && *e) return e;
    return "failed without a message";
  }

  void init(Frame &f) {
    WireReader in(f.body);
    auto version = in.get<uint32_t>();
    if (version != kProtocolVersion) {
      channel_->reply(f.id, status_reply(VITALS_ERROR, "the vitals binary on disk speaks isolation protocol " +
                                                           std::to_string(kProtocolVersion) + ", the agent " +
                                                           std::to_string(version) + ": restart the agent"));
      return;
    }
    std::string path(in.str()), name(in.str());
    auto kind = in.get<uint32_t>();
    id_ = in.str();
    data_dir_ = in.str();
    set_log_level(static_cast<LogLevel>(in.get<int32_t>()));
    std::string config_json(in.str());
    std::string error;
    plugin_ = load_plugin_file(path, error);
    if (plugin_ && (plugin_->name != name || plugin().kind != kind))
      error = path + " is no longer the plugin '" + name + "' the agent loaded";
    if (!error.empty()) {
      plugin_.reset();
      channel_->reply(f.id, status_reply(VITALS_ERROR, error));
      return;
    }
    identity_ = {id_.c_str(), plugin_->name.c_str(), plugin_->path.c_str()};
    host_ = core_table();
    char err[1024] = "";
    instance_ = call_plugin(identity_, "create", plugin().create, &host_, config_json.c_str(), err, sizeof err);
    if (!instance_)
      channel_->reply(f.id, status_reply(VITALS_ERROR, err[0] ? err : "create() failed without a message"));
    else
      answer(f, VITALS_OK);
  }

  int call_optional(const char *what, int (*fn)(void *)) {
    return fn ? call_plugin(identity_, what, fn, instance_) : VITALS_OK;
  }
  void start(Frame &f) { answer(f, call_optional("start", plugin().start)); }
  void stop(Frame &f) {
    timers_.clear();  // as the agent stops an instance's timers before stop()
    answer(f, call_optional("stop", plugin().stop));
  }
  void flush(Frame &f) { answer(f, call_optional("flush", plugin().flush)); }

  void destroy(Frame &f) {
    timers_.clear();
    if (instance_) call_plugin(identity_, "destroy", plugin().destroy, instance_);
    instance_ = nullptr;
    answer(f, VITALS_OK);
    channel_->drain(std::chrono::seconds(1));
    ::_exit(0);
  }

  void collect(Frame &f) {
    WireReader in(f.body);
    auto now_ns = in.get<int64_t>();
    answer(f, call_plugin(identity_, "collect", plugin().collect, instance_, now_ns));
  }

  void consume(Frame &f) {
    WireReader in(f.body);
    auto token = in.get<uint64_t>();
    WireBatch batch(in);
    consuming_token = token;
    int status = call_plugin(identity_, "consume", plugin().consume, instance_, batch.view(),
                             reinterpret_cast<vitals_ack_t *>(token));
    consuming_token = 0;
    answer(f, status);
  }

  void stats(Frame &f) {
    WireWriter values;
    uint32_t n = 0;
    struct Visit {
      WireWriter &out;
      uint32_t &n;
    } visit{values, n};
    if (plugin().stats)
      call_plugin(
          identity_, "stats", plugin().stats, instance_,
          [](void *user, const char *name, const vitals_label_t *labels, uint32_t n_labels, double value) {
            auto &v = *static_cast<Visit *>(user);
            v.out.cstr(name);
            write_labels(v.out, labels, n_labels);
            v.out.put(value);
            ++v.n;
          },
          &visit);
    WireWriter w;
    w.put(n);
    channel_->reply(f.id, w.take() + values.take());
  }

  void acked(Frame &f) {
    vitals_ack_fn fn = nullptr;
    void *user = nullptr;
    {
      std::lock_guard lock(acks_mutex_);
      auto it = acks_.find(f.id);
      if (it == acks_.end()) return;
      std::tie(fn, user) = it->second;
      acks_.erase(it);
    }
    auto [status, error] = read_status_reply(f.body);
    call_plugin(identity_, "ack callback", fn, user, status, error.empty() ? nullptr : error.c_str());
  }

  // ---- the core table the plugin gets: calls back to the agent ----------------

  vitals_host_t core_table() {
    vitals_host_t t{};
    t.struct_size = sizeof t;
    t.abi_minor = VITALS_ABI_MINOR;
    t.ctx = reinterpret_cast<vitals_host_ctx_t *>(this);
    // No service reaches across the process boundary: a plugin that requires
    // one is refused before it gets here; one that can do without does.
    t.get_service = [](vitals_host_ctx_t *, const char *, uint32_t) -> const void * { return nullptr; };
    t.log = [](vitals_host_ctx_t *ctx, int level, const char *message) {
      WireWriter w;
      w.put<int32_t>(level).cstr(message);
      of(ctx).channel_->send(Msg::log, 0, w.view());
    };
    t.intern = [](vitals_host_ctx_t *ctx, const char *name, const vitals_label_t *labels, uint32_t n) {
      if (!name || (n && !labels)) return vitals_series_id_t{0};
      WireWriter w;
      w.cstr(name);
      write_labels(w, labels, n);
      auto r = of(ctx).channel_->call(Msg::intern, w.take());
      return r.outcome == Channel::Outcome::replied ? WireReader(r.body).get<vitals_series_id_t>() : 0;
    };
    t.series = [](vitals_host_ctx_t *ctx, vitals_series_id_t id) { return of(ctx).series(id); };
    t.emit = [](vitals_host_ctx_t *ctx, vitals_ack_t *parent, const vitals_batch_t *batch, vitals_ack_fn fn,
                void *user) { return of(ctx).emit(parent, batch, fn, user); };
    t.complete = [](vitals_host_ctx_t *ctx, vitals_ack_t *ack, int status, const char *error) {
      WireWriter w;
      w.put(reinterpret_cast<uint64_t>(ack)).str(status_reply(status, error ? error : ""));
      of(ctx).channel_->send(Msg::complete, 0, w.view());
    };
    t.loop = [](vitals_host_ctx_t *ctx) { return &of(ctx).loop_; };
    t.timer_start = [](vitals_host_ctx_t *ctx, uint64_t first_ms, uint64_t repeat_ms, vitals_timer_fn fn, void *user) {
      auto &self = of(ctx);
      uint64_t id = ++self.next_timer_;
      auto timer = std::make_unique<UvTimer>(
          &self.loop_, [&self, fn, user] { call_plugin(self.identity_, "timer callback", fn, user); });
      timer->start(first_ms, repeat_ms);
      self.timers_[id] = std::move(timer);
      return id;
    };
    t.timer_stop = [](vitals_host_ctx_t *ctx, uint64_t id) { of(ctx).timers_.erase(id); };
    t.metric = [](vitals_host_ctx_t *ctx, const char *name, int type, const char *help) -> vitals_metric_t * {
      auto &self = of(ctx);
      WireWriter w;
      w.cstr(name).put<int32_t>(type).cstr(help);
      auto r = self.channel_->call(Msg::metric, w.take());
      if (r.outcome != Channel::Outcome::replied) return nullptr;
      auto handle = WireReader(r.body).get<uint64_t>();
      if (!handle) return nullptr;
      std::lock_guard lock(self.metrics_mutex_);
      return reinterpret_cast<vitals_metric_t *>(&self.metrics_.emplace_back(ChildMetric{handle}));
    };
    t.metric_update = [](vitals_metric_t *m, double value) {
      if (!m) return;
      WireWriter w;
      w.put(reinterpret_cast<ChildMetric *>(m)->handle).put(value);
      the_child->channel_->send(Msg::metric_update, 0, w.view());
    };
    t.data_dir = [](vitals_host_ctx_t *ctx) { return of(ctx).data_dir_.c_str(); };
    t.instance_id = [](vitals_host_ctx_t *ctx) { return of(ctx).id_.c_str(); };
    return t;
  }

  const vitals_series_t *series(vitals_series_id_t id) {
    {
      std::lock_guard lock(series_mutex_);
      if (auto it = series_.find(id); it != series_.end()) return &it->second->series;
    }
    WireWriter w;
    w.put(id);
    auto r = channel_->call(Msg::series, w.take());
    if (r.outcome != Channel::Outcome::replied) return nullptr;
    WireReader in(r.body);
    if (!in.get<uint8_t>()) return nullptr;
    auto known = std::make_unique<KnownSeries>();
    known->series.id = id;
    known->series.name = known->strings.emplace_back(in.str()).c_str();
    known->series.text = known->strings.emplace_back(in.str()).c_str();
    WireLabels labels(in);
    for (uint32_t i = 0; i < labels.size(); ++i) {
      const char *key = known->strings.emplace_back(labels.data()[i].key).c_str();
      known->labels.push_back({key, known->strings.emplace_back(labels.data()[i].value).c_str()});
    }
    known->series.labels = known->labels.data();
    known->series.n_labels = labels.size();
    std::lock_guard lock(series_mutex_);
    // Another thread may have asked for it meanwhile: the first answer stays.
    return &series_.try_emplace(id, std::move(known)).first->second->series;
  }

  int emit(vitals_ack_t *parent, const vitals_batch_t *batch, vitals_ack_fn fn, void *user) {
    if (!batch || (batch->n_samples && (!batch->series || !batch->ts_ns || !batch->values)) ||
        (batch->n_events && !batch->events))
      return VITALS_INVALID;
    uint64_t parent_token = parent ? reinterpret_cast<uint64_t>(parent) : consuming_token;
    uint64_t emit_id = 0;
    if (fn) {
      std::lock_guard lock(acks_mutex_);
      emit_id = ++next_emit_id_;
      acks_[emit_id] = {fn, user};
    }
    thread_local WireWriter w;  // kept: a batch's buffer is reused, not faulted in again
    w.clear();
    w.put(parent_token).put(emit_id);
    write_batch(w, *batch);
    auto forget_ack = [&] {
      if (!emit_id) return;
      std::lock_guard lock(acks_mutex_);
      acks_.erase(emit_id);
    };
    if (w.size() + kFrameHeaderBytes > kMaxFrameBytes) {  // the agent would take it for a broken peer
      forget_ack();
      return VITALS_INVALID;
    }
    // Within the credit, one way: the plugin goes on at once, the agent
    // sees this batch before anything this thread sends after it (the
    // collect's answer, a complete()), and takes it even past its off-loop
    // cap or a stop in progress.
    if (spend_credit(static_cast<int64_t>(w.size()))) {
      channel_->send(Msg::emit, 0, w.view());
      return VITALS_OK;
    }
    auto r = channel_->call(Msg::emit, w.view());
    int status = r.outcome == Channel::Outcome::replied ? read_status_reply(r.body).first : VITALS_STOPPED;
    if (status != VITALS_OK) forget_ack();
    return status;
  }

  bool spend_credit(int64_t bytes) {
    int64_t have = credit_.load();
    while (have >= bytes)
      if (credit_.compare_exchange_weak(have, have - bytes)) return true;
    return false;
  }

 public:
  static inline ChildProcess *the_child = nullptr;  // for metric_update, which gets no ctx

 private:
  uv_loop_t loop_{};
  uv_async_t async_{};
  std::mutex tasks_mutex_;
  std::deque<std::function<void()>> loop_tasks_;
  std::unique_ptr<Channel> channel_;

  std::shared_ptr<LoadedPlugin> plugin_;
  PluginIdentity identity_;
  std::string id_, data_dir_;
  vitals_host_t host_{};
  void *instance_ = nullptr;

  std::mutex series_mutex_;
  std::unordered_map<vitals_series_id_t, std::unique_ptr<KnownSeries>> series_;
  std::mutex acks_mutex_;
  uint64_t next_emit_id_ = 0;
  std::unordered_map<uint64_t, std::pair<vitals_ack_fn, void *>> acks_;
  std::atomic<int64_t> credit_{kEmitWindowBytes};        // bytes this process may emit one way
  std::map<uint64_t, std::unique_ptr<UvTimer>> timers_;  // the loop's only
  uint64_t next_timer_ = 0;
  std::mutex metrics_mutex_;
  std::deque<ChildMetric> metrics_;  // a deque: handles given out stay put
  Worker worker_;
};

}  // namespace

void run_isolated_child(int fd) {
  // Never destroyed: the process ends with _exit, whichever thread ends it.
  // The agent decides when this process ends (destroy, or the socket
  // closing when the agent is gone); a stop signal to the whole group, as
  // systemd and a terminal's Ctrl-C send, is the agent's to act on.
  // A handler that does nothing, not SIG_IGN: a program the plugin runs gets
  // the default back at exec.
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) ::signal(sig, [](int) {});
  set_fatal_signal_consequence("its isolated process stops and the agent restarts it");
  // The socket is this process's alone: a program the plugin runs must not
  // hold it open after this process is gone (the agent waits for EOF).
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  auto *child = new ChildProcess;
  ChildProcess::the_child = child;
  child->run(fd);
}

}  // namespace vitals::core
