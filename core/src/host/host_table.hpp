// The vitals_host_t table every plugin instance receives: C functions that
// find their Component through the ctx pointer and call into the Pipeline.
#pragma once

#include "vitals/plugin.h"

namespace vitals::core {

// A table with every function filled in and ctx unset; each Component copies
// it and points ctx at itself.
vitals_host_t make_host_template();

// The table's emit, but never refused for the emits of the component still
// waiting to be routed (VITALS_AGAIN): for the agent's side of an isolated
// plugin, whose process was told its batch was accepted (core/src/isolate).
int host_emit_past_cap(vitals_host_ctx_t *ctx, vitals_ack_t *parent, const vitals_batch_t *batch, vitals_ack_fn fn,
                       void *user);

}  // namespace vitals::core
