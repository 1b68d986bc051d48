/* Claims a descriptor shorter than the smallest a 1.x host accepts: the
 * loader must refuse it rather than read callbacks that may not exist. */
#include "fixture_input.h"

VITALS_EXPORT const vitals_plugin_t *vitals_plugin(void) {
  static const vitals_plugin_t descriptor = FIXTURE_INPUT("abi_short_struct", VITALS_ABI_MAJOR, VITALS_ABI_MINOR,
                                                          VITALS_PLUGIN_MIN_SIZE - 8, fixture_collect);
  return &descriptor;
}
