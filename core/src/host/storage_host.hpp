// The host's half of vitals.storage: how a storage answers a query.
#pragma once

#include "vitals/plugin.h"

namespace vitals::core {

// The service table get_service("vitals.storage") returns.
const vitals_storage_host_service_t &storage_host_service();

}  // namespace vitals::core
