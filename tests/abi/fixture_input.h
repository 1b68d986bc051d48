/* A trivial C input shared by the ABI fixtures. Each abi_*.c fixture builds
 * a descriptor from it with exactly one thing wrong, so the loader test that
 * refuses it proves one rule. */
#ifndef VITALS_ABI_FIXTURE_INPUT_H
#define VITALS_ABI_FIXTURE_INPUT_H

#include <stdlib.h>

#include "vitals/plugin.h"

static inline void *fixture_create(const vitals_host_t *host, const char *config_json, char *err, size_t err_size) {
  (void)host;
  (void)config_json;
  (void)err;
  (void)err_size;
  return malloc(1);
}

static inline void fixture_destroy(void *instance) { free(instance); }

static inline int fixture_collect(void *instance, int64_t now_ns) {
  (void)instance;
  (void)now_ns;
  return VITALS_OK;
}

/* A descriptor initializer; the arguments are the fields fixtures break. */
#define FIXTURE_INPUT(NAME, ABI_MAJOR, ABI_MINOR, STRUCT_SIZE, COLLECT)                                     \
  {                                                                                                         \
    .abi_major = (ABI_MAJOR), .abi_minor = (ABI_MINOR), .struct_size = (uint32_t)(STRUCT_SIZE),             \
    .kind = VITALS_KIND_INPUT, .name = (NAME), .version = "1.0.0", .description = "ABI test fixture " NAME, \
    .create = fixture_create, .destroy = fixture_destroy, .collect = (COLLECT)                              \
  }

/* The same valid input, with services it requires and provides. */
#define FIXTURE_INPUT_SERVICES(NAME, REQUIRED, N_REQUIRED, PROVIDED, N_PROVIDED)                            \
  {                                                                                                         \
    .abi_major = VITALS_ABI_MAJOR, .abi_minor = VITALS_ABI_MINOR, .struct_size = sizeof(vitals_plugin_t),   \
    .kind = VITALS_KIND_INPUT, .name = (NAME), .version = "1.0.0", .description = "ABI test fixture " NAME, \
    .n_required_services = (N_REQUIRED), .required_services = (REQUIRED), .provided_services = (PROVIDED),  \
    .n_provided_services = (N_PROVIDED), .create = fixture_create, .destroy = fixture_destroy,              \
    .collect = fixture_collect                                                                              \
  }

#endif
