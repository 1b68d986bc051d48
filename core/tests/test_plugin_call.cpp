// The "current plugin call" slot and the fatal-signal line it feeds: calls
// nest and restore, a callback into the caller's code is the caller's again,
// each thread has its own, and the line names what it should.
#include <doctest/doctest.h>
#include <signal.h>

#include <cstring>
#include <string>
#include <thread>

#include "host/fatal_signal.hpp"
#include "host/plugin_call.hpp"

using namespace vitals::core;

namespace {

std::string line_for(int signum, const PluginCall *call, size_t cap = 4096) {
  std::string buf(cap, '\0');
  size_t n = format_fatal_signal_line(buf.data(), buf.size(), signum, call);
  buf.resize(n);
  return buf;
}

}  // namespace

TEST_CASE("plugin calls nest and each guard restores the one before it") {
  const PluginIdentity storage{"local", "sqlite", "/lib/vitals-sqlite.so"};
  const PluginIdentity input{"telemetry", "http_telemetry", "/lib/vitals-http_telemetry.so"};
  CHECK(PluginCall::current() == nullptr);
  {
    PluginCall consume(storage, "consume");
    CHECK(PluginCall::current() == &consume);
    {
      PluginCall ack(input, "ack callback");
      CHECK(PluginCall::current() == &ack);
      CHECK(ack.previous() == &consume);
      CHECK(std::string(PluginCall::current()->who().component) == "telemetry");
      {
        PluginCall::Resume back(&consume);
        CHECK(PluginCall::current() == &consume);
      }
      CHECK(PluginCall::current() == &ack);
    }
    CHECK(PluginCall::current() == &consume);
    int got = call_plugin(
        input, "collect", [](int x) { return PluginCall::current() ? x : -1; }, 7);
    CHECK(got == 7);
    CHECK(PluginCall::current() == &consume);
  }
  CHECK(PluginCall::current() == nullptr);
}

TEST_CASE("each thread has its own current plugin call") {
  const PluginIdentity who{"boom", "crashy", "/lib/vitals-crashy.so"};
  PluginCall here(who, "collect");
  const PluginCall *seen_there = &here;
  std::thread([&] { seen_there = PluginCall::current(); }).join();
  CHECK(seen_there == nullptr);
  CHECK(PluginCall::current() == &here);
}

TEST_CASE("the fatal-signal line names the signal, the plugin, its component, its file and the call") {
  const PluginIdentity who{"boom", "crashy", "/usr/lib/vitals/plugins/vitals-crashy.so"};
  PluginCall call(who, "collect");
  CHECK(line_for(SIGSEGV, &call) ==
        "vitals: fatal signal SIGSEGV in plugin 'crashy' (component 'boom', "
        "/usr/lib/vitals/plugins/vitals-crashy.so) during collect; the agent stops\n");
  CHECK(line_for(SIGBUS, nullptr) ==
        "vitals: fatal signal SIGBUS in the agent itself (not in a plugin call); the agent stops\n");
  CHECK(line_for(SIGFPE, nullptr).find("SIGFPE") != std::string::npos);
  CHECK(line_for(SIGILL, nullptr).find("SIGILL") != std::string::npos);
  CHECK(line_for(SIGABRT, nullptr).find("SIGABRT") != std::string::npos);
  CHECK(line_for(SIGUSR1, nullptr).find("fatal signal signal " + std::to_string(SIGUSR1) + " ") != std::string::npos);

  // Loading a file: no instance, no name yet.
  const PluginIdentity loading{nullptr, nullptr, "/lib/vitals-x.so"};
  PluginCall load(loading, "vitals_plugin()");
  CHECK(line_for(SIGSEGV, &load) ==
        "vitals: fatal signal SIGSEGV in a plugin (/lib/vitals-x.so) during vitals_plugin(); the agent stops\n");
}

TEST_CASE("the fatal-signal line is cut to the buffer and always ends the line") {
  const PluginIdentity who{"boom", "crashy", "/lib/vitals-crashy.so"};
  PluginCall call(who, "collect");
  std::string cut = line_for(SIGSEGV, &call, 24);
  CHECK(cut.size() == 24);
  CHECK(cut == "vitals: fatal signal SI\n");
  CHECK(line_for(SIGSEGV, &call, 1).empty());
}
