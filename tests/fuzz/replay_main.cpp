// Runs a fuzz target's LLVMFuzzerTestOneInput over every file of the corpus
// directories (or single files) given as arguments, in name order: the CI
// replay of the committed corpora and crash regressions, built with gcc in
// the regular (and sanitizer) build, no libFuzzer needed.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

namespace {

// The cap the fuzzing runs use (-max_len): longer files are a mistake.
constexpr size_t kMaxLen = 64 * 1024;

}  // namespace

int main(int argc, char **argv) {
  std::vector<std::filesystem::path> files;
  for (int i = 1; i < argc; ++i) {
    std::filesystem::path arg(argv[i]);
    if (std::filesystem::is_directory(arg)) {
      for (const auto &entry : std::filesystem::recursive_directory_iterator(arg))
        if (entry.is_regular_file()) files.push_back(entry.path());
    } else if (std::filesystem::is_regular_file(arg)) {
      files.push_back(arg);
    } else if (!std::filesystem::exists(arg)) {
      continue;  // no regressions yet for this target
    }
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) {
    std::fprintf(stderr, "replay: no input files\n");
    return 1;
  }
  for (const auto &file : files) {
    std::ifstream in(file, std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) {
      std::fprintf(stderr, "replay: cannot read %s\n", file.c_str());
      return 1;
    }
    if (data.size() > kMaxLen) {
      std::fprintf(stderr, "replay: %s is longer than %zu bytes\n", file.c_str(), kMaxLen);
      return 1;
    }
    // A crash or sanitizer report names the file on stderr first.
    std::fprintf(stderr, "replay: %s\n", file.c_str());
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t *>(data.data()), data.size());
  }
  std::fprintf(stderr, "replay: %zu inputs\n", files.size());
  return 0;
}
