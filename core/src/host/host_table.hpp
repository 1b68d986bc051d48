// The vitals_host_t table every plugin instance receives: C functions that
// find their Component through the ctx pointer and call into the Pipeline.
#pragma once

#include "vitals/plugin.h"

namespace vitals::core {

// A table with every function filled in and ctx unset; each Component copies
// it and points ctx at itself.
vitals_host_t make_host_template();

// The table's emit for a batch an isolated plugin's process already
// answered OK for (core/src/isolate): refused neither by the component's
// off-loop cap nor by the inputs stopping (Pipeline::emit's already_accepted).
int host_emit_accepted(vitals_host_ctx_t *ctx, vitals_ack_t *parent, const vitals_batch_t *batch, vitals_ack_fn fn,
                       void *user);

}  // namespace vitals::core
