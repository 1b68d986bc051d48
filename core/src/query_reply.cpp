// Cross-thread query replies.
#include "query_reply.hpp"

namespace vitals::core {

QueryReply *QueryReply::create(uv_loop_t *loop, Callback cb) {
  auto *r = new QueryReply;
  r->cb_ = std::move(cb);
  r->async_.data = r;
  uv_async_init(loop, &r->async_, [](uv_async_t *a) {
    auto *self = static_cast<QueryReply *>(a->data);
    self->cb_(self->status_, self->content_type_, std::move(self->body_));
    uv_close(reinterpret_cast<uv_handle_t *>(&self->async_),
             [](uv_handle_t *h) { delete static_cast<QueryReply *>(h->data); });
  });
  return r;
}

void QueryReply::deliver(int status, const char *content_type, const char *body, size_t len) {
  status_ = status;
  content_type_ = content_type;
  body_.assign(body ? body : "", body ? len : 0);
  uv_async_send(&async_);
}

}  // namespace vitals::core
