// `isolate = true`: a plugin, unchanged, in a process of its own. The engine
// drives a stand-in descriptor like any plugin; the stand-in's callbacks make
// the same calls in a child process (the `vitals` binary re-executed,
// child.cpp) over a socket pair, and the child's calls to the core table come
// back the same way. A crash, an exit or a call unanswered past the watchdog
// ends the child: its pending work fails, the death is logged and counted
// (vitals_component_restarts_total), and the child is started again after a
// backoff (1 s, doubling to 60 s; back to 1 s once a child ran a minute).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "vitals/plugin.h"

namespace vitals::core {

struct LoadedPlugin;

// Why `plugin` cannot run isolated (one line), or empty. Storage answers
// queries in the agent's process; an optimizer reads and tunes it; HTTP
// routes, WebSockets, the control service and tunables live in the agent.
std::string why_not_isolatable(const vitals_plugin_t &plugin);

// The stand-in for `real`: its name, kind, schema and flags (consume always
// on a thread of its own, since a call waits for the child), with callbacks
// that reach the child. Its create() is never called: Component creates the
// instance with create_isolated_instance(). Keeps `real` in
// LoadedPlugin::isolated.
std::shared_ptr<LoadedPlugin> make_isolated_plugin(const std::shared_ptr<LoadedPlugin> &real);

// Starts the child, loads `real` there and creates the instance; the instance
// pointer the stand-in's callbacks take, or null and the reason (the plugin's
// own create() error, or why the child could not start).
void *create_isolated_instance(const LoadedPlugin &real, const vitals_host_t *host, const std::string &config_json,
                               int64_t watchdog_ns, std::string &error);

// Starts a collect in the child and returns at once; `done` gets the status
// (and the error of a failure) once, from another thread: the child's
// answer, or its death, or the watchdog's kill. Emits made by the collect
// reach the host before `done` is called.
using CollectDone = std::function<void(int status, std::string error)>;
void collect_isolated(void *instance, int64_t now_ns, CollectDone done);

}  // namespace vitals::core
