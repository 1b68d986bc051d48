// Each folder of core/src has a README whose file map names exactly the
// files in the folder: a new file without a line there, or a line for a file
// that moved away, fails here, so the maps cannot go stale.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

// The source files a README's tables name in their first column: `a.cpp`,
// `a.hpp`, and `a.hpp/.cpp` for both.
std::set<std::string> mapped(const fs::path &readme) {
  std::ifstream in(readme);
  std::set<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("| ", 0) != 0) continue;
    std::string first = line.substr(2, line.find(" |", 2) - 2);
    for (size_t at = first.find('`'); at != std::string::npos; at = first.find('`', at)) {
      size_t end = first.find('`', at + 1);
      if (end == std::string::npos) break;
      std::string name = first.substr(at + 1, end - at - 1);
      at = end + 1;
      auto slash = name.find("/.");
      std::string stem = name.substr(0, name.rfind('.', slash));
      if (slash != std::string::npos) {
        out.insert(name.substr(0, slash));
        out.insert(stem + name.substr(slash + 1));
      } else if (name.find('/') == std::string::npos && name.find('.') != std::string::npos) {
        out.insert(name);
      }
    }
  }
  return out;
}

}  // namespace

TEST_CASE("every core/src folder's README maps exactly its files") {
  const fs::path src = fs::path(VITALS_SOURCE_ROOT) / "core" / "src";
  std::vector<fs::path> folders{src};
  for (const auto &entry : fs::directory_iterator(src))
    if (entry.is_directory()) folders.push_back(entry.path());
  CHECK(folders.size() >= 6);  // core/src, engine, host, config, http, cli
  for (const auto &folder : folders) {
    INFO(folder.string());
    fs::path readme = folder / "README.md";
    REQUIRE_MESSAGE(fs::exists(readme), "no README.md in " << folder.string());
    std::set<std::string> files;
    for (const auto &entry : fs::directory_iterator(folder))
      if (entry.is_regular_file() && entry.path().filename() != "README.md")
        files.insert(entry.path().filename().string());
    std::set<std::string> documented = mapped(readme);
    for (const auto &f : files) CHECK_MESSAGE(documented.count(f), f << " is not in " << readme.string());
    for (const auto &d : documented)
      CHECK_MESSAGE(files.count(d), readme.string() << " maps " << d << ", which is not there");
    if (folder != src) {
      std::ifstream top(src / "README.md");
      std::stringstream text;
      text << top.rdbuf();
      CHECK_MESSAGE(text.str().find("(" + folder.filename().string() + "/README.md)") != std::string::npos,
                    "core/src/README.md does not link " << folder.filename().string() << "/");
    }
  }
}
