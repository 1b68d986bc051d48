// Loading, naming and validating the dashboard's static files.
#include "static_files.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace vitals::dashboard {

namespace fs = std::filesystem;

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char &c : out) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string_view without_weak_prefix(std::string_view tag) { return tag.starts_with("W/") ? tag.substr(2) : tag; }

// Every segment must be a plain name: no traversal, no hidden files, nothing
// a filesystem or a log line would read differently.
bool safe_relative(std::string_view rel) {
  if (rel.empty()) return false;
  size_t start = 0;
  while (start <= rel.size()) {
    size_t slash = rel.find('/', start);
    std::string_view segment =
        rel.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (segment.empty() || segment.front() == '.') return false;
    for (char c : segment)
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == '\\') return false;
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return true;
}

// Whether `path`, with every link resolved, is below `real_root` (canonical).
bool inside(const fs::path &real_root, const fs::path &path) {
  std::error_code ec;
  fs::path target = fs::canonical(path, ec);
  if (ec) return false;
  auto [root_end, unused] = std::mismatch(real_root.begin(), real_root.end(), target.begin(), target.end());
  return root_end == real_root.end();
}

std::string read_whole(const fs::path &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::invalid_argument("root: cannot read " + path.string());
  std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw std::invalid_argument("root: cannot read " + path.string());
  return body;
}

}  // namespace

StaticFiles StaticFiles::load(const fs::path &root, const Options &options) {
  const uint64_t max_total_bytes = options.max_total_bytes;
  std::error_code ec;
  if (!fs::exists(root, ec)) throw std::invalid_argument("root: " + root.string() + " does not exist");
  if (!fs::is_directory(root, ec)) throw std::invalid_argument("root: " + root.string() + " is not a directory");
  // Where root really is (it may itself be a link, e.g. to the installed copy).
  const fs::path real_root = fs::canonical(root, ec);
  if (ec) throw std::invalid_argument("root: cannot read " + root.string() + ": " + ec.message());
  StaticFiles files;
  fs::recursive_directory_iterator it(root, ec), end;
  if (ec) throw std::invalid_argument("root: cannot read " + root.string() + ": " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) throw std::invalid_argument("root: cannot read " + root.string() + ": " + ec.message());
    const fs::path &path = it->path();
    std::string name = path.filename().string();
    if (name.starts_with(".")) {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file(ec)) continue;  // directories (walked), sockets, dangling links
    if (!options.source_maps && path.extension() == ".map") continue;
    // A link to a file elsewhere (a stray "ln -s /etc/passwd" in the web
    // folder) would serve that file: only links that stay inside are kept.
    if (it->is_symlink(ec) && !inside(real_root, path)) {
      ++files.links_refused_;
      continue;
    }
    std::string rel = path.lexically_relative(root).generic_string();
    if (!safe_relative(rel)) continue;
    uint64_t size = it->file_size(ec);
    if (ec) throw std::invalid_argument("root: cannot read " + path.string() + ": " + ec.message());
    if (files.total_bytes_ + size > max_total_bytes)
      throw std::invalid_argument("root: the files in " + root.string() + " exceed max_total_size (" +
                                  std::to_string(max_total_bytes) + " bytes)");
    StaticFile file;
    file.body = read_whole(path);
    file.content_type = content_type_for(name);
    file.etag = weak_etag(file.body);
    file.immutable = is_content_hashed(name);
    files.total_bytes_ += file.body.size();
    files.files_.emplace(std::move(rel), std::move(file));
  }
  if (files.files_.empty()) throw std::invalid_argument("root: " + root.string() + " holds no files");
  if (!files.find("index.html")) throw std::invalid_argument("root: " + root.string() + " has no index.html");
  return files;
}

const StaticFile *StaticFiles::find(std::string_view relative) const {
  auto it = files_.find(relative);
  return it == files_.end() ? nullptr : &it->second;
}

std::optional<std::string> relative_path(std::string_view path) {
  if (path == "/" || path == "/dashboard" || path == "/dashboard/") return "index.html";
  constexpr std::string_view prefix = "/dashboard/";
  if (!path.starts_with(prefix)) return std::nullopt;
  std::string_view rel = path.substr(prefix.size());
  if (!safe_relative(rel)) return std::nullopt;
  return std::string(rel);
}

std::string content_type_for(std::string_view file_name) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 19> types = {{
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".map", "application/json; charset=utf-8"},
      {".json", "application/json; charset=utf-8"},
      {".webmanifest", "application/manifest+json; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
      {".webp", "image/webp"},
      {".gif", "image/gif"},
      {".ico", "image/x-icon"},
      {".woff2", "font/woff2"},
      {".woff", "font/woff"},
      {".txt", "text/plain; charset=utf-8"},
      {".wasm", "application/wasm"},
      {".xml", "application/xml"},
  }};
  std::string name = lower(file_name);
  size_t dot = name.rfind('.');
  if (dot == std::string::npos) return "application/octet-stream";
  std::string_view ext = std::string_view(name).substr(dot);
  for (const auto &[suffix, type] : types)
    if (ext == suffix) return std::string(type);
  return "application/octet-stream";
}

bool is_content_hashed(std::string_view name) {
  for (size_t dash = name.find('-'); dash != std::string_view::npos; dash = name.find('-', dash + 1)) {
    size_t i = dash + 1;
    while (i < name.size() && ((name[i] >= 'A' && name[i] <= 'Z') || (name[i] >= '0' && name[i] <= '9'))) ++i;
    if (i - dash - 1 >= 8 && i < name.size() && name[i] == '.') return true;
  }
  return false;
}

std::string weak_etag(std::string_view body) {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (unsigned char c : body) {
    hash ^= c;
    hash *= 0x100000001b3ull;
  }
  char text[32];
  std::snprintf(text, sizeof text, "W/\"%016llx\"", static_cast<unsigned long long>(hash));
  return text;
}

bool etag_matches(std::string_view if_none_match, std::string_view etag) {
  std::string_view want = without_weak_prefix(etag);
  while (!if_none_match.empty()) {
    size_t comma = if_none_match.find(',');
    std::string_view candidate = trim(if_none_match.substr(0, comma));
    if (candidate == "*" || (!candidate.empty() && without_weak_prefix(candidate) == want)) return true;
    if (comma == std::string_view::npos) break;
    if_none_match.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace vitals::dashboard
