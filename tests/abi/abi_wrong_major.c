/* Built for an ABI major the host does not speak: the loader must refuse it
 * before calling anything. */
#include "fixture_input.h"

VITALS_EXPORT const vitals_plugin_t *vitals_plugin(void) {
  static const vitals_plugin_t descriptor = FIXTURE_INPUT("abi_wrong_major", VITALS_ABI_MAJOR + 1, VITALS_ABI_MINOR,
                                                          sizeof(vitals_plugin_t), fixture_collect);
  return &descriptor;
}
