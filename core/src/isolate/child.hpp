// The plugin's side of `isolate = true`: the `vitals` binary started by the
// agent with a hidden verb runs one plugin instance, answering the agent's
// calls on the socket it inherited and passing the plugin's core-table calls
// back (isolated_plugin.hpp has the agent's side).
#pragma once

namespace vitals::core {

// The inherited end of the socket pair.
inline constexpr int kIsolatedChildFd = 3;
// argv[1] of the child: `vitals --isolated-child <component id>`. Not a
// documented verb: only the agent starts it.
inline constexpr const char *kIsolatedChildVerb = "--isolated-child";

// Runs the child until the agent destroys the instance or goes away; the
// process then exits (this does not return).
[[noreturn]] void run_isolated_child(int fd);

}  // namespace vitals::core
