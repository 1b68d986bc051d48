// The named services of the plugin ABI: what get_service() finds, and the
// loader's checks of the services a descriptor requires and provides.
#pragma once

#include <string>

#include "vitals/plugin.h"

namespace vitals::core {

// The host's table of service `name` at min_version or later; nullptr if the
// host has no such service or an older one.
const void *find_host_service(const std::string &name, uint32_t min_version);

// Why a descriptor's required or provided services cannot be honoured (one
// line, naming the service and both versions); empty when they can. The
// descriptor is already known to be the host's major version and size.
std::string check_services(const vitals_plugin_t &d);

// What a loaded plugin provides, copied into zeroed tables of the host's size
// (an older plugin's shorter table reads NULL past its end).
struct ProvidedServices {
  bool has_storage = false;
  vitals_storage_service_t storage{};
  bool has_tunables = false;
  vitals_tunables_service_t tunables{};
};
ProvidedServices adopt_provided_services(const vitals_plugin_t &d);

}  // namespace vitals::core
