// The CLI verbs that are not the daemon itself.
#pragma once

#include <string>

#include "../agent.hpp"

namespace vitals::core {

int cmd_check(const AgentOptions &options);
int cmd_plugins(const AgentOptions &options, const std::string &describe);

}  // namespace vitals::core
