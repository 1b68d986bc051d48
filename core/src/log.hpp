// The agent's log: one line per message on stderr, tagged with the component.
// Under systemd (JOURNAL_STREAM set) lines carry <N> priority prefixes and no
// timestamp, since the journal adds its own.
#pragma once

#include <string>
#include <string_view>

namespace vitals::core {

enum class LogLevel { error = 0, warn = 1, info = 2, debug = 3 };

bool parse_log_level(std::string_view text, LogLevel &out);
void set_log_level(LogLevel level);
LogLevel log_level();
void log(LogLevel level, std::string_view component, std::string_view message);

inline void log_error(std::string_view c, std::string_view m) { log(LogLevel::error, c, m); }
inline void log_warn(std::string_view c, std::string_view m) { log(LogLevel::warn, c, m); }
inline void log_info(std::string_view c, std::string_view m) { log(LogLevel::info, c, m); }
inline void log_debug(std::string_view c, std::string_view m) { log(LogLevel::debug, c, m); }

}  // namespace vitals::core
