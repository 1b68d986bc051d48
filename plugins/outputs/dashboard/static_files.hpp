// The dashboard's files, read into memory once: loading a directory within a
// size bound, mapping request paths to files safely, content types and
// validators.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace vitals::dashboard {

struct StaticFile {
  std::string body;
  std::string content_type;
  std::string etag;        // weak, W/"<FNV-1a 64 of the body>": the server may gzip the bytes
  bool immutable = false;  // a content-hashed name: cacheable for good
};

class StaticFiles {
 public:
  struct Options {
    uint64_t max_total_bytes = 64ull << 20;
    // Source maps carry the build machine's paths and the whole sources:
    // left out unless asked for.
    bool source_maps = false;
  };

  // Reads every regular file below root. Skipped: names starting with '.',
  // directories through symlinks, symlinks whose target is outside root
  // (counted in links_refused()), and *.map unless options.source_maps.
  // Throws std::invalid_argument naming the problem when root is missing,
  // not a directory, unreadable, holds no index.html, or holds more than
  // options.max_total_bytes.
  static StaticFiles load(const std::filesystem::path &root, const Options &options);

  // The file at a path relative to root ("index.html", "assets/main-X.js").
  const StaticFile *find(std::string_view relative) const;
  size_t count() const { return files_.size(); }
  uint64_t total_bytes() const { return total_bytes_; }
  // Symlinks left out because they lead out of root.
  size_t links_refused() const { return links_refused_; }

 private:
  std::map<std::string, StaticFile, std::less<>> files_;
  uint64_t total_bytes_ = 0;
  size_t links_refused_ = 0;
};

// The file a request path names: "/", "/dashboard" and "/dashboard/" give
// "index.html", "/dashboard/a/b.js" gives "a/b.js". Nothing for other paths
// and for unsafe ones (empty, "." or ".." segments, hidden names, backslashes,
// control characters), so a request can never leave the root.
std::optional<std::string> relative_path(std::string_view request_path);

// Content-Type by file extension; application/octet-stream when unknown.
std::string content_type_for(std::string_view file_name);

// Whether a name carries a content hash as the build writes it
// ("main-UYFGQ3OE.js", "main-UYFGQ3OE.js.map"): "-" then 8 or more
// upper-case letters or digits, then ".".
bool is_content_hashed(std::string_view file_name);

std::string weak_etag(std::string_view body);

// If-None-Match against an entity tag, by weak comparison; "*" matches.
bool etag_matches(std::string_view if_none_match, std::string_view etag);

}  // namespace vitals::dashboard
