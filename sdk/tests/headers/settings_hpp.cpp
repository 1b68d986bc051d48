// settings.hpp alone: a schema is built at compile time and read at run time.
#include "vitals/settings.hpp"

namespace {
struct Settings {
  std::string name;
  int64_t count = 0;
};
constexpr auto schema =
    vitals::settings<Settings>(vitals::key("name", &Settings::name, "\"x\"", "a name"),
                               vitals::key("count", &Settings::count, "3", "a count", vitals::between("1", "10")));
}  // namespace

int main() {
  Settings s = schema.read(vitals::Config(R"({"name":"y","count":4})"));
  return s.name == "y" && s.count == 4 && schema.fields.size() == 2 ? 0 : 1;
}
