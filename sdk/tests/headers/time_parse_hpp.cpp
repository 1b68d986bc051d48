// time_parse.hpp alone.
#include "vitals/time_parse.hpp"

int main() {
  std::string error;
  return vitals::parse_time("1970-01-01T00:00:01Z", 0, error).value_or(0) == 1'000'000'000 ? 0 : 1;
}
