/* Built against a newer minor than the host's: it may rely on host services
 * this host lacks, so the loader must refuse it. */
#include "fixture_input.h"

VITALS_EXPORT const vitals_plugin_t *vitals_plugin(void) {
  static const vitals_plugin_t descriptor = FIXTURE_INPUT("abi_newer_minor", VITALS_ABI_MAJOR, VITALS_ABI_MINOR + 1,
                                                          sizeof(vitals_plugin_t), fixture_collect);
  return &descriptor;
}
