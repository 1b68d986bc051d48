// One /api/stream connection as the websocket output sees it.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "messages.hpp"
#include "subscriptions.hpp"
#include "vitals/plugin.hpp"

namespace vitals::websocket {

using SteadyTime = std::chrono::steady_clock::time_point;

class ClientEvents {
 public:
  virtual ~ClientEvents() = default;
  virtual void client_message(struct Client &client, int opcode, std::string_view data) = 0;
  virtual void client_closed(struct Client &client) = 0;
};

// A snapshot being sent in slices: the next position in the latest values,
// and the set the client had before (whose series it already got).
struct Snapshot {
  std::shared_ptr<Group> before;
  size_t next = 0;
};

struct Client {
  ClientEvents *owner;
  uint64_t key;
  std::optional<WebSocket> ws;             // empty once the connection ended
  std::vector<std::string> subscriptions;  // selector texts, in the order given
  std::shared_ptr<Group> group;            // null while subscribed to nothing
  std::optional<Snapshot> snapshot;        // while a snapshot is under way
  bool gone = false;

  // A client whose send queue passed max_client_buffer gets no live
  // messages; it collects the latest value per series instead, sent as one
  // coalesced message once its queue drains (or it is dropped after
  // slow_client_timeout).
  bool coalescing = false;
  SteadyTime slow_since{};
  std::unordered_map<SeriesId, Sample> coalesced;

  // WebSocket handlers (HttpResponse::accept_websocket).
  void on_message(int opcode, std::string_view data) { owner->client_message(*this, opcode, data); }
  void on_close(int, std::string_view) {
    ws.reset();  // the handle is invalid from here on
    owner->client_closed(*this);
  }
};

}  // namespace vitals::websocket
