// Runs the real `vitals` binary for integration tests: a temp dir with its
// own conf.d and data dir, output captured to files, signals, and polling
// helpers with deadlines (no fixed sleeps where a condition can be awaited).
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char **environ;

namespace vitals::test {

namespace fs = std::filesystem;

inline std::string read_file(const fs::path &p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline std::vector<std::string> read_lines(const fs::path &p) {
  std::vector<std::string> lines;
  std::ifstream in(p);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

inline void write_file(const fs::path &p, const std::string &text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary | std::ios::trunc) << text;
}

// Polls `done` every 10 ms until it holds or `timeout` passes.
inline bool wait_for(const std::function<bool()> &done, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

inline size_t count_occurrences(const std::string &text, const std::string &needle) {
  size_t n = 0;
  for (size_t pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + needle.size())) ++n;
  return n;
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "vitals-it-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!std::getenv("VITALS_KEEP_TEST_DIRS")) fs::remove_all(path_, ec);
  }
  const fs::path &path() const { return path_; }

 private:
  fs::path path_;
};

// One agent process. The binary is VITALS_BIN (set by meson for every test).
class AgentProcess {
 public:
  // Tests run in parallel: each agent listens on a port the kernel picks
  // (read it back with http_port()). Pass http = false to write no [agent.http].
  explicit AgentProcess(bool http = true) : conf_(dir_.path() / "conf.d"), data_(dir_.path() / "data") {
    fs::create_directories(conf_);
    fs::create_directories(data_);
    if (http) write_config("00-test-http.toml", "[agent.http]\nlisten = \"127.0.0.1:0\"\n");
  }
  ~AgentProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }

  static std::string binary() {
    const char *bin = std::getenv("VITALS_BIN");
    if (!bin) throw std::runtime_error("VITALS_BIN is not set");
    return bin;
  }

  void write_config(const std::string &name, const std::string &toml) { write_file(conf_ / name, toml); }
  // Adds NAME=value to the environment of the next start().
  void set_env(const std::string &name, const std::string &value) { env_.push_back(name + "=" + value); }
  void remove_config(const std::string &name) { fs::remove(conf_ / name); }

  // Starts `vitals run` (or another verb) on this instance's dirs.
  void start(const std::string &verb = "run", std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {binary(), verb, "--config-dir", conf_.string(), "--data-dir", data_.string()};
    for (auto &e : extra) args.push_back(std::move(e));
    pid_ = spawn(args, env_, stdout_path(), stderr_path());
  }

  // Runs a verb to completion and returns its exit code.
  int run_to_exit(const std::string &verb, std::vector<std::string> extra = {},
                  std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    start(verb, std::move(extra));
    return wait_exit(timeout);
  }

  void signal(int sig) const { ::kill(pid_, sig); }

  // Waits for the process to end; returns its exit code, 128+signal if a
  // signal killed it, or -1 on timeout (the process is then killed).
  int wait_exit(std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        if (WIFEXITED(status)) return WEXITSTATUS(status);
        if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
        return -2;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return -1;
  }

  bool running() const {
    if (pid_ <= 0) return false;
    int status = 0;
    return ::waitpid(pid_, &status, WNOHANG) == 0;
  }

  std::string out() const { return read_file(stdout_path()); }
  std::string err() const { return read_file(stderr_path()); }
  // Waits until stderr contains `needle` at least `times` times.
  bool wait_for_log(const std::string &needle, size_t times = 1,
                    std::chrono::milliseconds timeout = std::chrono::seconds(10)) const {
    return wait_for([&] { return count_occurrences(err(), needle) >= times; }, timeout);
  }

  // The port the agent bound, from its "HTTP API on host:port" log line; 0
  // if it has not logged it within the timeout.
  uint16_t http_port(std::chrono::milliseconds timeout = std::chrono::seconds(10)) const {
    const std::string marker = "HTTP API on 127.0.0.1:";
    if (!wait_for_log(marker, 1, timeout)) return 0;
    std::string log = err();
    return static_cast<uint16_t>(std::stoi(log.substr(log.find(marker) + marker.size())));
  }

  const fs::path &conf_dir() const { return conf_; }
  const fs::path &data_dir() const { return data_; }
  fs::path stdout_path() const { return dir_.path() / "stdout.txt"; }
  fs::path stderr_path() const { return dir_.path() / "stderr.txt"; }
  pid_t pid() const { return pid_; }

 private:
  static pid_t spawn(const std::vector<std::string> &args, const std::vector<std::string> &extra_env,
                     const fs::path &out, const fs::path &err) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<char *> argv;
    for (const auto &a : args) argv.push_back(const_cast<char *>(a.c_str()));
    argv.push_back(nullptr);
    std::vector<char *> envp;
    for (char **e = environ; *e; ++e) envp.push_back(*e);
    for (const auto &e : extra_env) envp.push_back(const_cast<char *>(e.c_str()));
    envp.push_back(nullptr);
    pid_t pid = -1;
    int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::runtime_error("cannot start " + args[0]);
    return pid;
  }

  TempDir dir_;
  fs::path conf_, data_;
  std::vector<std::string> env_;
  pid_t pid_ = -1;
};

}  // namespace vitals::test
