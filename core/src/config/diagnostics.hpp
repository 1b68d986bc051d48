// Config errors and warnings, each tied to file:line, collected so that
// `vitals check` and reloads report every problem at once.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace vitals::core {

struct Diagnostic {
  enum class Severity { error, warning };
  Severity severity = Severity::error;
  std::string file;
  uint32_t line = 0;
  std::string message;

  std::string to_string() const {
    std::string where = file.empty() ? "" : file + (line ? ":" + std::to_string(line) : "") + ": ";
    return where + (severity == Severity::warning ? "warning: " : "") + message;
  }
};

class Diagnostics {
 public:
  void error(std::string file, uint32_t line, std::string message) {
    items_.push_back({Diagnostic::Severity::error, std::move(file), line, std::move(message)});
  }
  void warning(std::string file, uint32_t line, std::string message) {
    items_.push_back({Diagnostic::Severity::warning, std::move(file), line, std::move(message)});
  }
  bool has_errors() const {
    for (const auto &d : items_)
      if (d.severity == Diagnostic::Severity::error) return true;
    return false;
  }
  size_t error_count() const {
    size_t n = 0;
    for (const auto &d : items_) n += d.severity == Diagnostic::Severity::error;
    return n;
  }
  // In file order, then line order: how a user reads them.
  std::vector<Diagnostic> items() const {
    std::vector<Diagnostic> sorted = items_;
    std::stable_sort(sorted.begin(), sorted.end(), [](const Diagnostic &a, const Diagnostic &b) {
      return a.file != b.file ? a.file < b.file : a.line < b.line;
    });
    return sorted;
  }

 private:
  std::vector<Diagnostic> items_;
};

}  // namespace vitals::core
