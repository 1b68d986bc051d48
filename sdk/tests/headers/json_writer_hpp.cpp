// json_writer.hpp must compile on its own.
#include "vitals/json_writer.hpp"

int main() {
  std::string out;
  vitals::json::append_string(out, "a\"b");
  vitals::json::append_int(out, -1);
  vitals::json::append_double(out, 0.5);
  return out == "\"a\\\"b\"-10.5" ? 0 : 1;
}
