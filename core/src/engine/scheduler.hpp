// Interval scheduling aligned to the wall clock: an input with interval 10s
// collects at :00, :10, :20 of every minute. Every tick is computed from the
// realtime clock, never by adding intervals to a monotonic timer, so there is
// no drift over hours and NTP steps are absorbed at the next tick.
#pragma once

#include <cstdint>

namespace vitals::core {

// The first tick strictly after now_ns that is a multiple of interval_ns since
// the Unix epoch.
inline int64_t next_aligned_tick(int64_t now_ns, int64_t interval_ns) {
  return (now_ns / interval_ns + 1) * interval_ns;
}

// Milliseconds to wait from now_ns until tick_ns, rounded up so the timer
// never fires before the tick (libuv timers have millisecond resolution).
inline uint64_t ms_until(int64_t now_ns, int64_t tick_ns) {
  if (tick_ns <= now_ns) return 0;
  return static_cast<uint64_t>((tick_ns - now_ns + 999'999) / 1'000'000);
}

int64_t wall_clock_ns();
int64_t monotonic_ns();

}  // namespace vitals::core
