// sd_notify wrappers.
#include "service_notify.hpp"

#include <string>

#include "engine/scheduler.hpp"

#ifdef VITALS_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

namespace vitals::core::service {

#ifdef VITALS_HAVE_SYSTEMD
void ready() { sd_notify(0, "READY=1\nSTATUS=running"); }
void reloading() {
  // MONOTONIC_USEC lets systemd match the READY=1 that ends the reload.
  std::string msg = "RELOADING=1\nMONOTONIC_USEC=" + std::to_string(monotonic_ns() / 1000);
  sd_notify(0, msg.c_str());
}
void stopping() { sd_notify(0, "STOPPING=1"); }
void watchdog() { sd_notify(0, "WATCHDOG=1"); }
void status(const char *text) { sd_notifyf(0, "STATUS=%s", text); }
uint64_t watchdog_interval_us() {
  uint64_t usec = 0;
  return sd_watchdog_enabled(0, &usec) > 0 ? usec : 0;
}
#else
void ready() {}
void reloading() {}
void stopping() {}
void watchdog() {}
void status(const char *) {}
uint64_t watchdog_interval_us() { return 0; }
#endif

}  // namespace vitals::core::service
