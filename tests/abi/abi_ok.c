/* A minimal valid input written in C against plugin.h alone: no C++, no SDK
 * helpers. Each collect() emits abi_ok_collections{lang="c"}, the number of
 * collections so far. The loader tests use it to prove a pure-C plugin loads,
 * runs and unloads like any other. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vitals/plugin.h"

typedef struct abi_ok {
  vitals_host_t host; /* copied: the host's table need not outlive create() */
  vitals_series_id_t series;
  uint64_t collections;
  char last_error[128];
} abi_ok_t;

static void *abi_ok_create(const vitals_host_t *host, const char *config_json, char *err, size_t err_size) {
  static const vitals_label_t labels[] = {{"lang", "c"}};
  abi_ok_t *self;
  size_t known = host->struct_size < sizeof self->host ? host->struct_size : sizeof self->host;
  (void)config_json;
  self = calloc(1, sizeof *self);
  if (!self) {
    snprintf(err, err_size, "out of memory");
    return NULL;
  }
  memcpy(&self->host, host, known); /* an older host's missing tail stays NULL */
  self->series = self->host.intern(self->host.ctx, "abi_ok_collections", labels, 1);
  if (self->series == 0) {
    snprintf(err, err_size, "the host refused the series name");
    free(self);
    return NULL;
  }
  return self;
}

static void abi_ok_destroy(void *instance) { free(instance); }

static int abi_ok_collect(void *instance, int64_t now_ns) {
  abi_ok_t *self = instance;
  double value = (double)++self->collections;
  vitals_batch_t batch;
  int status;
  memset(&batch, 0, sizeof batch);
  batch.n_samples = 1;
  batch.series = &self->series;
  batch.ts_ns = &now_ns;
  batch.values = &value;
  status = self->host.emit(self->host.ctx, NULL, &batch, NULL, NULL);
  if (status != VITALS_OK) {
    snprintf(self->last_error, sizeof self->last_error, "emit failed with status %d", status);
    return VITALS_ERROR;
  }
  return VITALS_OK;
}

static const char *abi_ok_last_error(void *instance) { return ((abi_ok_t *)instance)->last_error; }

VITALS_EXPORT const vitals_plugin_t *vitals_plugin(void) {
  static const vitals_plugin_t descriptor = {
      .abi_major = VITALS_ABI_MAJOR,
      .abi_minor = VITALS_ABI_MINOR,
      .struct_size = sizeof(vitals_plugin_t),
      .kind = VITALS_KIND_INPUT,
      .name = "abi_ok",
      .version = "1.0.0",
      .description = "ABI test fixture: a minimal valid input in pure C",
      .create = abi_ok_create,
      .destroy = abi_ok_destroy,
      .collect = abi_ok_collect,
      .last_error = abi_ok_last_error,
  };
  return &descriptor;
}
