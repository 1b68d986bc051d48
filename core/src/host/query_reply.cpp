// Cross-thread query replies.
#include "query_reply.hpp"

#include "http/response.hpp"

namespace vitals::core {

QueryReply *QueryReply::create(uv_loop_t *loop, Callback cb) {
  auto *r = new QueryReply;
  r->cb_ = std::move(cb);
  r->async_.data = r;
  uv_async_init(loop, &r->async_, [](uv_async_t *a) {
    auto *self = static_cast<QueryReply *>(a->data);
    if (self->cb_) self->cb_(self->status_, self->content_type_, std::move(self->body_));
    self->cb_ = nullptr;
    self->release();
  });
  return r;
}

void QueryReply::deliver(int status, const char *content_type, const char *body, size_t len) {
  if (delivered_.exchange(true)) return;
  status_ = status;
  content_type_ = content_type ? content_type : "";
  body_.assign(body ? body : "", body ? len : 0);
  uv_async_send(&async_);
}

void QueryReply::finish(int status, const std::string &message) {
  if (!delivered_.load()) {
    std::string body = http::error_body(message);
    deliver(status, "application/json", body.data(), body.size());
  }
  release();
}

void QueryReply::release() {
  if (--owners_ > 0) return;
  uv_close(reinterpret_cast<uv_handle_t *>(&async_), [](uv_handle_t *h) { delete static_cast<QueryReply *>(h->data); });
}

}  // namespace vitals::core
