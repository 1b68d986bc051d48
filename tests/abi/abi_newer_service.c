/* Requires a newer vitals.http than the host has: refused at load, naming
 * both versions. */
#include "fixture_input.h"

static const vitals_service_ref_t required[] = {
    {.name = VITALS_SERVICE_HTTP, .version = VITALS_SERVICE_HTTP_VERSION + 1}};

VITALS_EXPORT const vitals_plugin_t *vitals_plugin(void) {
  static const vitals_plugin_t descriptor = FIXTURE_INPUT_SERVICES("abi_newer_service", required, 1, NULL, 0);
  return &descriptor;
}
