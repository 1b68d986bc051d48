// Ack tree bookkeeping.
#include "ack_tracker.hpp"

namespace vitals::core {

AckNode *AckTracker::create(AckNode *parent, vitals_ack_fn fn, void *user, uint64_t *owner_pending,
                            const PluginIdentity *owner) {
  auto *node = new AckNode;
  node->parent = parent;
  node->fn = fn;
  node->user = user;
  node->owner_pending = fn ? owner_pending : nullptr;
  node->owner = owner;
  if (node->owner_pending) ++*node->owner_pending;
  if (parent) hold(parent);
  ++live_;
  return node;
}

void AckTracker::resolve(AckNode *node, int status, const char *error) {
  if (status != VITALS_OK && status != VITALS_PENDING && node->status == VITALS_OK) {
    node->status = status;
    node->error = error ? error : "failed";
  }
  if (--node->pending > 0) return;
  // Detach before calling out: the callback may emit and create new nodes.
  AckNode *parent = node->parent;
  int final_status = node->status;
  std::string final_error = std::move(node->error);
  vitals_ack_fn fn = node->fn;
  void *user = node->user;
  uint64_t *owner_pending = node->owner_pending;
  const PluginIdentity *owner = node->owner;
  delete node;
  --live_;
  const char *error_text = final_status == VITALS_OK ? nullptr : final_error.c_str();
  if (fn && owner)
    call_plugin(*owner, "ack callback", fn, user, final_status, error_text);
  else if (fn)
    fn(user, final_status, error_text);
  if (owner_pending) --*owner_pending;
  if (parent) resolve(parent, final_status, final_error.c_str());
}

}  // namespace vitals::core
