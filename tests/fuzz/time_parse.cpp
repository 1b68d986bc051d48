// Times as users type them in ?from= or --from, and as the query contract
// reads a string (sdk/include/vitals/time_parse.hpp parse_time): RFC 3339,
// epoch numbers, "now" and relative times, against a fixed now. The same
// bytes also go through the other entry points of that header: the strict
// RFC 3339 reader (JSON telemetry) and epoch integers at each precision
// (line protocol).
#include "vitals/time_parse.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view text(reinterpret_cast<const char *>(data), size);
  constexpr int64_t now = 1'700'000'000'123'456'789;
  std::string error;
  auto t = vitals::parse_time(text, now, error);
  if (!t && error.empty()) std::abort();  // every refusal says why
  // The same text again gives the same answer (no hidden state).
  std::string error2;
  if (vitals::parse_time(text, now, error2) != t) std::abort();
  // A strict RFC 3339 date-time is read the same way by parse_time.
  std::string rfc_error;
  auto strict = vitals::parse_rfc3339(text, rfc_error);
  if (!strict && rfc_error.empty()) std::abort();
  if (strict && strict != t) std::abort();
  for (auto precision :
       {vitals::TimePrecision::ns, vitals::TimePrecision::us, vitals::TimePrecision::ms, vitals::TimePrecision::s}) {
    std::string epoch_error;
    auto ns = vitals::parse_epoch(text, precision, epoch_error);
    if (!ns && epoch_error.empty()) std::abort();
  }
  return 0;
}
