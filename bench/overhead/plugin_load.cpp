// Times loading a plugin the way the agent does (dlopen RTLD_NOW|RTLD_LOCAL,
// dlsym vitals_plugin, call it), against loading a trivial C shared object.
//
//   plugin_load [--runs N] [--json] [--preload LIB]... [--warmup SO] REFERENCE.so PLUGIN.so...
//
// Every sample runs in a freshly forked child that has never loaded the file,
// so each one is a real load (symbol relocation included) even when dlclose()
// cannot unload a C++ library (GNU unique symbols make it NODELETE). To time
// the loader as the running agent meets it, not the fork: --preload loads the
// libraries the agent links (libcjson, ...) once before forking, and the child
// loads and unloads --warmup (a copy of the reference under another name)
// before timing, so copy-on-write faults in the dynamic linker's own data are
// paid outside the measurement. Files are in the page cache after the first
// run: this measures the loader, not the disk.
#include <dlfcn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vitals/plugin.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

namespace {

struct LoadTiming {
  double load_us;   // dlopen + dlsym + vitals_plugin()
  double close_us;  // dlclose
};

double now_us() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

// Runs in the child. The reference exports `vitals_plugin` too, so both sides
// do exactly the same calls.
bool load_once(const char *path, LoadTiming &out, std::string &error) {
  double t0 = now_us();
  void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    error = dlerror();
    return false;
  }
  auto entry = reinterpret_cast<const vitals_plugin_t *(*)()>(dlsym(handle, VITALS_PLUGIN_SYMBOL));
  const vitals_plugin_t *descriptor = entry ? entry() : nullptr;
  double t1 = now_us();
  if (!descriptor || !descriptor->name) {
    error = std::string("no ") + VITALS_PLUGIN_SYMBOL + "() or it returned no name";
    dlclose(handle);
    return false;
  }
  dlclose(handle);
  out = {t1 - t0, now_us() - t1};
  return true;
}

// Forks, loads in the child, and reads the timing back through a pipe.
bool sample(const char *path, const char *warmup, LoadTiming &out, std::string &error) {
  int fds[2];
  if (pipe(fds) != 0) {
    error = std::string("pipe: ") + std::strerror(errno);
    return false;
  }
  pid_t pid = fork();
  if (pid < 0) {
    error = std::string("fork: ") + std::strerror(errno);
    return false;
  }
  if (pid == 0) {
    close(fds[0]);
    LoadTiming timing{};
    std::string child_error;
    if (warmup && !load_once(warmup, timing, child_error)) {
      std::fprintf(stderr, "%s: %s\n", warmup, child_error.c_str());
      _exit(1);
    }
    bool ok = load_once(path, timing, child_error);
    if (ok) {
      ssize_t n = write(fds[1], &timing, sizeof timing);
      _exit(n == static_cast<ssize_t>(sizeof timing) ? 0 : 2);
    }
    std::fprintf(stderr, "%s: %s\n", path, child_error.c_str());
    _exit(1);
  }
  close(fds[1]);
  ssize_t n = read(fds[0], &out, sizeof out);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (n != static_cast<ssize_t>(sizeof out) || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    error = "load failed in child (see stderr)";
    return false;
  }
  return true;
}

double percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  double rank = p * static_cast<double>(values.size() - 1);
  size_t lo = static_cast<size_t>(rank);
  size_t hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (values[hi] - values[lo]) * (rank - static_cast<double>(lo));
}

struct Result {
  std::string path;
  double load_median_us, load_p90_us, close_median_us;
};

std::string base_name(const std::string &path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

void usage() {
  std::fprintf(stderr,
               "usage: plugin_load [--runs N] [--json] [--preload LIB]... [--warmup SO] REFERENCE.so PLUGIN.so...\n");
  std::exit(2);
}

}  // namespace

int main(int argc, char **argv) {
  int runs = 200;
  bool json = false;
  std::string warmup;
  std::vector<std::string> paths;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--runs" && i + 1 < argc) {
      runs = std::atoi(argv[++i]);
      if (runs < 1) usage();
    } else if (arg == "--json") {
      json = true;
    } else if (arg == "--preload" && i + 1 < argc) {
      // Global, like the agent's own dependencies: plugins bind to them.
      if (!dlopen(argv[++i], RTLD_NOW | RTLD_GLOBAL)) {
        std::fprintf(stderr, "plugin_load: --preload: %s\n", dlerror());
        return 1;
      }
    } else if (arg == "--warmup" && i + 1 < argc) {
      warmup = argv[++i];
    } else if (arg.starts_with("-")) {
      usage();
    } else {
      paths.push_back(arg);
    }
  }
  if (paths.size() < 2) usage();

  std::vector<Result> results;
  for (const auto &path : paths) {
    std::vector<double> load, close;
    for (int r = 0; r < runs; ++r) {
      LoadTiming timing{};
      std::string error;
      if (!sample(path.c_str(), warmup.empty() ? nullptr : warmup.c_str(), timing, error)) {
        std::fprintf(stderr, "plugin_load: %s: %s\n", path.c_str(), error.c_str());
        return 1;
      }
      load.push_back(timing.load_us);
      close.push_back(timing.close_us);
    }
    results.push_back({path, percentile(load, 0.5), percentile(load, 0.9), percentile(close, 0.5)});
  }

  const Result &ref = results.front();
  if (json) {
    std::printf("{\"runs\": %d, \"reference\": {\"path\": \"%s\", \"load_median_us\": %.2f}, \"plugins\": [", runs,
                ref.path.c_str(), ref.load_median_us);
    for (size_t i = 1; i < results.size(); ++i) {
      const auto &r = results[i];
      std::printf("%s{\"path\": \"%s\", \"load_median_us\": %.2f, \"load_p90_us\": %.2f, \"close_median_us\": %.2f}",
                  i > 1 ? ", " : "", r.path.c_str(), r.load_median_us, r.load_p90_us, r.close_median_us);
    }
    std::printf("]}\n");
    return 0;
  }
  std::printf("%-28s %12s %10s %12s %10s\n", "file", "load med us", "p90 us", "close med us", "x ref");
  for (const auto &r : results)
    std::printf("%-28s %12.1f %10.1f %12.1f %10.2f\n", base_name(r.path).c_str(), r.load_median_us, r.load_p90_us,
                r.close_median_us, r.load_median_us / ref.load_median_us);
  return 0;
}
