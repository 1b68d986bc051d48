// vitals.control, the service an optimizer (or the `agent` input) uses to
// watch and tune the running agent: components, metrics, tunables.
#pragma once

#include "vitals/plugin.h"

namespace vitals::core {

// The service table get_service("vitals.control") returns.
const vitals_control_service_t &control_service();

}  // namespace vitals::core
