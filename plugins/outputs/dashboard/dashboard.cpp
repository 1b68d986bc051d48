// Output `dashboard`: serves the built web dashboard (web/ in the source tree)
// at GET / and GET /dashboard/*, from memory, with content types, validators,
// caching headers and the token cookie. It consumes no data: the dashboard
// reads /api/stream, /api/query and /api/performance/metrics like any client.
#include <dlfcn.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "sample_toml.h"
#include "static_files.hpp"
#include "vitals/plugin.hpp"
#include "vitals/settings.hpp"

#ifndef VITALS_DASHBOARD_INSTALLED_ROOT
#define VITALS_DASHBOARD_INSTALLED_ROOT "/usr/local/share/vitals/web"
#endif

namespace vitals::dashboard {

namespace fs = std::filesystem;

namespace {

// Something in this shared object, for dladdr to find the file it came from.
const char anchor = 0;

// The folder this plugin's .so is in; empty if unknown.
fs::path own_folder() {
  Dl_info info{};
  if (dladdr(&anchor, &info) == 0 || !info.dli_fname) return {};
  std::error_code ec;
  fs::path path = fs::weakly_canonical(info.dli_fname, ec);
  return ec ? fs::path(info.dli_fname).parent_path() : path.parent_path();
}

// RFC 6265 cookie-octets: a token with anything else is not put in a cookie.
bool cookie_safe(std::string_view value) {
  if (value.empty() || value.size() > 4096) return false;
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '"' || c == ',' || c == ';' || c == '\\') return false;
  }
  return true;
}

// Scripts, styles and connections from this origin only (uPlot sets inline
// styles); the token may be in the address, so no Referer leaves the page.
constexpr const char *content_security_policy =
    "default-src 'self'; connect-src 'self' ws: wss:; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

}  // namespace

class Dashboard final : public Output {
 public:
  // The loader refuses this plugin on an agent without these.
  static constexpr vitals_service_ref_t required_services[] = {
      vitals::require_service(VITALS_SERVICE_HTTP, VITALS_SERVICE_HTTP_VERSION)};
  struct Settings {
    std::string root;
    vitals::ByteSize max_total_size;
    bool serve_source_maps = false;
  };
  static constexpr auto schema = vitals::settings<Settings>(
      vitals::key(
          "root", &Settings::root, "\"\"",
          "directory of the built dashboard; empty: web/ next to this plugin (a build tree), else the installed one"),
      vitals::key("max_total_size", &Settings::max_total_size, "\"64MiB\"",
                  "most bytes read from root (all files together); more refuses to start", vitals::at_least("1")),
      vitals::key("serve_source_maps", &Settings::serve_source_maps, "false",
                  "also serve *.map files (they carry build paths and sources; for debugging only)"));
  static constexpr const char *sample_config = vitals_sample_toml;

  Dashboard(Host host, const Config &config) : Dashboard(host, schema.read(config)) {}
  Dashboard(Host host, const Settings &s) : Output(host) {
    root_ = resolve_root(s.root);
    files_ = StaticFiles::load(root_, {s.max_total_size.bytes, s.serve_source_maps});
    host.info("serving " + std::to_string(files_.count()) + " files (" + std::to_string(files_.total_bytes()) +
              " bytes) from " + root_.string());
    if (files_.links_refused() > 0)
      host.warn("left out " + std::to_string(files_.links_refused()) + " symlink(s) leading out of " + root_.string());
    not_found_ = host.metric("vitals_dashboard_not_found_total", VITALS_METRIC_COUNTER,
                             "Requests for paths the dashboard does not have");
    not_modified_ =
        host.metric("vitals_dashboard_not_modified_total", VITALS_METRIC_COUNTER, "Requests answered 304 Not Modified");
  }

  void start() override {
    try {
      route("GET", "/", 0, [this](const HttpRequest &req, HttpResponse res) { serve(req, res); });
      route("GET", "/dashboard/", VITALS_HTTP_PREFIX,
            [this](const HttpRequest &req, HttpResponse res) { serve(req, res); });
    } catch (const vitals::HttpUnavailable &e) {
      // Without an HTTP server there is nobody to serve; the rest of the
      // pipeline runs on. A route another component owns stays an error.
      host().warn(std::string(e.what()) + ": the dashboard serves nothing");
    }
  }

  // Outputs may be wired to inputs; the dashboard has no use for samples.
  Status consume(const BatchView &, vitals_ack_t *) override { return Status::ok; }

  void stats(const StatsVisitor &visit) override {
    visit("files", static_cast<double>(files_.count()), {});
    visit("bytes", static_cast<double>(files_.total_bytes()), {});
  }

 private:
  static fs::path resolve_root(const std::string &configured) {
    if (!configured.empty()) return configured;
    std::vector<fs::path> candidates;
    // Only a build tree has web/ beside the plugin (installed plugin
    // directories are flat), so a build never serves a stale installed copy.
    if (fs::path folder = own_folder(); !folder.empty()) candidates.push_back(folder / "web");
    candidates.emplace_back(VITALS_DASHBOARD_INSTALLED_ROOT);
    std::string tried;
    for (const auto &candidate : candidates) {
      std::error_code ec;
      if (fs::is_directory(candidate, ec)) return candidate;
      tried += (tried.empty() ? "" : " or ") + candidate.string();
    }
    throw std::invalid_argument("root: no dashboard files in " + tried +
                                "; build them (meson option dashboard, needs node and npm) or set root");
  }

  void serve(const HttpRequest &req, const HttpResponse &res) {
    auto rel = relative_path(req.path());
    const StaticFile *file = rel ? files_.find(*rel) : nullptr;
    if (!file) {
      not_found_.update(1);
      res.header("Cache-Control", "no-cache");
      res.error(404, "not found");
      return;
    }
    bool html = *rel == "index.html";
    res.header("Cache-Control", file->immutable ? "public, max-age=31536000, immutable" : "no-cache");
    res.header("ETag", file->etag);
    res.header("X-Content-Type-Options", "nosniff");
    if (html) {
      res.header("Content-Security-Policy", content_security_policy);
      res.header("Referrer-Policy", "no-referrer");
      // Opened as /?token=...: the agent let the request in, so the browser
      // may keep the token for the page's own requests (scripts, the stream).
      if (auto token = req.param("token"); token && cookie_safe(*token))
        res.header("Set-Cookie", "vitals_token=" + *token + "; Path=/; HttpOnly; SameSite=Strict");
    }
    if (etag_matches(req.header("if-none-match"), file->etag)) {
      not_modified_.update(1);
      res.respond(304, "", "");
      return;
    }
    res.respond(200, file->content_type, file->body);
  }

  fs::path root_;
  StaticFiles files_;
  Metric not_found_, not_modified_;
};

}  // namespace vitals::dashboard

VITALS_PLUGIN(vitals::dashboard::Dashboard, "dashboard", "1.0.0",
              "Serves the web dashboard at / and /dashboard/: live charts, history, the agent's own metrics")
