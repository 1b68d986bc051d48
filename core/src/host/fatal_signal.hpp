// The fatal-signal line: a plugin (or the agent) that faults still kills the
// process, but first one line on stderr names the signal and, when it struck
// inside a plugin call (plugin_call.hpp), the plugin, its component, its file
// and the call, so that systemd's restart is explained in the journal.
#pragma once

#include <cstddef>

namespace vitals::core {

class PluginCall;

// Installs the handler for SIGSEGV, SIGBUS, SIGILL, SIGFPE and SIGABRT (once;
// later calls do nothing) and gives the calling thread an alternate signal
// stack, so that a stack overflow is reported too. Under AddressSanitizer (and
// the other sanitizers that own these signals) it does nothing: their report
// is the crash's explanation there.
void install_fatal_signal_handler();

// Gives the calling thread an alternate signal stack if it has none (once per
// thread; freed when the thread ends). Threads that run plugin code call it:
// the libuv pool before a collect or a query, consumer threads at start.
// Nothing when the handler is not installed.
void ensure_signal_stack();

// What the line says happens next ("the agent stops"); `what` must live
// forever. An isolated plugin's process says that the agent restarts it.
void set_fatal_signal_consequence(const char *what);

// Writes the line for `signum` and `call` (null: outside any plugin call)
// into buf, '\n'-terminated and truncated to fit; returns its length. Only
// async-signal-safe operations.
size_t format_fatal_signal_line(char *buf, size_t cap, int signum, const PluginCall *call);

}  // namespace vitals::core
