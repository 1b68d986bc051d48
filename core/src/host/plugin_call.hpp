// Which plugin call a thread is in: every call from the core into plugin code
// is wrapped in a PluginCall, so that a fatal signal can name the plugin, its
// component, its file and the call (fatal_signal.cpp). On the hot path:
// no allocation, no lock, a few stores into the stack and one thread-local
// pointer. Calls nest (an ack callback inside a consume); each guard restores
// the one before it.
#pragma once

#include <atomic>
#include <utility>

namespace vitals::core {

// Who is being called. The strings are owned by the Component or the
// LoadedPlugin, which outlive every call into them.
struct PluginIdentity {
  const char *component = nullptr;  // null: no instance yet (loading the file)
  const char *plugin = nullptr;     // null: not known yet (loading the file)
  const char *file = nullptr;       // the shared object's path
};

class PluginCall;

namespace detail {
// The innermost call of this thread, or null. initial-exec: the core is
// linked into the executable, and a signal handler may read it.
inline constinit thread_local const PluginCall *current_plugin_call __attribute__((tls_model("initial-exec"))) =
    nullptr;
}  // namespace detail

class PluginCall {
 public:
  // `call` names what runs ("collect", "consume", "HTTP handler GET /x"): a
  // string that outlives the call.
  PluginCall(const PluginIdentity &who, const char *call) : who_(&who), call_(call), prev_(current()) {
    // The fields are written before the pointer that publishes them: a signal
    // arriving in between sees the previous call, never half of this one.
    std::atomic_signal_fence(std::memory_order_release);
    detail::current_plugin_call = this;
  }
  ~PluginCall() {
    std::atomic_signal_fence(std::memory_order_release);
    detail::current_plugin_call = prev_;
  }
  PluginCall(const PluginCall &) = delete;
  PluginCall &operator=(const PluginCall &) = delete;

  // The innermost call on this thread, or null when the core itself runs.
  static const PluginCall *current() { return detail::current_plugin_call; }

  const PluginIdentity &who() const { return *who_; }
  const char *call() const { return call_; }
  const PluginCall *previous() const { return prev_; }

  // Core code that runs inside a plugin call and calls back into another
  // plugin (a stats visitor handing values to the optimizer that asked):
  // for its duration, the call in effect is `outer` again.
  class Resume {
   public:
    explicit Resume(const PluginCall *outer) : saved_(current()) {
      std::atomic_signal_fence(std::memory_order_release);
      detail::current_plugin_call = outer;
    }
    ~Resume() {
      std::atomic_signal_fence(std::memory_order_release);
      detail::current_plugin_call = saved_;
    }
    Resume(const Resume &) = delete;
    Resume &operator=(const Resume &) = delete;

   private:
    const PluginCall *saved_;
  };

 private:
  const PluginIdentity *who_;
  const char *call_;
  const PluginCall *prev_;
};

// Calls fn(args...) as `call` of `who`: one line at each call site.
template <typename Fn, typename... Args>
inline auto call_plugin(const PluginIdentity &who, const char *call, Fn &&fn, Args &&...args) {
  PluginCall guard(who, call);
  return std::forward<Fn>(fn)(std::forward<Args>(args)...);
}

}  // namespace vitals::core
