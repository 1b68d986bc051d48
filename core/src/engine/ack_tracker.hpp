// End-to-end acknowledgement. An AckNode stands for one emitted batch that
// someone waits on (a push input's callback, or a processor's input batch).
// Its pending count covers every delivery to a consumer and every child batch
// a processor emitted from it; when it reaches zero the callback fires with
// the worst outcome seen, and the parent is resolved. Loop thread only.
#pragma once

#include <cstdint>
#include <string>

#include "host/plugin_call.hpp"
#include "vitals/plugin.h"

namespace vitals::core {

struct AckNode {
  uint32_t pending = 1;  // starts with the creator's hold
  int status = VITALS_OK;
  std::string error;
  AckNode *parent = nullptr;
  vitals_ack_fn fn = nullptr;
  void *user = nullptr;
  // Counts the callbacks pending against their owner: a component whose code
  // a callback runs must outlive it.
  uint64_t *owner_pending = nullptr;
  const PluginIdentity *owner = nullptr;  // whose code fn is (PluginCall)
};

class AckTracker {
 public:
  ~AckTracker() = default;
  // A node with the creator's hold; a child also holds its parent.
  AckNode *create(AckNode *parent, vitals_ack_fn fn, void *user, uint64_t *owner_pending = nullptr,
                  const PluginIdentity *owner = nullptr);
  void hold(AckNode *node) { ++node->pending; }
  // Releases one hold with an outcome; the first failure wins.
  void resolve(AckNode *node, int status, const char *error);
  uint64_t live() const { return live_; }

 private:
  uint64_t live_ = 0;
};

}  // namespace vitals::core
