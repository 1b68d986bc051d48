// Query and command-line times (core/src/time_parse.cpp): RFC 3339, epoch
// numbers, "now" and relative times, against a fixed now. The input is the
// text as a user would type it in ?from= or --from.
#include "time_parse.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view text(reinterpret_cast<const char *>(data), size);
  constexpr int64_t now = 1'700'000'000'123'456'789;
  std::string error;
  auto t = vitals::core::parse_time(text, now, error);
  if (!t && error.empty()) std::abort();  // every refusal says why
  // The same text again gives the same answer (no hidden state).
  std::string error2;
  if (vitals::core::parse_time(text, now, error2) != t) std::abort();
  return 0;
}
