/* An input with neither collect() nor start(): nothing would ever produce
 * data, so the loader must refuse it as missing a required callback. */
#include "fixture_input.h"

VITALS_EXPORT const vitals_plugin_t *vitals_plugin(void) {
  static const vitals_plugin_t descriptor =
      FIXTURE_INPUT("abi_missing_callback", VITALS_ABI_MAJOR, VITALS_ABI_MINOR, sizeof(vitals_plugin_t), NULL);
  return &descriptor;
}
