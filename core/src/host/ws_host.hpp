// vitals.ws, the WebSocket service of the plugin ABI: accepting a handshake on a
// plugin's route, shared pre-encoded frames, and the connections a component
// holds.
#pragma once

#include <memory>
#include <string_view>
#include <unordered_map>

#include "vitals/plugin.h"

namespace vitals::core {

struct PluginWebSocket;

// The connections one component accepted. A handle stays valid memory until
// the plugin gives it up (ws_close, or on_close) or the component is
// destroyed, so a plugin that closes its connections in stop() or destroy()
// never touches freed memory even after the host closed them.
class ComponentWebSockets {
 public:
  ComponentWebSockets() = default;
  ~ComponentWebSockets();  // closes what is still open (1001), calling nobody
  ComponentWebSockets(const ComponentWebSockets &) = delete;
  ComponentWebSockets &operator=(const ComponentWebSockets &) = delete;

  void add(std::shared_ptr<PluginWebSocket> ws);
  void remove(PluginWebSocket *ws);
  // Closes every open connection with `code` and stops calling the plugin;
  // the handles stay valid until the component goes.
  void close_all(uint16_t code, std::string_view reason);
  size_t size() const { return open_.size(); }

 private:
  std::unordered_map<PluginWebSocket *, std::shared_ptr<PluginWebSocket>> open_;
};

// The service table get_service("vitals.ws") returns.
const vitals_ws_service_t &ws_service();

}  // namespace vitals::core
