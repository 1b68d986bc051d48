// For tests whose agents (or their isolated children) die on purpose: no
// core files for them, and whether the build is under AddressSanitizer,
// which owns fatal signals there (its report replaces the agent's line, and
// a crashed process exits with the sanitizer's status).
#pragma once

#include <sys/resource.h>

namespace vitals::test {

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kUnderAsan = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kUnderAsan = true;
#else
inline constexpr bool kUnderAsan = false;
#endif
#else
inline constexpr bool kUnderAsan = false;
#endif

inline void no_core_dumps() {
  rlimit none{0, 0};
  setrlimit(RLIMIT_CORE, &none);
}

}  // namespace vitals::test
