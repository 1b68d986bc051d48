/* Requires vitals.http at version 1 and provides vitals.tunables in the
 * shortest table the host accepts, as a plugin built against an older
 * service version would: loads, and the host reads the missing tail as NULL. */
#include <stddef.h>

#include "fixture_input.h"

static uint32_t list_tunables(void *instance, vitals_tunable_t *out, uint32_t cap) {
  (void)instance;
  if (cap > 0) {
    out[0].name = "depth";
    out[0].description = "a knob";
    out[0].min = 1;
    out[0].max = 10;
    out[0].value = 5;
  }
  return 1;
}

static int set_tunable(void *instance, const char *name, double value) {
  (void)instance;
  (void)name;
  (void)value;
  return VITALS_OK;
}

/* Memory past struct_size is not NULL here, as it need not be in an older
 * plugin's table: the host must not copy it. */
static const vitals_tunables_service_t tunables = {.struct_size = offsetof(vitals_tunables_service_t, reserved),
                                                   .version = 1,
                                                   .list = list_tunables,
                                                   .set = set_tunable,
                                                   .reserved = {(void *)&tunables}};
static const vitals_service_ref_t required[] = {{.name = VITALS_SERVICE_HTTP, .version = 1}};
static const vitals_service_ref_t provided[] = {{.name = VITALS_SERVICE_TUNABLES, .version = 1, .table = &tunables}};

VITALS_EXPORT const vitals_plugin_t *vitals_plugin(void) {
  static const vitals_plugin_t descriptor = FIXTURE_INPUT_SERVICES("abi_older_service", required, 1, provided, 1);
  return &descriptor;
}
