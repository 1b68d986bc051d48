// The fatal-signal line. The handler runs on whatever state the fault left
// behind: it uses only async-signal-safe calls (write, sigaction,
// pthread_sigmask, raise), no allocation, no stdio, and reads the thread's
// current plugin call (plugin_call.hpp) through a pointer published with a
// signal fence. Then the signal takes its course as if we were not there:
// the process dies by it (and dumps core where that is enabled), which is
// what systemd's Restart=on-failure expects.
#include "fatal_signal.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>

#include "plugin_call.hpp"

namespace vitals::core {

namespace {

// AddressSanitizer, ThreadSanitizer and MemorySanitizer handle these signals
// themselves (their report, with its stack, is the better explanation) and
// manage alternate stacks of their own: leave both to them.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitizerOwnsSignals = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
constexpr bool kSanitizerOwnsSignals = true;
#else
constexpr bool kSanitizerOwnsSignals = false;
#endif
#else
constexpr bool kSanitizerOwnsSignals = false;
#endif

constexpr int kSignals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
constexpr size_t kSignalCount = sizeof kSignals / sizeof kSignals[0];

// What each signal did before: the default action, or a handler installed
// earlier (UBSan's, a debugger's), which gets the signal after our line.
struct sigaction previous_actions[kSignalCount];
std::atomic<bool> installed{false};

const char *signal_name(int signum) {
  switch (signum) {
    case SIGSEGV:
      return "SIGSEGV";
    case SIGBUS:
      return "SIGBUS";
    case SIGILL:
      return "SIGILL";
    case SIGFPE:
      return "SIGFPE";
    case SIGABRT:
      return "SIGABRT";
    default:
      return nullptr;
  }
}

// Appends into a fixed buffer, always leaving room for the final '\n'.
struct LineBuffer {
  char *buf;
  size_t cap;
  size_t len = 0;

  void add(const char *s) {
    if (!s) s = "?";
    while (*s && len + 2 <= cap) buf[len++] = *s++;
  }
  void add_number(unsigned v) {
    char digits[12];
    size_t n = 0;
    do {
      digits[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v && n < sizeof digits);
    while (n && len + 2 <= cap) buf[len++] = digits[--n];
  }
};

void write_all(const char *data, size_t len) {
  while (len > 0) {
    ssize_t n = ::write(STDERR_FILENO, data, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    data += n;
    len -= static_cast<size_t>(n);
  }
}

void on_fatal_signal(int signum, siginfo_t *info, void *) {
  const int saved_errno = errno;
  std::atomic_signal_fence(std::memory_order_acquire);
  // Plugin paths are at most PATH_MAX; the rest of the line is short.
  char line[4096 + 512];
  write_all(line, format_fatal_signal_line(line, sizeof line, signum, PluginCall::current()));

  // Hand the signal back to whoever had it before (the default action,
  // mostly). SA_RESETHAND already restored the default; this puts back a
  // previous handler too.
  for (size_t i = 0; i < kSignalCount; ++i) {
    if (kSignals[i] != signum) continue;
    struct sigaction before = previous_actions[i];
    if (before.sa_handler == SIG_IGN) before.sa_handler = SIG_DFL;
    sigaction(signum, &before, nullptr);
  }
  // A fault (si_code > 0: raised by the kernel for an instruction) recurs
  // when the handler returns, and meets that action at the faulting
  // instruction itself, which keeps a core dump's stack where it was. A
  // signal that was sent (kill, abort(), raise) is sent again, unblocked.
  if (info && info->si_code > 0 && signum != SIGABRT) {
    errno = saved_errno;
    return;
  }
  sigset_t unblock;
  sigemptyset(&unblock);
  sigaddset(&unblock, signum);
  pthread_sigmask(SIG_UNBLOCK, &unblock, nullptr);
  raise(signum);
  errno = saved_errno;
}

// This thread's alternate signal stack, if it got one from us: a stack
// overflow leaves no room on the thread's own stack to run the handler.
struct AltStack {
  void *base = nullptr;
  size_t size = 0;
  bool done = false;
  ~AltStack() {
    if (!base) return;
    stack_t off{};
    off.ss_flags = SS_DISABLE;
    sigaltstack(&off, nullptr);
    munmap(base, size);
  }
};
thread_local AltStack alt_stack;

// What the line says follows; a string literal, read in the handler.
std::atomic<const char *> consequence{"the agent stops"};

}  // namespace

void set_fatal_signal_consequence(const char *what) { consequence.store(what, std::memory_order_relaxed); }

size_t format_fatal_signal_line(char *buf, size_t cap, int signum, const PluginCall *call) {
  if (cap < 2) return 0;
  LineBuffer line{buf, cap};
  line.add("vitals: fatal signal ");
  if (const char *name = signal_name(signum)) {
    line.add(name);
  } else {
    line.add("signal ");
    line.add_number(static_cast<unsigned>(signum));
  }
  if (call) {
    const PluginIdentity &who = call->who();
    if (who.plugin) {
      line.add(" in plugin '");
      line.add(who.plugin);
      line.add("'");
    } else {
      line.add(" in a plugin");
    }
    line.add(" (");
    if (who.component) {
      line.add("component '");
      line.add(who.component);
      line.add("', ");
    }
    line.add(who.file && *who.file ? who.file : "linked in");
    line.add(") during ");
    line.add(call->call());
  } else {
    line.add(" in the agent itself (not in a plugin call)");
  }
  line.add("; ");
  line.add(consequence.load(std::memory_order_relaxed));
  buf[line.len++] = '\n';
  return line.len;
}

void ensure_signal_stack() {
  if (!installed.load(std::memory_order_relaxed)) return;
  AltStack &alt = alt_stack;
  if (alt.done) return;
  alt.done = true;
  stack_t current{};
  if (sigaltstack(nullptr, &current) == 0 && !(current.ss_flags & SS_DISABLE)) return;  // it has one
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t size = std::max<size_t>(64 * 1024, static_cast<size_t>(SIGSTKSZ));
  // The page below it is a guard: an overflow of the handler's own stack
  // faults instead of writing over whatever is mapped there.
  void *base = mmap(nullptr, size + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (base == MAP_FAILED) return;
  mprotect(base, page, PROT_NONE);
  stack_t stack{};
  stack.ss_sp = static_cast<char *>(base) + page;
  stack.ss_size = size;
  if (sigaltstack(&stack, nullptr) != 0) {
    munmap(base, size + page);
    return;
  }
  alt.base = base;
  alt.size = size + page;
}

void install_fatal_signal_handler() {
  if constexpr (kSanitizerOwnsSignals) return;
  if (installed.exchange(true)) return;
  ensure_signal_stack();
  for (size_t i = 0; i < kSignalCount; ++i) {
    struct sigaction action {};
    action.sa_sigaction = on_fatal_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND;
    sigaction(kSignals[i], &action, &previous_actions[i]);
  }
}

}  // namespace vitals::core
