/* Built against vitals-sdk 1.x: the first fields keep their place across
 * major versions, so the loader names the plugin and tells its author to
 * rebuild. */
#include "fixture_input.h"

VITALS_EXPORT const vitals_plugin_t *vitals_plugin(void) {
  static const vitals_plugin_t descriptor = FIXTURE_INPUT("abi_v1", 1, 3, sizeof(vitals_plugin_t), fixture_collect);
  return &descriptor;
}
