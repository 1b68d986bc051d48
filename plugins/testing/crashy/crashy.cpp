// Test-only plugins that crash or hang on demand, for the crash-containment
// tests (docs/architecture.md, section 5). One source, two plugins:
//   crashy         an input: segfaults in its crash_on_collect-th collect,
//                  overflows its stack in its overflow_on_collect-th, or
//                  sleeps forever in its hang_on_collect-th (1 = the first;
//                  0 = never); otherwise emits one sample crashy{input="<id>"}.
//                  With spawn_sleeper it starts `sleep 30` at create (a
//                  program that outlives it, as a plugin's helper may).
//   crashy_output  an output (consume on the loop): segfaults in its
//                  crash_on_consume-th consume, or hangs in its
//                  hang_on_consume-th.
// The segfault is a real invalid write through a volatile null pointer, not
// raise(), so the signal arrives as a fault does.
#include <spawn.h>

#include <chrono>
#include <string>
#include <thread>

#include "vitals/plugin.hpp"
#include "vitals/settings.hpp"

extern char **environ;

namespace {

[[noreturn]] void segfault() {
  volatile int *volatile nowhere = nullptr;
  *nowhere = 42;
  // Never reached: the write faults.
  for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
}

[[noreturn]] void hang() {
  for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
}

volatile bool keep_recursing = true;

// Recurses until the stack runs out (a fault on the guard page below it):
// each frame holds a buffer the compiler cannot drop, and is no tail call.
int recurse(volatile char *previous, int depth) {
  volatile char frame[1024];
  frame[0] = static_cast<char>(depth);
  frame[sizeof frame - 1] = previous ? previous[0] : 0;
  int deeper = keep_recursing ? recurse(frame, depth + 1) : 0;
  return deeper + frame[1];
}

// Counts calls and misbehaves on the configured one.
void misbehave(const vitals::Host &host, const char *what, int64_t call, int64_t crash_on, int64_t hang_on) {
  if (crash_on && call == crash_on) segfault();
  if (hang_on && call == hang_on) {
    host.info(std::string("crashy: hanging in ") + what);  // what a test waits for
    hang();
  }
}

#ifndef CRASHY_OUTPUT

class Crashy final : public vitals::Input {
 public:
  struct Settings {
    int64_t crash_on_collect = 0, hang_on_collect = 0, overflow_on_collect = 0;
    bool spawn_sleeper = false, emit_first = false;
  };
  static constexpr auto schema = vitals::settings<Settings>(
      vitals::key("crash_on_collect", &Settings::crash_on_collect, "0",
                  "segfault in this collect (1 = the first); 0: never", vitals::at_least("0")),
      vitals::key("hang_on_collect", &Settings::hang_on_collect, "0",
                  "sleep forever in this collect (1 = the first); 0: never", vitals::at_least("0")),
      vitals::key("overflow_on_collect", &Settings::overflow_on_collect, "0",
                  "overflow the stack in this collect (1 = the first); 0: never", vitals::at_least("0")),
      vitals::key("spawn_sleeper", &Settings::spawn_sleeper, "false",
                  "start `sleep 30` at create, which inherits whatever descriptors are not close-on-exec"),
      vitals::key("emit_first", &Settings::emit_first, "false",
                  "emit the collect's sample before misbehaving in it, not after"));

  Crashy(vitals::Host host, const vitals::Config &config) : Input(host), settings_(schema.read(config)) {
    series_ = host.intern("crashy", {{"input", host.instance_id()}});
    if (settings_.spawn_sleeper) {
      char sleep[] = "sleep", seconds[] = "30";
      char *argv[] = {sleep, seconds, nullptr};
      pid_t pid;
      if (posix_spawnp(&pid, "sleep", nullptr, nullptr, argv, environ) == 0)
        host.info("crashy: sleeper " + std::to_string(pid));
    }
  }

  void collect(int64_t now_ns) override {
    ++collects_;
    if (settings_.emit_first) emit(now_ns);
    misbehave(host(), "collect", collects_, settings_.crash_on_collect, settings_.hang_on_collect);
    if (settings_.overflow_on_collect && collects_ == settings_.overflow_on_collect) recurse(nullptr, 0);
    if (!settings_.emit_first) emit(now_ns);
  }

 private:
  void emit(int64_t now_ns) {
    batch_.clear();
    batch_.add(series_, now_ns, static_cast<double>(collects_));
    host().emit(batch_);
  }

  Settings settings_;
  int64_t collects_ = 0;
  vitals::SeriesId series_;
  vitals::Batch batch_;
};

}  // namespace

VITALS_PLUGIN(Crashy, "crashy", "1.0.0", "Test-only input that segfaults or hangs on demand")

#else

class CrashyOutput final : public vitals::Output {
 public:
  struct Settings {
    int64_t crash_on_consume = 0, hang_on_consume = 0;
  };
  static constexpr auto schema = vitals::settings<Settings>(
      vitals::key("crash_on_consume", &Settings::crash_on_consume, "0",
                  "segfault in this consume (1 = the first); 0: never", vitals::at_least("0")),
      vitals::key("hang_on_consume", &Settings::hang_on_consume, "0",
                  "sleep forever in this consume (1 = the first); 0: never", vitals::at_least("0")));

  CrashyOutput(vitals::Host host, const vitals::Config &config) : Output(host), settings_(schema.read(config)) {}

  vitals::Status consume(const vitals::BatchView &, vitals_ack_t *) override {
    misbehave(host(), "consume", ++consumes_, settings_.crash_on_consume, settings_.hang_on_consume);
    return vitals::Status::ok;
  }

 private:
  Settings settings_;
  int64_t consumes_ = 0;
};

}  // namespace

VITALS_PLUGIN(CrashyOutput, "crashy_output", "1.0.0", "Test-only output that segfaults or hangs on demand")

#endif
