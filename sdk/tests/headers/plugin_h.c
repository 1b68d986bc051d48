/* plugin.h alone, as C11 with -pedantic: plugin authors may write plain C. */
#include "vitals/plugin.h"

static int collect(void *instance, int64_t now_ns) {
  (void)instance;
  (void)now_ns;
  return VITALS_OK;
}

int main(void) {
  vitals_plugin_t descriptor = {0};
  descriptor.abi_major = VITALS_ABI_MAJOR;
  descriptor.struct_size = (uint32_t)sizeof descriptor;
  descriptor.collect = collect;
  return descriptor.struct_size >= VITALS_PLUGIN_MIN_SIZE ? 0 : 1;
}
