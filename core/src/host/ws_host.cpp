// Bridges plugin WebSocket handles to the core's WebSocket connections. A
// plugin sees opaque pointers; the core keeps the connection state alive
// until the plugin has given the handle up, and never calls into a plugin
// after it closed the handle or its component stopped.
#include "ws_host.hpp"

#include <string>
#include <utility>
#include <vector>

#include "engine/component.hpp"
#include "http/websocket.hpp"
#include "log.hpp"
#include "plugin_response.hpp"

namespace vitals::core {

struct PluginWebSocket {
  ComponentWebSockets *owner = nullptr;
  const PluginIdentity *who = nullptr;  // the component whose handlers these are
  vitals_ws_handlers_t handlers{};
  void *user = nullptr;
  http::WsLimits limits;
  http::WebSocket *ws = nullptr;       // null until the 101 is written
  std::vector<http::WsFrame> pending;  // sent before that
  size_t pending_bytes = 0;
  bool open = true;         // the plugin may still use the handle
  uint16_t close_code = 0;  // asked for before the 101 was written
  std::string close_reason;

  vitals_ws_t *handle() { return reinterpret_cast<vitals_ws_t *>(this); }

  // The connection ended on its own: tell the plugin, once.
  void ended(uint16_t code, std::string_view reason) {
    if (!open) return;
    open = false;
    ws = nullptr;
    auto on_close = handlers.on_close;
    void *u = user;
    const PluginIdentity *plugin = who;
    std::string text(reason);
    if (owner) owner->remove(this);  // may free this: touch nothing after
    if (on_close)
      call_plugin(*plugin, "WebSocket on_close", on_close, u, reinterpret_cast<vitals_ws_t *>(this), code,
                  text.c_str());
  }

  // The socket is ours after the 101: start the protocol, or close at once
  // if the plugin (or its component) gave up meanwhile.
  void attach(UvTcpPtr socket, std::string already_read, const std::shared_ptr<PluginWebSocket> &self) {
    http::WebSocket::Handlers h;
    if (open) {
      h.on_message = [self](http::WsOpcode opcode, std::string_view data) {
        if (self->open && self->handlers.on_message)
          call_plugin(*self->who, "WebSocket on_message", self->handlers.on_message, self->user, self->handle(),
                      static_cast<int>(opcode), data.data(), data.size());
      };
      h.on_close = [self](uint16_t code, std::string_view reason) { self->ended(code, reason); };
    }
    http::WebSocket *socket_ws =
        http::WebSocket::start(std::move(socket), std::move(already_read), std::move(h), limits);
    if (!open) {
      socket_ws->close(close_code ? close_code : http::ws_close_going_away, close_reason);
      return;
    }
    ws = socket_ws;
    for (auto &frame : pending) ws->send(std::move(frame));
    pending.clear();
    pending_bytes = 0;
  }

  void close(uint16_t code, std::string_view reason) {
    if (!open) return;
    open = false;
    if (ws) {
      ws->close(code, reason);
      ws = nullptr;
    } else {
      close_code = code;
      close_reason = std::string(reason);
      pending.clear();
    }
  }
};

namespace {

// The upgrade handler's share of a connection: if the HTTP connection dies
// before the 101 is written, the handler is destroyed without running, and
// the plugin must still hear that its connection ended.
struct Handover {
  std::shared_ptr<PluginWebSocket> ws;
  bool done = false;
  ~Handover() {
    if (!done) ws->ended(http::ws_close_abnormal, "connection lost before the handshake completed");
  }
};

struct PluginFrame {
  http::WsFrame bytes;
};

PluginWebSocket *from_c(vitals_ws_t *ws) { return reinterpret_cast<PluginWebSocket *>(ws); }

int ws_accept(vitals_http_response_t *r, const vitals_ws_handlers_t *handlers, void *user, vitals_ws_t **out) {
  if (!r) return VITALS_INVALID;
  std::unique_ptr<PluginResponse> owned(core::from_c(r));
  const http::WsHandshake &hs = owned->handshake;
  if (hs.status != 101 || !handlers || handlers->struct_size < offsetof(vitals_ws_handlers_t, reserved) || !out ||
      !owned->host) {
    int status = hs.status == 101 ? 500 : hs.status;
    std::string message = hs.status == 101 ? "the plugin called ws_accept without handlers" : hs.error;
    HttpHeaders headers{{"Content-Type", "application/json"}};
    if (status == 426) {
      headers.add("Sec-WebSocket-Version", "13");
      headers.add("Upgrade", "websocket");
    }
    owned->response->send(status, std::move(headers), http::error_body(message));
    return VITALS_INVALID;
  }
  auto pw = std::make_shared<PluginWebSocket>();
  pw->handlers = *handlers;
  pw->user = user;
  pw->who = &owned->host->component->identity();
  if (handlers->max_message) pw->limits.max_message = handlers->max_message;
  auto handover = std::make_shared<Handover>();
  handover->ws = pw;
  bool upgrading = owned->response->upgrade(
      HttpHeaders{{"Upgrade", "websocket"}, {"Connection", "Upgrade"}, {"Sec-WebSocket-Accept", hs.accept}},
      [handover](UvTcpPtr socket, std::string already_read) {
        handover->done = true;
        handover->ws->attach(std::move(socket), std::move(already_read), handover->ws);
      });
  if (!upgrading) {
    // Refused (503: max_streams): the plugin never gets this handle, so it
    // must not hear of its end either.
    handover->done = true;
    return VITALS_INVALID;
  }
  ComponentWebSockets &registry = owned->host->component->websockets();
  pw->owner = &registry;
  registry.add(pw);
  *out = pw->handle();
  return VITALS_OK;
}

vitals_ws_frame_t *ws_frame(vitals_host_ctx_t *, int opcode, const char *data, size_t len) {
  bool control = opcode == VITALS_WS_PING || opcode == VITALS_WS_PONG;
  if (!control && opcode != VITALS_WS_TEXT && opcode != VITALS_WS_BINARY) return nullptr;
  if (control && len > 125) return nullptr;
  auto bytes = std::make_shared<const std::string>(
      http::encode_ws_frame(static_cast<http::WsOpcode>(opcode), std::string_view(data ? data : "", data ? len : 0)));
  return reinterpret_cast<vitals_ws_frame_t *>(new PluginFrame{std::move(bytes)});
}

void ws_frame_release(vitals_ws_frame_t *frame) { delete reinterpret_cast<PluginFrame *>(frame); }

int ws_send(vitals_ws_t *ws, vitals_ws_frame_t *frame) {
  if (!ws || !frame) return VITALS_INVALID;
  PluginWebSocket *pw = from_c(ws);
  if (!pw->open) return VITALS_STOPPED;
  const http::WsFrame &bytes = reinterpret_cast<PluginFrame *>(frame)->bytes;
  if (pw->ws) return pw->ws->send(bytes) ? VITALS_OK : VITALS_STOPPED;
  pw->pending.push_back(bytes);
  pw->pending_bytes += bytes->size();
  return VITALS_OK;
}

size_t ws_buffered(vitals_ws_t *ws) {
  if (!ws) return 0;
  PluginWebSocket *pw = from_c(ws);
  return pw->ws ? pw->ws->buffered() : pw->pending_bytes;
}

void ws_close(vitals_ws_t *ws, int code, const char *reason) {
  if (!ws) return;
  PluginWebSocket *pw = from_c(ws);
  bool valid_code = code >= 1000 && code <= 4999 && code != 1005 && code != 1006 && code != 1015;
  pw->close(static_cast<uint16_t>(valid_code ? code : http::ws_close_normal), reason ? reason : "");
  if (pw->owner) pw->owner->remove(pw);  // the plugin let go: may free pw
}

}  // namespace

ComponentWebSockets::~ComponentWebSockets() { close_all(http::ws_close_going_away, "agent stopping"); }

void ComponentWebSockets::add(std::shared_ptr<PluginWebSocket> ws) { open_.emplace(ws.get(), std::move(ws)); }

void ComponentWebSockets::remove(PluginWebSocket *ws) {
  auto it = open_.find(ws);
  if (it == open_.end()) return;
  auto keep = std::move(it->second);  // freed after the map no longer refers to it
  open_.erase(it);
  keep->owner = nullptr;
}

void ComponentWebSockets::close_all(uint16_t code, std::string_view reason) {
  for (auto &[raw, ws] : open_) ws->close(code, reason);
}

const vitals_ws_service_t &ws_service() {
  static const vitals_ws_service_t table = [] {
    vitals_ws_service_t t{};
    t.struct_size = sizeof t;
    t.version = VITALS_SERVICE_WS_VERSION;
    t.accept = ws_accept;
    t.frame = ws_frame;
    t.frame_release = ws_frame_release;
    t.send = ws_send;
    t.buffered = ws_buffered;
    t.close = ws_close;
    return t;
  }();
  return table;
}

}  // namespace vitals::core
