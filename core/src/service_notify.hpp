// systemd readiness protocol (sd_notify) when NOTIFY_SOCKET is set; no-ops
// otherwise or when built without libsystemd.
#pragma once

#include <cstdint>

namespace vitals::core::service {

void ready();
void reloading();
void stopping();
void watchdog();
void status(const char *text);
// The watchdog interval systemd expects pings within, 0 if not enabled.
uint64_t watchdog_interval_us();

}  // namespace vitals::core::service
