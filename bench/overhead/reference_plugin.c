/* The reference for plugin_load: the smallest shared object that answers
 * vitals_plugin() (a descriptor with a name and nothing else). It is never
 * loaded by the agent; it only sets the floor for dlopen on this machine. */
#include <vitals/plugin.h>

static const vitals_plugin_t descriptor = {
    .abi_major = VITALS_ABI_MAJOR,
    .abi_minor = VITALS_ABI_MINOR,
    .struct_size = sizeof(vitals_plugin_t),
    .name = "reference",
};

VITALS_EXPORT const vitals_plugin_t *vitals_plugin(void) { return &descriptor; }
