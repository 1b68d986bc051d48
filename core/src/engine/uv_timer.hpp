// RAII over uv_timer_t: the handle lives on the heap and is freed by its close
// callback, as libuv requires, whenever the owner goes away.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>

namespace vitals::core {

class UvTimer {
 public:
  UvTimer(uv_loop_t *loop, std::function<void()> fn) : handle_(new Handle{{}, std::move(fn)}) {
    uv_timer_init(loop, &handle_->timer);
    handle_->timer.data = handle_;
  }
  ~UvTimer() {
    uv_timer_stop(&handle_->timer);
    uv_close(reinterpret_cast<uv_handle_t *>(&handle_->timer),
             [](uv_handle_t *h) { delete static_cast<Handle *>(h->data); });
  }
  UvTimer(const UvTimer &) = delete;
  UvTimer &operator=(const UvTimer &) = delete;

  void start(uint64_t timeout_ms, uint64_t repeat_ms = 0) {
    uv_timer_start(
        &handle_->timer, [](uv_timer_t *t) { static_cast<Handle *>(t->data)->fn(); }, timeout_ms, repeat_ms);
  }
  void stop() { uv_timer_stop(&handle_->timer); }
  // Keeps the loop from waiting on this timer alone.
  void unref() { uv_unref(reinterpret_cast<uv_handle_t *>(&handle_->timer)); }

 private:
  struct Handle {
    uv_timer_t timer;
    std::function<void()> fn;
  };
  Handle *handle_;
};

}  // namespace vitals::core
