// Writes to a libuv TCP socket straight away when libuv has nothing queued
// on it: what the kernel takes whole needs no write request, no callback on
// a later loop turn and no epoll_ctl (libuv re-arms a socket's epoll
// interest after every queued write it completes). Broadcasts to many
// clients pay those per client and message otherwise.
//
// send()/sendmsg() rather than libuv's uv_try_write (which calls write()):
// the socket calls skip the VFS layer's per-call work (file position lock,
// permission and notification hooks), about 7 % of the CPU of a WebSocket
// broadcast on loopback.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>
#include <uv.h>

#include <cerrno>
#include <cstddef>

namespace vitals::core::http {

// Bytes the kernel took now (0 if none: the socket buffer is full, or libuv
// still has earlier bytes queued, which must go first). Errors also return
// 0: the caller queues the bytes with uv_write, which reports the error
// through its callback, never from inside the caller's send.
inline size_t send_now(uv_tcp_t *tcp, const uv_buf_t *bufs, unsigned count) {
  constexpr unsigned max_bufs = 4;
  if (tcp->write_queue_size != 0 || count == 0 || count > max_bufs) return 0;
  uv_os_fd_t fd;
  if (uv_fileno(reinterpret_cast<const uv_handle_t *>(tcp), &fd) != 0) return 0;
  ssize_t n;
  do {
    if (count == 1) {
      n = ::send(fd, bufs[0].base, bufs[0].len, MSG_DONTWAIT | MSG_NOSIGNAL);
    } else {
      iovec iov[max_bufs];
      msghdr msg{};
      for (unsigned i = 0; i < count; ++i) iov[i] = {bufs[i].base, bufs[i].len};
      msg.msg_iov = iov;
      msg.msg_iovlen = count;
      n = ::sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    }
  } while (n < 0 && errno == EINTR);
  return n > 0 ? static_cast<size_t>(n) : 0;
}

}  // namespace vitals::core::http
