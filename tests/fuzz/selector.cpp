// Series selectors (sdk/include/vitals/selector.hpp): Selector::parse and,
// when it parses, matches() against one series. Input lines: the selector,
// then the series name, then labels as key=value (the first '=' splits).
#include "vitals/selector.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "vitals/plugin.hpp"

namespace {

std::string_view next_line(std::string_view &rest) {
  size_t nl = rest.find('\n');
  std::string_view line = rest.substr(0, nl);
  rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  return line;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view rest(reinterpret_cast<const char *>(data), size);
  std::string_view text = next_line(rest);
  std::string_view name = next_line(rest);
  std::vector<vitals::Label> labels;
  while (!rest.empty()) {
    std::string_view line = next_line(rest);
    size_t eq = line.find('=');
    labels.push_back({std::string(line.substr(0, eq)),
                      eq == std::string_view::npos ? std::string() : std::string(line.substr(eq + 1))});
  }
  vitals::Selector sel;
  std::string error;
  if (!vitals::Selector::parse(text, sel, error)) {
    if (error.empty()) std::abort();  // every refusal says why
    return 0;
  }
  if (sel.text() != text) std::abort();
  bool matched = sel.matches(name, labels);
  // A selector that matches everything matches this series too.
  if (sel.matches_everything() && !matched) std::abort();
  // Parsing is deterministic: the same text selects the same.
  vitals::Selector again;
  if (!vitals::Selector::parse(text, again, error) || again.matches(name, labels) != matched) std::abort();
  return 0;
}
