/* Claims a descriptor 64 bytes longer than the host's. The bytes really
 * exist (a loader that copies struct_size bytes must not crash), but the
 * loader must refuse it: only a newer minor may grow the struct, and then
 * only into the reserved tail. */
#include "fixture_input.h"

static const union {
  vitals_plugin_t descriptor;
  unsigned char bytes[sizeof(vitals_plugin_t) + 64];
} storage = {.descriptor = FIXTURE_INPUT("abi_long_struct", VITALS_ABI_MAJOR, VITALS_ABI_MINOR,
                                         sizeof(vitals_plugin_t) + 64, fixture_collect)};

VITALS_EXPORT const vitals_plugin_t *vitals_plugin(void) { return &storage.descriptor; }
