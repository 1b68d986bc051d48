/* A storage that does not provide vitals.storage: nothing could query it. */
#include "fixture_input.h"

static int consume(void *instance, const vitals_batch_t *batch, vitals_ack_t *ack) {
  (void)instance;
  (void)batch;
  (void)ack;
  return VITALS_OK;
}

VITALS_EXPORT const vitals_plugin_t *vitals_plugin(void) {
  static const vitals_plugin_t descriptor = {
      .abi_major = VITALS_ABI_MAJOR,
      .abi_minor = VITALS_ABI_MINOR,
      .struct_size = sizeof(vitals_plugin_t),
      .kind = VITALS_KIND_STORAGE,
      .name = "abi_storage_no_service",
      .version = "1.0.0",
      .description = "ABI test fixture: a storage without vitals.storage",
      .create = fixture_create,
      .destroy = fixture_destroy,
      .consume = consume,
  };
  return &descriptor;
}
