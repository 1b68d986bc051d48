// The vitals_host_t table every plugin instance receives: C functions that
// find their Component through the ctx pointer and call into the Pipeline.
#pragma once

#include "vitals/plugin.h"

namespace vitals::core {

// A table with every function filled in and ctx unset; each Component copies
// it and points ctx at itself.
vitals_host_t make_host_template();

}  // namespace vitals::core
