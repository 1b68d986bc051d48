// selector.hpp alone; matches() is a template, so it is instantiated here.
#include "vitals/selector.hpp"

namespace {
struct Label {
  const char *key;
  const char *value;
};
}  // namespace

int main() {
  vitals::Selector selector;
  std::string error;
  const Label labels[] = {{"cpu", "0"}};
  bool ok = vitals::Selector::parse("cpu_*{cpu=~\"[0-9]+\"}", selector, error) && selector.matches("cpu_user", labels);
  return ok ? 0 : 1;
}
