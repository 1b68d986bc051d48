// The systemd readiness protocol, with a real NOTIFY_SOCKET: READY=1 once the
// pipeline runs, RELOADING=1 then READY=1 around a SIGHUP, STOPPING=1 on
// SIGTERM, and WATCHDOG=1 pings when the watchdog is enabled.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "agent_process.hpp"

using namespace vitals::test;

namespace {

// A datagram socket standing in for systemd's notification socket.
class NotifySocket {
 public:
  explicit NotifySocket(const fs::path &path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr *>(&addr), sizeof addr) == 0);
  }
  ~NotifySocket() { ::close(fd_); }
  // Appends every pending datagram to what was received so far.
  const std::string &received() {
    char buf[4096];
    for (ssize_t n; (n = ::recv(fd_, buf, sizeof buf, 0)) > 0;) all_.append(buf, static_cast<size_t>(n)).append("\n");
    return all_;
  }
  bool wait_for_message(const std::string &text, size_t times = 1) {
    return wait_for([&] { return count_occurrences(received(), text) >= times; });
  }

 private:
  fs::path path_;
  int fd_ = -1;
  std::string all_;
};

}  // namespace

TEST_CASE("the agent speaks the systemd notify protocol when NOTIFY_SOCKET is set") {
  AgentProcess agent;
  NotifySocket notify(agent.data_dir() / "notify.sock");
  agent.write_config("p.toml", "[input.a]\nplugin = \"fake_input\"\ninterval = \"1s\"\n");
  agent.set_env("NOTIFY_SOCKET", (agent.data_dir() / "notify.sock").string());
  agent.set_env("WATCHDOG_USEC", "200000");
  agent.start();
  REQUIRE(notify.wait_for_message("READY=1"));
  CHECK(notify.wait_for_message("WATCHDOG=1", 3));  // pinged at half the 200 ms period

  agent.signal(SIGHUP);
  REQUIRE(notify.wait_for_message("RELOADING=1"));
  CHECK(notify.received().find("MONOTONIC_USEC=") != std::string::npos);
  CHECK(notify.wait_for_message("READY=1", 2));

  agent.signal(SIGTERM);
  CHECK(notify.wait_for_message("STOPPING=1"));
  CHECK(agent.wait_exit() == 0);
}
