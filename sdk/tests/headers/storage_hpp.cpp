// storage.hpp alone.
#include "vitals/storage.hpp"

int main() {
  auto request = vitals::storage::parse_request(R"({"op":"stats"})", 0);
  return vitals::storage::to_json(request) == R"({"op":"stats"})" ? 0 : 1;
}
