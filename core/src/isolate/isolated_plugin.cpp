// The agent's side of an isolated plugin (isolated_plugin.hpp): the stand-in
// descriptor, the child process's life (spawn, watchdog, death, restart with
// backoff) and the core-table calls the child makes.
#include "isolated_plugin.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "channel.hpp"
#include "child.hpp"
#include "engine/pipeline.hpp"
#include "host/host_table.hpp"
#include "host/plugin_loader.hpp"
#include "log.hpp"

extern char **environ;

namespace vitals::core {

using namespace isolate;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kFirstBackoff = std::chrono::seconds(1);
constexpr auto kMaxBackoff = std::chrono::seconds(60);
// What an isolated input's collect emits reaches the loop with the
// collect's answer, one wake for all, up to this much.
constexpr int64_t kMaxDeferredSamples = 64 << 10;
// A stats() call runs on the loop: it waits this long for a busy child, then
// shows the values the child gave last.
constexpr auto kStatsWait = std::chrono::milliseconds(200);

std::string seconds_text(Clock::duration d) {
  double s = std::chrono::duration<double>(d).count();
  char buf[32];
  std::snprintf(buf, sizeof buf, s < 10 ? "%.1fs" : "%.0fs", s);
  return buf;
}

std::string describe_exit(int status) {
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    const char *abbrev = sigabbrev_np(sig);
    return "died by signal " + std::to_string(sig) + (abbrev ? std::string(" (SIG") + abbrev + ")" : "");
  }
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  return "ended (wait status " + std::to_string(status) + ")";
}

// One child process and the channel to it.
struct Child {
  pid_t pid = -1;
  uint64_t generation = 0;
  Clock::time_point started = Clock::now();
  std::unique_ptr<Channel> channel;
  // The watchdog-guarded call in flight ("collect"...), for the death's line.
  std::atomic<const char *> in_call{nullptr};
  std::atomic<bool> collecting{false};       // an asynchronous collect is in flight
  std::atomic<int64_t> deferred_samples{0};  // emitted by it without waking the loop

  std::mutex mutex;
  std::condition_variable cv;
  bool died_unadopted = false;  // under the instance's life_: it died before it was installed
  bool closing = false;         // its channel closed: the pid is being reaped, never signalled again
  bool reaped = false;          // and reaped: `death` says how it ended
  std::string kill_reason;      // set when the agent killed it
  std::string death;

  // The channel's thread only: credit for emits passed on, not given back
  // yet (owed: sent in grains; withheld: until the pipeline takes emits
  // again without going past its cap), and whether a refusal was logged.
  int64_t credit_owed = 0;
  int64_t credit_withheld = 0;
  bool refusal_logged = false;

  // Kills it unless it is already going; the reason is kept for the log.
  void kill_for(const std::string &reason) {
    {
      std::lock_guard lock(mutex);
      if (closing) return;
      if (kill_reason.empty()) kill_reason = reason;
      ::kill(pid, SIGKILL);
    }
    // EOF even if something it started still holds its end of the socket.
    channel->close();
  }
  // How it ended, once reaped (it is, shortly after its channel closed).
  std::string wait_death() {
    std::unique_lock lock(mutex);
    cv.wait(lock, [&] { return reaped; });
    return death;
  }
  bool reaped_within(Clock::duration d) {
    std::unique_lock lock(mutex);
    return cv.wait_for(lock, d, [&] { return reaped; });
  }
};

class IsolatedInstance;

// The user data of an emit whose acknowledgement goes back to the child.
struct EmitAck {
  IsolatedInstance *self;
  uint64_t generation;
  uint64_t emit_id;
};

class IsolatedInstance {
 public:
  IsolatedInstance(const LoadedPlugin &real, const vitals_host_t *host, std::string config_json, int64_t watchdog_ns)
      : real_(real),
        host_(host),
        config_json_(std::move(config_json)),
        watchdog_(std::chrono::nanoseconds(watchdog_ns)) {
    restarts_ = host_->metric(host_->ctx, "vitals_component_restarts_total", VITALS_METRIC_COUNTER,
                              "Times an isolated component's process ended (crash, exit or watchdog kill); "
                              "each is started again after a backoff");
  }

  ~IsolatedInstance() {
    destroying_ = true;
    {
      std::lock_guard lock(life_);
      stopping_ = true;
    }
    life_cv_.notify_all();
    if (supervisor_.joinable()) supervisor_.join();
    std::shared_ptr<Child> child, grave;
    {
      std::lock_guard lock(life_);
      child = std::exchange(current_, nullptr);
      grave = std::exchange(graveyard_, nullptr);
    }
    grave.reset();  // joins its channel's thread, which may still be logging its death
    if (child) {
      // destroy() in the child, which then exits; a child that does not is killed.
      invoke(child, "destroy", Msg::destroy, {});
      if (!child->reaped_within(watchdog_)) child->kill_for("did not exit after destroy");
      child->wait_death();
    }
  }

  // The first child, from create(): its failure is create()'s.
  bool begin(std::string &error) {
    auto child = spawn(error);
    if (!child) return false;
    host_->log(host_->ctx, VITALS_LOG_INFO,
               ("isolated plugin '" + real_.name + "' runs in pid " + std::to_string(child->pid)).c_str());
    std::shared_ptr<Child> kept = child;  // for the report below, past adopt's move
    std::optional<Clock::duration> died;
    {
      std::lock_guard lock(life_);
      died = adopt_locked(std::move(child));
    }
    if (died) report_death(*kept, *died, nullptr);
    supervisor_ = std::thread([this] { supervise(); });
    return true;
  }

  int start() {
    started_ = true;  // a child started later runs start() too
    stop_returned_ = false;
    return invoke(current(), "start", Msg::start, {});
  }
  int stop() {
    started_ = false;
    int status = invoke(current(), "stop", Msg::stop, {});
    // Its answer came after everything the child emitted before it: what
    // comes now was emitted after stop() and is refused, as in process.
    stop_returned_ = true;
    return status;
  }
  int flush() { return invoke(current(), "flush", Msg::flush, {}); }

  // The descriptor's collect(), a correct fallback: the engine schedules an
  // input by it but collects isolated inputs with collect_async().
  int collect(int64_t now_ns) {
    WireWriter w;
    w.put(now_ns);
    return invoke(current(), "collect", Msg::collect, w.take());
  }

  // The engine's collect: asynchronous, so that no thread of the agent waits
  // for the child (a thread hop and two context switches less per collect).
  void collect_async(int64_t now_ns, CollectDone done) {
    auto child = current();
    if (!child) {
      done(VITALS_ERROR, down_message());
      return;
    }
    WireWriter w;
    w.put(now_ns);
    child->in_call = "collect";
    child->deferred_samples = 0;
    child->collecting = true;
    // Called on the child's channel thread, which the Child outlives.
    Child *c = child.get();
    c->channel->call_async(Msg::collect, w.view(), Clock::now() + watchdog_,
                           [this, c, done = std::move(done)](Channel::Result r) {
                             c->collecting = false;
                             if (r.outcome == Channel::Outcome::closed) {  // its death is logged with "during collect"
                               done(VITALS_ERROR, "the plugin's process ended during collect");
                               return;
                             }
                             c->in_call = nullptr;
                             std::string error;
                             int status = status_of(*c, "collect", r, error);
                             done(status, status == VITALS_OK ? std::string() : error);
                           });
  }

  int consume(const vitals_batch_t *batch, vitals_ack_t *ack) {
    auto child = current();
    if (!child) return invoke(child, "consume", Msg::consume, {});
    const auto token = reinterpret_cast<uint64_t>(ack);
    {
      std::lock_guard lock(tokens_mutex_);
      open_tokens_[token] = {child->generation, false};
    }
    thread_local WireWriter w;  // kept: a batch's buffer is reused, not faulted in again
    w.clear();
    w.put(token);
    write_batch(w, *batch);
    if (w.size() + kFrameHeaderBytes > kMaxFrameBytes) {  // the child would take it for a broken peer
      std::lock_guard lock(tokens_mutex_);
      open_tokens_.erase(token);
      set_error("a batch of " + std::to_string(w.size()) + " bytes is beyond what crosses to an isolated process (" +
                std::to_string(kMaxFrameBytes >> 20) + " MiB)");
      return VITALS_ERROR;
    }
    int status = invoke(child, "consume", Msg::consume, w.view());
    std::lock_guard lock(tokens_mutex_);
    auto it = open_tokens_.find(token);
    if (status != VITALS_PENDING) {
      if (it != open_tokens_.end()) open_tokens_.erase(it);
      return status;
    }
    if (it == open_tokens_.end()) return VITALS_PENDING;  // the child completed it already
    if (child_gone(*child)) {                             // died after answering: nobody will complete it
      open_tokens_.erase(it);
      set_error("the plugin's process ended before completing the batch");
      return VITALS_ERROR;
    }
    it->second.answered_pending = true;
    return VITALS_PENDING;
  }

  int stats(vitals_stat_visit_fn visit, void *user) {
    if (auto child = current()) {
      auto r = child->channel->call(Msg::stats, {}, Clock::now() + kStatsWait);
      if (r.outcome == Channel::Outcome::replied) try {
          WireReader in(r.body);
          auto n = in.get<uint32_t>();
          if (n > r.body.size() / 16) throw WireError("stats count beyond the reply");  // name, labels, value
          std::vector<Stat> fresh(n);
          for (auto &s : fresh) {
            s.name = in.str();
            WireLabels labels(in);
            for (uint32_t i = 0; i < labels.size(); ++i)
              s.labels.emplace_back(labels.data()[i].key, labels.data()[i].value);
            s.value = in.get<double>();
          }
          last_stats_ = std::move(fresh);
        } catch (const WireError &) {
          child->kill_for("answered stats with a malformed reply");
        }
    }
    for (const auto &s : last_stats_) {
      std::vector<vitals_label_t> labels;
      for (const auto &[k, v] : s.labels) labels.push_back({k.c_str(), v.c_str()});
      visit(user, s.name.c_str(), labels.data(), static_cast<uint32_t>(labels.size()), s.value);
    }
    return VITALS_OK;
  }

  const char *last_error() {
    thread_local std::string copy;
    std::lock_guard lock(error_mutex_);
    copy = last_error_;
    return copy.c_str();
  }

  // An emit's acknowledgement, on the loop: back to the child that emitted,
  // if it still runs.
  static void on_emit_acked(void *user, int status, const char *error) {
    std::unique_ptr<EmitAck> ack(static_cast<EmitAck *>(user));
    auto child = ack->self->current();
    if (child && child->generation == ack->generation)
      child->channel->send(Msg::ack, ack->emit_id, status_reply(status, error ? error : ""));
  }

 private:
  struct OpenToken {
    uint64_t generation;
    bool answered_pending;  // consume() answered VITALS_PENDING: a complete() is owed
  };
  struct Stat {
    std::string name;
    std::vector<std::pair<std::string, std::string>> labels;
    double value = 0;
  };

  std::shared_ptr<Child> current() {
    std::lock_guard lock(life_);
    return current_;
  }

  bool child_gone(const Child &child) {
    std::lock_guard lock(life_);
    return current_.get() != &child;
  }

  std::string down_message() {
    std::lock_guard lock(life_);
    auto wait = std::max(Clock::duration::zero(), restart_at_ - Clock::now());
    return "the plugin's process is down; restarting in " + seconds_text(wait);
  }

  void set_error(std::string text) {
    std::lock_guard lock(error_mutex_);
    last_error_ = std::move(text);
  }

  // One call into the plugin in the child, answered by a status. A child
  // that is down, dies meanwhile or outlives the watchdog makes it
  // VITALS_ERROR, with last_error() saying which.
  int invoke(const std::shared_ptr<Child> &child, const char *what, Msg type, std::string_view body) {
    if (!child) {
      set_error(down_message());
      return VITALS_ERROR;
    }
    child->in_call = what;
    auto r = child->channel->call(type, body, Clock::now() + watchdog_);
    if (r.outcome == Channel::Outcome::closed) {
      // A call the child died in stays named: its death's line says "during".
      set_error("the plugin's process " + child->wait_death() + " during " + what);
      return VITALS_ERROR;
    }
    child->in_call = nullptr;
    std::string error;
    int status = status_of(*child, what, r, error);
    if (status == VITALS_ERROR) set_error(error);
    return status;
  }

  // The status a replied or timed-out call answers, and the error of a
  // VITALS_ERROR; the child is killed when it outlived the watchdog or
  // answered nonsense. The one reading of an answer, for every call.
  int status_of(Child &child, const char *what, const Channel::Result &r, std::string &error) {
    if (r.outcome == Channel::Outcome::timed_out) {
      child.kill_for(std::string(what) + " did not return within " + seconds_text(watchdog_) + " (watchdog)");
      error =
          std::string("the plugin's process was killed: ") + what + " did not return within " + seconds_text(watchdog_);
      return VITALS_ERROR;
    }
    try {
      int status;
      std::tie(status, error) = read_status_reply(r.body);
      return status;
    } catch (const WireError &) {
      child.kill_for(std::string("answered ") + what + " with a malformed reply");
      error = std::string("the plugin's process answered ") + what + " with a malformed reply";
      return VITALS_ERROR;
    }
  }

  // Starts a child and creates the instance in it (and starts it if the
  // instance was started). Unlocked: it takes a while, and the child's
  // calls back (intern, log) must get through meanwhile.
  std::shared_ptr<Child> spawn(std::string &error) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
      error = std::string("cannot create the socket pair: ") + std::strerror(errno);
      return nullptr;
    }
    if (sv[1] == kIsolatedChildFd) {  // dup2 onto itself would keep close-on-exec
      int moved = ::fcntl(sv[1], F_DUPFD_CLOEXEC, kIsolatedChildFd + 1);
      ::close(sv[1]);
      sv[1] = moved;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, sv[1], kIsolatedChildFd);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
    std::string id = host_->instance_id(host_->ctx);
    std::string arg0 = "vitals", verb = kIsolatedChildVerb;
    char *argv[] = {arg0.data(), verb.data(), id.data(), nullptr};
    pid_t pid = -1;
    int rc = ::posix_spawn(&pid, "/proc/self/exe", &actions, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    ::close(sv[1]);
    if (rc != 0) {
      ::close(sv[0]);
      error = std::string("cannot start the plugin's process: ") + std::strerror(rc);
      return nullptr;
    }
    auto child = std::make_shared<Child>();
    child->pid = pid;
    child->generation = ++generations_;
    Child *c = child.get();
    child->channel = std::make_unique<Channel>(
        sv[0], [this, c](Frame &&f) { on_frame(*c, std::move(f)); }, [this, c](const std::string &) { on_closed(*c); });
    child->channel->start();

    WireWriter init;
    init.put(kProtocolVersion)
        .str(real_.path.string())
        .str(real_.name)
        .put(real_.descriptor.kind)
        .str(id)
        .cstr(host_->data_dir(host_->ctx))
        .put(static_cast<int32_t>(log_level()))
        .str(config_json_);
    int status = invoke(child, "create", Msg::init, init.take());
    if (status == VITALS_OK && started_) status = invoke(child, "start", Msg::start, {});
    if (status != VITALS_OK) {
      error = last_error();
      child->channel->close();
      if (!child->reaped_within(watchdog_)) child->kill_for("did not exit after a failed create");
      child->wait_death();
      return nullptr;
    }
    return child;
  }

  // The child's calls to the core table, on its channel's thread.
  void on_frame(Child &child, Frame &&f) {
    WireReader in(f.body);
    vitals_host_ctx_t *ctx = host_->ctx;
    switch (f.type) {
      case Msg::intern: {
        std::string name(in.str());
        WireLabels labels(in);
        WireWriter w;
        w.put(host_->intern(ctx, name.c_str(), labels.data(), labels.size()));
        child.channel->reply(f.id, w.take());
        return;
      }
      case Msg::series: {
        WireWriter w;
        const vitals_series_t *s = host_->series(ctx, in.get<vitals_series_id_t>());
        w.put<uint8_t>(s != nullptr);
        if (s) {
          w.cstr(s->name).cstr(s->text);
          write_labels(w, s->labels, s->n_labels);
        }
        child.channel->reply(f.id, w.take());
        return;
      }
      case Msg::emit:
        if (f.id == 0) return emitted_one_way(child, f.body);
        return emitted_waiting(child, f.id, f.body);
      case Msg::complete: {
        auto token = in.get<uint64_t>();
        auto [status, error] = read_status_reply(in.str());
        {
          std::lock_guard lock(tokens_mutex_);
          open_tokens_.erase(token);
        }
        host_->complete(ctx, reinterpret_cast<vitals_ack_t *>(token), status, error.empty() ? nullptr : error.c_str());
        return;
      }
      case Msg::log: {
        auto level = in.get<int32_t>();
        host_->log(ctx, level, std::string(in.str()).c_str());
        return;
      }
      case Msg::metric: {
        std::string name(in.str());
        auto type = in.get<int32_t>();
        std::string help(in.str());
        vitals_metric_t *m = host_->metric(ctx, name.c_str(), type, help.c_str());
        uint64_t handle = 0;  // 0: refused; else an index + 1 into metrics_
        if (m) {
          std::lock_guard lock(metrics_mutex_);
          auto it = std::find(metrics_.begin(), metrics_.end(), m);
          if (it == metrics_.end()) it = metrics_.insert(it, m);
          handle = static_cast<uint64_t>(it - metrics_.begin()) + 1;
        }
        WireWriter w;
        w.put(handle);
        child.channel->reply(f.id, w.take());
        return;
      }
      case Msg::metric_update: {
        auto handle = in.get<uint64_t>();
        auto value = in.get<double>();
        vitals_metric_t *m = nullptr;
        {
          std::lock_guard lock(metrics_mutex_);
          if (handle && handle <= metrics_.size()) m = metrics_[handle - 1];
        }
        if (m) host_->metric_update(m, value);
        return;
      }
      default:
        throw WireError("unexpected message type " + std::to_string(static_cast<int>(f.type)));
    }
  }

  // An emit the child made within its credit, told OK already: passed on
  // even past the off-loop cap or the inputs stopping, until this
  // instance's stop() has returned (what a child may send so is bounded by
  // its credit). Past the cap, its credit is withheld until an emit shows
  // the pipeline under the cap again (an emit the cap applies to, taken).
  void emitted_one_way(Child &child, std::string_view body) {
    const auto bytes = static_cast<int64_t>(body.size());
    bool capped = false;
    int status = pass_on(child, body, Admission::normal, capped);
    if (status == VITALS_AGAIN) {
      child.credit_withheld += bytes;
      status = pass_on(child, body, Admission::accepted, capped);
    } else if (status == VITALS_STOPPED && !destroying_ && !stop_returned_) {
      credit_back(child, bytes);
      status = pass_on(child, body, Admission::accepted, capped);
    } else {
      const bool under_cap = status == VITALS_OK && capped;
      credit_back(child, bytes + (under_cap ? std::exchange(child.credit_withheld, 0) : 0));
    }
    if (status != VITALS_OK) refused_after_ok(child, body, status);
  }

  // An emit beyond the credit, waiting for its answer (the pipeline's, AGAIN
  // included); when it was taken under the cap, the credit withheld goes
  // back before the answer.
  void emitted_waiting(Child &child, uint64_t call_id, std::string_view body) {
    bool capped = false;
    int status = pass_on(child, body, Admission::normal, capped);
    const bool under_cap = status == VITALS_OK && capped;
    credit_back(child, under_cap ? std::exchange(child.credit_withheld, 0) : 0, /*now=*/true);
    child.channel->reply(call_id, status_reply(status));
  }

  enum class Admission { normal, accepted };
  // Passes on what the child emitted (its emit frame's body); `capped`
  // says whether the off-loop cap applies to it (samples or events, and no
  // parent delivery).
  int pass_on(Child &child, std::string_view body, Admission admission, bool &capped) {
    if (destroying_) return VITALS_STOPPED;  // an acknowledgement could outlive this instance
    WireReader in(body);
    auto parent = reinterpret_cast<vitals_ack_t *>(in.get<uint64_t>());
    auto emit_id = in.get<uint64_t>();
    WireBatch batch(in);
    const vitals_batch_t *view = batch.view();
    capped = !parent && (view->n_samples || view->n_events);
    EmitAck *ack = emit_id ? new EmitAck{this, child.generation, emit_id} : nullptr;
    vitals_ack_fn fn = ack ? &IsolatedInstance::on_emit_acked : nullptr;
    // In a collect, the collect's answer wakes the loop for these emits too;
    // past kMaxDeferredSamples they wake it now, so that a large collect is
    // routed while it goes on.
    std::optional<Pipeline::DeferInboxWake> one_wake;
    if (child.collecting && child.deferred_samples < kMaxDeferredSamples) {
      one_wake.emplace();
      if (admission == Admission::normal) child.deferred_samples += view->n_samples + view->n_events;
    }
    int status = admission == Admission::accepted ? host_emit_accepted(host_->ctx, parent, view, fn, ack)
                                                  : host_->emit(host_->ctx, parent, view, fn, ack);
    if (status != VITALS_OK) delete ack;  // no acknowledgement follows from the pipeline
    return status;
  }

  // A one-way emit the pipeline refused after the plugin was told OK: its
  // acknowledgement fails, as it would have had the pipeline failed the
  // batch later; without one, the log says so once per child. (STOPPED: the
  // plugin emitted after its stop() returned, which in process it would
  // have been told.)
  void refused_after_ok(Child &child, std::string_view body, int status) {
    WireReader in(body);
    in.get<uint64_t>();
    if (auto emit_id = in.get<uint64_t>()) {
      child.channel->send(Msg::ack, emit_id, status_reply(status, "refused by the pipeline"));
      return;
    }
    if (child.refusal_logged) return;
    child.refusal_logged = true;
    const std::string why = status == VITALS_STOPPED ? "after its stop() returned"
                                                     : "that the pipeline refused (a series it did not intern, or a "
                                                       "malformed batch)";
    host_->log(host_->ctx, VITALS_LOG_WARN,
               ("isolated plugin '" + real_.name + "' emitted a batch " + why + "; dropped").c_str());
  }

  // Gives the child back the credit of `bytes` passed on, in grains (or now).
  void credit_back(Child &child, int64_t bytes, bool now = false) {
    child.credit_owed += bytes;
    if (child.credit_owed >= kCreditGrainBytes || (now && child.credit_owed > 0)) {
      WireWriter w;
      w.put(static_cast<uint64_t>(std::exchange(child.credit_owed, 0)));
      child.channel->send(Msg::credit, 0, w.view());
    }
  }

  // The child's channel closed: reap it and, if it was the running child
  // and the instance is not going away, log, count and schedule a restart.
  void on_closed(Child &child) {
    {
      std::lock_guard lock(child.mutex);
      child.closing = true;
      // It may have closed the socket and lived on: nothing is left to talk to it.
      ::kill(child.pid, SIGKILL);
    }
    int status = 0;
    while (::waitpid(child.pid, &status, 0) < 0 && errno == EINTR) {
    }
    const char *call = child.in_call.load();
    {
      std::lock_guard lock(child.mutex);
      child.death = child.kill_reason.empty() ? describe_exit(status) : "was killed: " + child.kill_reason;
      child.reaped = true;
    }
    child.cv.notify_all();

    std::unique_lock lock(life_);
    if (stopping_) return;
    if (current_.get() != &child) {
      // A start that failed (its caller reports), or one that succeeded and
      // is not installed yet: adopt() buries it then.
      child.died_unadopted = true;
      return;
    }
    auto wait = bury_locked();
    lock.unlock();
    life_cv_.notify_all();
    report_death(child, wait, call);
    fail_open_tokens(child.generation);
  }

  // The running child died: it goes to the graveyard and the next start is
  // scheduled. Returns the wait until then. Under life_.
  Clock::duration bury_locked() {
    auto now = Clock::now();
    if (now - current_->started >= kMaxBackoff) backoff_ = kFirstBackoff;
    auto wait = backoff_;
    backoff_ = std::min<Clock::duration>(backoff_ * 2, kMaxBackoff);
    restart_at_ = now + wait;
    graveyard_ = std::exchange(current_, nullptr);
    return wait;
  }

  // Installs a started child as the running one. One that died in between
  // (its channel closed before this) is buried at once, as its on_closed
  // would have done; the caller then reports it. Under life_.
  std::optional<Clock::duration> adopt_locked(std::shared_ptr<Child> child) {
    current_ = std::move(child);
    if (!current_->died_unadopted) return std::nullopt;
    return bury_locked();
  }

  void report_death(Child &child, Clock::duration wait, const char *call) {
    host_->metric_update(restarts_, 1);
    std::string line = "isolated plugin '" + real_.name + "' (pid " + std::to_string(child.pid) + ") " + child.death;
    if (call && child.kill_reason.empty()) line += std::string(" during ") + call;
    host_->log(host_->ctx, VITALS_LOG_ERROR, (line + "; restarting in " + seconds_text(wait)).c_str());
  }

  // Batches the dead child answered VITALS_PENDING for fail: nobody is left
  // to complete them. (Those it was still in consume() for fail there.)
  void fail_open_tokens(uint64_t generation) {
    std::vector<uint64_t> owed;
    {
      std::lock_guard lock(tokens_mutex_);
      for (auto it = open_tokens_.begin(); it != open_tokens_.end();) {
        if (it->second.generation == generation && it->second.answered_pending) {
          owed.push_back(it->first);
          it = open_tokens_.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (uint64_t token : owed)
      host_->complete(host_->ctx, reinterpret_cast<vitals_ack_t *>(token), VITALS_ERROR,
                      "the isolated plugin's process ended before completing the batch");
  }

  // Restarts the child after each death, once its backoff has passed.
  void supervise() {
    std::unique_lock lock(life_);
    for (;;) {
      life_cv_.wait(lock, [&] { return stopping_ || !current_; });
      if (stopping_) return;
      if (life_cv_.wait_until(lock, restart_at_, [&] { return stopping_; })) return;
      auto grave = std::exchange(graveyard_, nullptr);
      lock.unlock();
      grave.reset();  // joins its channel's thread
      std::string error;
      auto child = spawn(error);
      lock.lock();
      if (stopping_) {  // the destructor ends it like any running child
        current_ = std::move(child);
        return;
      }
      if (child) {
        Child &started = *child;
        host_->log(
            host_->ctx, VITALS_LOG_INFO,
            ("isolated plugin '" + real_.name + "' restarted (pid " + std::to_string(started.pid) + ")").c_str());
        if (auto wait = adopt_locked(std::move(child))) report_death(started, *wait, nullptr);
        continue;
      }
      auto wait = backoff_;
      backoff_ = std::min<Clock::duration>(backoff_ * 2, kMaxBackoff);
      restart_at_ = Clock::now() + wait;
      host_->log(host_->ctx, VITALS_LOG_ERROR,
                 ("isolated plugin '" + real_.name + "' could not be restarted: " + error + "; next try in " +
                  seconds_text(wait))
                     .c_str());
    }
  }

  const LoadedPlugin &real_;
  const vitals_host_t *host_;
  const std::string config_json_;
  const Clock::duration watchdog_;
  vitals_metric_t *restarts_ = nullptr;
  std::atomic<bool> started_{false};
  std::atomic<bool> destroying_{false};     // emits are refused (VITALS_STOPPED) from then on
  std::atomic<bool> stop_returned_{false};  // one-way emits no longer pass a stop in progress
  std::atomic<uint64_t> generations_{0};

  std::mutex life_;
  std::condition_variable life_cv_;
  std::shared_ptr<Child> current_;    // null while down
  std::shared_ptr<Child> graveyard_;  // the dead child, until the supervisor joins its channel
  bool stopping_ = false;
  Clock::duration backoff_ = kFirstBackoff;
  Clock::time_point restart_at_{};
  std::thread supervisor_;

  std::mutex tokens_mutex_;
  std::map<uint64_t, OpenToken> open_tokens_;
  std::mutex metrics_mutex_;
  std::vector<vitals_metric_t *> metrics_;
  std::vector<Stat> last_stats_;  // the loop's only
  std::mutex error_mutex_;
  std::string last_error_;
};

IsolatedInstance *self(void *instance) { return static_cast<IsolatedInstance *>(instance); }

// The stand-in's callbacks.
void *no_create(const vitals_host_t *, const char *, char *err, size_t err_size) {
  std::snprintf(err, err_size, "an isolated plugin is created by the host");
  return nullptr;
}
void isolated_destroy(void *i) { delete self(i); }
int isolated_start(void *i) { return self(i)->start(); }
int isolated_stop(void *i) { return self(i)->stop(); }
int isolated_collect(void *i, int64_t now_ns) { return self(i)->collect(now_ns); }
int isolated_consume(void *i, const vitals_batch_t *b, vitals_ack_t *a) { return self(i)->consume(b, a); }
int isolated_flush(void *i) { return self(i)->flush(); }
int isolated_stats(void *i, vitals_stat_visit_fn visit, void *user) { return self(i)->stats(visit, user); }
const char *isolated_last_error(void *i) { return self(i)->last_error(); }

}  // namespace

std::string why_not_isolatable(const vitals_plugin_t &d) {
  const std::string who = "plugin '" + std::string(d.name) + "'";
  if (d.kind == VITALS_KIND_STORAGE) return who + " is a storage: it answers queries inside the agent";
  if (d.kind == VITALS_KIND_OPTIMIZER) return who + " is an optimizer: it tunes the agent from inside";
  for (uint32_t i = 0; i < d.n_required_services; ++i) {
    std::string name = d.required_services[i].name ? d.required_services[i].name : "";
    if (name == VITALS_SERVICE_HTTP || name == VITALS_SERVICE_WS || name == VITALS_SERVICE_CONTROL)
      return who + " requires " + name + ", which lives in the agent's process";
  }
  for (uint32_t i = 0; i < d.n_provided_services; ++i) {
    std::string name = d.provided_services[i].name ? d.provided_services[i].name : "";
    return who + " provides " + name + ", which an isolated plugin cannot offer";
  }
  return {};
}

void collect_isolated(void *instance, int64_t now_ns, CollectDone done) {
  self(instance)->collect_async(now_ns, std::move(done));
}

std::shared_ptr<LoadedPlugin> make_isolated_plugin(const std::shared_ptr<LoadedPlugin> &real) {
  auto proxy = std::make_shared<LoadedPlugin>(*real);
  proxy->isolated = real;
  proxy->services = {};
  vitals_plugin_t &d = proxy->descriptor;
  const vitals_plugin_t &r = real->descriptor;
  // A consume waits for the child: on a thread of its own, never the loop.
  d.flags = (r.flags & ~uint64_t{VITALS_FLAG_COLLECT_ON_LOOP}) | VITALS_FLAG_CONSUME_ON_THREAD;
  d.provided_services = nullptr;
  d.n_provided_services = 0;
  d.create = no_create;
  d.destroy = isolated_destroy;
  d.start = r.start ? isolated_start : nullptr;
  d.stop = r.stop ? isolated_stop : nullptr;
  d.collect = r.collect ? isolated_collect : nullptr;
  d.consume = r.consume ? isolated_consume : nullptr;
  d.flush = r.flush ? isolated_flush : nullptr;
  d.stats = r.stats ? isolated_stats : nullptr;
  d.last_error = isolated_last_error;
  return proxy;
}

void *create_isolated_instance(const LoadedPlugin &real, const vitals_host_t *host, const std::string &config_json,
                               int64_t watchdog_ns, std::string &error) {
  auto instance = std::make_unique<IsolatedInstance>(real, host, config_json, watchdog_ns);
  if (!instance->begin(error)) return nullptr;
  return instance.release();
}

}  // namespace vitals::core
