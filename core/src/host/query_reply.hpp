// The object behind a vitals_reply_t: a storage plugin answers a query exactly
// once, from the thread pool thread that runs its query(); the answer is
// handed to the loop thread for the caller.
#pragma once

#include <uv.h>

#include <atomic>
#include <functional>
#include <string>

namespace vitals::core {

class QueryReply {
 public:
  using Callback = std::function<void(int status, const std::string &content_type, std::string body)>;
  // A reply whose callback runs on the loop thread. Two owners release it:
  // the query's completion (finish()) and the delivery on the loop.
  static QueryReply *create(uv_loop_t *loop, Callback cb);
  // Any thread; only the first answer counts.
  void deliver(int status, const char *content_type, const char *body, size_t len);
  // Loop thread, once the plugin's query() returned: answers with `message`
  // if the plugin did not answer, then gives up the query's ownership.
  void finish(int status, const std::string &message);

 private:
  QueryReply() = default;
  void release();

  uv_async_t async_{};
  Callback cb_;
  std::atomic<bool> delivered_{false};
  int owners_ = 2;  // loop thread only
  int status_ = 0;
  std::string content_type_, body_;
};

}  // namespace vitals::core
