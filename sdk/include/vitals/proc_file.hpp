// Reading small kernel files (/proc, /sys) whole. They report a size of 0, so
// the only way is to read until EOF; the buffer is the caller's, kept between
// collections so that steady-state reads allocate nothing.
#pragma once

#include <cstdio>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace vitals {

// Reads `path` into `buffer` (grown as needed) and returns a view of its
// content. Throws std::runtime_error naming the path if it cannot be read.
inline std::string_view read_proc_file(const std::string &path, std::vector<char> &buffer) {
  FILE *f = std::fopen(path.c_str(), "re");
  if (!f) throw std::runtime_error("cannot open " + path);
  size_t used = 0;
  for (;;) {
    if (buffer.size() - used < 4096) buffer.resize(buffer.size() + 8192);
    size_t n = std::fread(buffer.data() + used, 1, buffer.size() - used, f);
    used += n;
    if (n == 0) break;
  }
  bool failed = std::ferror(f);
  std::fclose(f);
  if (failed) throw std::runtime_error("cannot read " + path);
  return {buffer.data(), used};
}

}  // namespace vitals
