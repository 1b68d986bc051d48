// The sqlite storage's query requests (plugins/storage/sqlite/request.cpp and
// parse_range_query in query.cpp): the JSON a client POSTs to /api/query,
// parsed into fields, times (through sdk/include/vitals/time_parse.hpp) and a
// range query, as QueryEngine::query does before it touches the database.
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>

#include "../../plugins/storage/sqlite/query.hpp"
#include "../../plugins/storage/sqlite/request.hpp"
#include "vitals/time_parse.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace vitals::sqlite;
  std::string_view text(reinterpret_cast<const char *>(data), size);
  constexpr int64_t now = 1'700'000'000'123'456'789;
  std::string error;
  std::optional<Request> req = Request::parse(text, error);
  if (!req) {
    if (error.empty()) std::abort();  // every refusal says why
    return 0;
  }
  try {
    RangeQuery q = parse_range_query(*req, now);
    if (q.from > q.to || q.points < 1 || q.points > max_points) std::abort();  // what it promises
  } catch (const std::invalid_argument &) {
  }
  // Each time-like field on its own, as other ops read them.
  for (const char *key : {"from", "to", "at", "since"}) {
    if (const JsonScalar *v = req->get(key)) {
      try {
        (void)parse_time(*v, now, key);
      } catch (const std::invalid_argument &) {
      }
    }
  }
  try {
    (void)req->string_fields();
  } catch (const std::invalid_argument &) {
  }
  std::string rfc3339_error;
  if (!vitals::parse_rfc3339(text.substr(0, 64), rfc3339_error) && rfc3339_error.empty()) std::abort();
  return 0;
}
