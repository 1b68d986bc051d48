/* Requires a service no host offers: refused at load, naming the service. */
#include "fixture_input.h"

static const vitals_service_ref_t required[] = {{.name = "vitals.gpio", .version = 1}};

VITALS_EXPORT const vitals_plugin_t *vitals_plugin(void) {
  static const vitals_plugin_t descriptor = FIXTURE_INPUT_SERVICES("abi_missing_service", required, 1, NULL, 0);
  return &descriptor;
}
