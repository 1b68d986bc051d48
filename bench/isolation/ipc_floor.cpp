// The floor of process isolation per collect, for bench/isolation/run: two
// processes on a socket pair doing only what any isolation must do each
// collect: the parent wakes on its interval and sends a small request (a
// collect's), the child wakes, answers with a collect's worth of samples
// (24 bytes each, as the batch travels), and the parent wakes and reads it.
// Two wake-ups and the bytes, nothing else: no plugin, no routing.
//
// usage: ipc_floor INTERVAL_MS SAMPLES_PER_COLLECT SECONDS
// Prints "cpu_ns <parent + child CPU ns over the window> collects <n>".
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

int64_t clock_ns(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

bool read_exactly(int fd, char *buf, size_t n) {
  while (n) {
    ssize_t got = ::read(fd, buf, n);
    if (got <= 0) return false;
    buf += got;
    n -= static_cast<size_t>(got);
  }
  return true;
}

bool write_all(int fd, const char *buf, size_t n) {
  while (n) {
    ssize_t put = ::write(fd, buf, n);
    if (put <= 0) return false;
    buf += put;
    n -= static_cast<size_t>(put);
  }
  return true;
}

}  // namespace

int main(int argc, char **argv) {
  if (argc != 4) return std::fprintf(stderr, "usage: ipc_floor INTERVAL_MS SAMPLES_PER_COLLECT SECONDS\n"), 2;
  const int64_t interval_ns = std::atoll(argv[1]) * 1'000'000;
  const size_t answer_bytes = std::strtoull(argv[2], nullptr, 10) * 24;
  const double seconds = std::atof(argv[3]);
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return 1;
  pid_t child = ::fork();
  if (child == 0) {
    ::close(sv[0]);
    std::vector<char> answer(answer_bytes, 'x');
    char request[21];
    while (read_exactly(sv[1], request, sizeof request)) {
      if (request[0] == 'q') {  // report this process's CPU and end
        const int64_t cpu = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
        write_all(sv[1], reinterpret_cast<const char *>(&cpu), sizeof cpu);
        ::_exit(0);
      }
      if (!write_all(sv[1], answer.data(), answer.size())) ::_exit(1);
    }
    ::_exit(0);
  }
  ::close(sv[1]);
  std::vector<char> answer(answer_bytes);
  char request[21] = "c";
  const int64_t start = clock_ns(CLOCK_MONOTONIC);
  const int64_t end = start + static_cast<int64_t>(seconds * 1e9);
  int64_t next = start, collects = 0;
  while (next < end) {
    timespec until{static_cast<time_t>(next / 1'000'000'000), static_cast<long>(next % 1'000'000'000)};
    ::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, nullptr);
    if (!write_all(sv[0], request, sizeof request) || !read_exactly(sv[0], answer.data(), answer.size())) return 1;
    ++collects;
    next += interval_ns;
  }
  request[0] = 'q';
  int64_t child_cpu = 0;
  if (!write_all(sv[0], request, sizeof request) ||
      !read_exactly(sv[0], reinterpret_cast<char *>(&child_cpu), sizeof child_cpu))
    return 1;
  ::waitpid(child, nullptr, 0);
  std::printf("cpu_ns %lld collects %lld\n", static_cast<long long>(clock_ns(CLOCK_PROCESS_CPUTIME_ID) + child_cpu),
              static_cast<long long>(collects));
  return 0;
}
