// plugin.h alone, as C++: the extern "C" block and the enums must compile here too.
#include "vitals/plugin.h"

int main() {
  vitals_plugin_t descriptor{};
  descriptor.abi_major = VITALS_ABI_MAJOR;
  descriptor.kind = VITALS_KIND_INPUT;
  descriptor.struct_size = sizeof descriptor;
  vitals_plugin_entry_fn entry = nullptr;
  return entry == nullptr && descriptor.struct_size >= VITALS_PLUGIN_MIN_SIZE ? 0 : 1;
}
