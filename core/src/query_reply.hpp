// The object behind a vitals_reply_t: a storage plugin answers a query once,
// from any thread; the answer is handed to the loop thread for the caller.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>

namespace vitals::core {

class QueryReply {
 public:
  using Callback = std::function<void(int status, const std::string &content_type, std::string body)>;
  // Creates a reply whose callback runs on the loop thread; it frees itself
  // after delivering.
  static QueryReply *create(uv_loop_t *loop, Callback cb);
  void deliver(int status, const char *content_type, const char *body, size_t len);

 private:
  QueryReply() = default;
  uv_async_t async_{};
  Callback cb_;
  int status_ = 0;
  std::string content_type_, body_;
};

}  // namespace vitals::core
