// What a vitals_http_response_t* points at, shared by the HTTP and WebSocket
// parts of the host table. Owned by the plugin from the handler call until it
// finishes the response (respond, stream_end or ws_accept).
#pragma once

#include <memory>

#include "http/response.hpp"
#include "http/websocket_protocol.hpp"
#include "vitals/plugin.h"

namespace vitals::core {

struct HostContext;

struct PluginResponse {
  std::shared_ptr<HttpResponse> response;
  HttpHeaders headers;
  HostContext *host = nullptr;  // the component whose route answered
  // Checked when the request arrives, since ws_accept() no longer has it.
  http::WsHandshake handshake;
};

inline PluginResponse *from_c(vitals_http_response_t *r) { return reinterpret_cast<PluginResponse *>(r); }

}  // namespace vitals::core
