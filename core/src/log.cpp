// Logging to stderr; serialised so lines from pool threads never interleave.
#include "log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>

namespace vitals::core {

namespace {
std::atomic<LogLevel> g_level{LogLevel::info};
std::mutex g_mutex;
const bool g_journal = std::getenv("JOURNAL_STREAM") != nullptr;

const char *level_name(LogLevel l) {
  switch (l) {
    case LogLevel::error:
      return "error";
    case LogLevel::warn:
      return "warn";
    case LogLevel::info:
      return "info";
    case LogLevel::debug:
      return "debug";
  }
  return "?";
}

int syslog_priority(LogLevel l) {
  switch (l) {
    case LogLevel::error:
      return 3;
    case LogLevel::warn:
      return 4;
    case LogLevel::info:
      return 6;
    case LogLevel::debug:
      return 7;
  }
  return 6;
}
}  // namespace

bool parse_log_level(std::string_view text, LogLevel &out) {
  if (text == "error")
    out = LogLevel::error;
  else if (text == "warn" || text == "warning")
    out = LogLevel::warn;
  else if (text == "info")
    out = LogLevel::info;
  else if (text == "debug")
    out = LogLevel::debug;
  else
    return false;
  return true;
}

void set_log_level(LogLevel level) { g_level = level; }
LogLevel log_level() { return g_level; }

void log(LogLevel level, std::string_view component, std::string_view message) {
  if (level > g_level.load(std::memory_order_relaxed)) return;
  std::lock_guard lock(g_mutex);
  if (g_journal) {
    std::fprintf(stderr, "<%d>[%.*s] %.*s\n", syslog_priority(level), static_cast<int>(component.size()),
                 component.data(), static_cast<int>(message.size()), message.data());
  } else {
    auto now = std::chrono::system_clock::now();
    std::time_t secs = std::chrono::system_clock::to_time_t(now);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    std::fprintf(stderr, "%s.%03dZ %-5s [%.*s] %.*s\n", stamp, static_cast<int>(ms), level_name(level),
                 static_cast<int>(component.size()), component.data(), static_cast<int>(message.size()),
                 message.data());
  }
  std::fflush(stderr);
}

}  // namespace vitals::core
