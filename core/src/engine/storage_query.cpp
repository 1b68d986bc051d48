// Queries to storage plugins run on the libuv thread pool: a long-range query
// must never stall the loop (and with it ingest and live streams). The
// storage answers through the host's half of vitals.storage.
#include "host/fatal_signal.hpp"
#include "host/query_reply.hpp"
#include "host/storage_host.hpp"
#include "http/response.hpp"
#include "log.hpp"
#include "pipeline.hpp"

namespace vitals::core {

const vitals_storage_host_service_t &storage_host_service() {
  static const vitals_storage_host_service_t table = [] {
    vitals_storage_host_service_t t{};
    t.struct_size = sizeof t;
    t.version = VITALS_SERVICE_STORAGE_VERSION;
    t.reply = [](vitals_reply_t *reply, int status, const char *content_type, const char *body, size_t len) {
      if (reply) reinterpret_cast<QueryReply *>(reply)->deliver(status, content_type ? content_type : "", body, len);
    };
    return t;
  }();
  return table;
}

namespace {
struct QueryWork {
  uv_work_t req{};
  std::shared_ptr<Component> storage;  // alive until the query returns
  std::string request;
  QueryReply *reply = nullptr;
  int status = VITALS_OK;
  std::string error;
};
}  // namespace

void Pipeline::query_storage(const std::string &storage_id, std::string request_json,
                             std::function<void(int, const std::string &, std::string)> done) {
  std::shared_ptr<Component> storage;
  for (const auto &id : order_) {
    auto it = components_.find(id);
    if (it == components_.end() || it->second->kind() != VITALS_KIND_STORAGE) continue;
    if (storage_id.empty() || storage_id == id) {
      storage = it->second;
      break;
    }
  }
  if (!storage) {
    std::string msg = storage_id.empty() ? "no storage is configured: add a [storage.<id>] to conf.d"
                                         : "no storage named '" + storage_id + "'";
    done(404, "application/json", http::error_body(msg));
    return;
  }
  auto *work = new QueryWork;
  work->storage = std::move(storage);
  work->request = std::move(request_json);
  work->reply = QueryReply::create(loop_, std::move(done));
  work->req.data = work;
  uv_queue_work(
      loop_, &work->req,
      [](uv_work_t *req) {
        auto *w = static_cast<QueryWork *>(req->data);
        const vitals_storage_service_t &storage = w->storage->loaded_plugin().services.storage;
        ensure_signal_stack();  // a pool thread, once
        w->status = call_plugin(w->storage->identity(), "storage query", storage.query, w->storage->instance(),
                                w->request.c_str(), reinterpret_cast<vitals_reply_t *>(w->reply));
        if (w->status != VITALS_OK) w->error = w->storage->last_error();
      },
      [](uv_work_t *req, int) {
        std::unique_ptr<QueryWork> w(static_cast<QueryWork *>(req->data));
        w->reply->finish(500, w->status != VITALS_OK ? "storage query failed: " + w->error
                                                     : "storage '" + w->storage->id() + "' did not answer the query");
      });
}

}  // namespace vitals::core
