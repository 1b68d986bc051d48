// The storage contract's request reader (sdk/include/vitals/storage.hpp over
// json_reader.hpp and time_parse.hpp): the JSON the agent sends a storage,
// parsed into a typed request and checked, as every storage does before it
// touches its data; and what to_json writes back must read the same.
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>

#include "vitals/storage.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  namespace st = vitals::storage;
  std::string_view text(reinterpret_cast<const char *>(data), size);
  constexpr int64_t now = 1'700'000'000'123'456'789;
  st::Request request;
  try {
    request = st::parse_request(text, now);
  } catch (const st::BadRequest &e) {
    if (std::string_view(e.what()).empty()) std::abort();  // every refusal says why
    return 0;
  }
  if (const auto *q = std::get_if<st::RangeQuery>(&request)) {
    if (q->from > q->to || q->points < 1 || q->points > st::max_points) std::abort();  // what it promises
  }
  // The agent's side of the wire: what it writes is read back as the same request.
  std::string wire = st::to_json(request);
  st::Request again = st::parse_request(wire, now);
  if (st::to_json(again) != wire) std::abort();
  std::string rfc3339_error;
  if (!vitals::parse_rfc3339(text.substr(0, 64), rfc3339_error) && rfc3339_error.empty()) std::abort();
  return 0;
}
