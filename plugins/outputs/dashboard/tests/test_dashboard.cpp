// Behaviour of the dashboard output through the in-process host: what each
// path answers (content types, caching, validators, 304, 404), that no
// request leaves the root, the token cookie, and the roots it refuses.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "static_files.hpp"
#include "vitals/testing.hpp"

extern "C" const vitals_plugin_t *vitals_plugin(void);

namespace fs = std::filesystem;
using vitals::testing::HttpResult;

namespace {

// A temp folder holding a small dashboard; `root()` is its web/ folder, with
// a secret next to it that no request may reach.
class Site {
 public:
  Site() {
    char tmpl[] = "/tmp/vitals-dashboard-XXXXXX";
    REQUIRE(mkdtemp(tmpl));
    dir_ = tmpl;
    write("web/index.html", "<!doctype html><title>Vitals</title>");
    write("web/favicon.svg", "<svg xmlns=\"http://www.w3.org/2000/svg\"/>");
    write("web/assets/main-UYFGQ3OE.js", "console.log('hi');");
    write("web/assets/main-BNSUXIFW.css", "body{margin:0}");
    write("web/assets/main-UYFGQ3OE.js.map", "{}");
    write("web/.hidden", "not served");
    write("secret.txt", "top secret");
  }
  ~Site() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  void write(const std::string &rel, const std::string &text) const {
    fs::create_directories((dir_ / rel).parent_path());
    std::ofstream(dir_ / rel, std::ios::binary) << text;
  }
  fs::path root() const { return dir_ / "web"; }
  std::string config() const { return "root = \"" + root().string() + "\"\n"; }
  const fs::path &dir() const { return dir_; }

 private:
  fs::path dir_;
};

std::string header(const HttpResult &r, const std::string &name) {
  for (const auto &[k, v] : r.headers)
    if (k == name) return v;
  return "";
}

}  // namespace

TEST_CASE("dashboard file names map to content types and cache policies") {
  using namespace vitals::dashboard;
  CHECK(content_type_for("index.html") == "text/html; charset=utf-8");
  CHECK(content_type_for("main-UYFGQ3OE.js") == "text/javascript; charset=utf-8");
  CHECK(content_type_for("main-BNSUXIFW.css") == "text/css; charset=utf-8");
  CHECK(content_type_for("main.js.map") == "application/json; charset=utf-8");
  CHECK(content_type_for("favicon.svg") == "image/svg+xml");
  CHECK(content_type_for("logo.PNG") == "image/png");
  CHECK(content_type_for("font.woff2") == "font/woff2");
  CHECK(content_type_for("README") == "application/octet-stream");
  CHECK(content_type_for("data.bin") == "application/octet-stream");

  CHECK(is_content_hashed("main-UYFGQ3OE.js"));
  CHECK(is_content_hashed("main-UYFGQ3OE.js.map"));
  CHECK(is_content_hashed("uplot-vendor-ABCD2345.css"));
  CHECK_FALSE(is_content_hashed("index.html"));
  CHECK_FALSE(is_content_hashed("main-abcdefgh.js"));
  CHECK_FALSE(is_content_hashed("main-ABC.js"));
  CHECK_FALSE(is_content_hashed("main-UYFGQ3OE"));

  CHECK(weak_etag("a") == weak_etag("a"));
  CHECK(weak_etag("a") != weak_etag("b"));
  CHECK(weak_etag("a").starts_with("W/\""));
  std::string tag = weak_etag("x");
  CHECK(etag_matches(tag, tag));
  CHECK(etag_matches(tag.substr(2), tag));  // the strong form, by weak comparison
  CHECK(etag_matches("\"other\", " + tag, tag));
  CHECK(etag_matches("*", tag));
  CHECK_FALSE(etag_matches("", tag));
  CHECK_FALSE(etag_matches("W/\"other\"", tag));
}

TEST_CASE("dashboard request paths stay inside the root") {
  using vitals::dashboard::relative_path;
  CHECK(relative_path("/") == "index.html");
  CHECK(relative_path("/dashboard") == "index.html");
  CHECK(relative_path("/dashboard/") == "index.html");
  CHECK(relative_path("/dashboard/assets/main-UYFGQ3OE.js") == "assets/main-UYFGQ3OE.js");
  for (const char *bad : {"/dashboard/../secret.txt", "/dashboard/assets/../../secret.txt", "/dashboard/./index.html",
                          "/dashboard//index.html", "/dashboard/assets/", "/dashboard/.hidden", "/dashboard/a\\b",
                          "/dashboard/a\nb", "/index.html", "/dashboardx/index.html", "/api/series"})
    CHECK_MESSAGE(!relative_path(bad), bad);
}

TEST_CASE("dashboard serves index.html at / and /dashboard/ revalidated on every load") {
  Site site;
  vitals::testing::Host host;
  auto inst = host.create(vitals_plugin(), site.config());
  REQUIRE(inst.start() == VITALS_OK);
  CHECK(host.routes() == std::vector<std::string>{"GET /", "GET /dashboard/"});

  // (The agent's router also sends "/dashboard" here: see test_dashboard_agent.cpp.)
  for (const char *path : {"/", "/dashboard/"}) {
    INFO(path);
    auto r = host.http("GET", path);
    REQUIRE(r->finished);
    CHECK(r->status == 200);
    CHECK(r->content_type == "text/html; charset=utf-8");
    CHECK(r->body == "<!doctype html><title>Vitals</title>");
    CHECK(header(*r, "Cache-Control") == "no-cache");
    CHECK(header(*r, "ETag") == vitals::dashboard::weak_etag(r->body));
    CHECK(header(*r, "X-Content-Type-Options") == "nosniff");
    CHECK(header(*r, "Content-Security-Policy").find("default-src 'self'") != std::string::npos);
    CHECK(header(*r, "Referrer-Policy") == "no-referrer");
    CHECK(header(*r, "Set-Cookie").empty());
  }
}

TEST_CASE("dashboard answers 304 when the browser's copy is current") {
  Site site;
  vitals::testing::Host host;
  auto inst = host.create(vitals_plugin(), site.config());
  REQUIRE(inst.start() == VITALS_OK);
  auto first = host.http("GET", "/");
  std::string etag = header(*first, "ETag");
  REQUIRE_FALSE(etag.empty());

  auto again = host.http("GET", "/", "", {{"if-none-match", etag}});
  CHECK(again->status == 304);
  CHECK(again->body.empty());
  CHECK(header(*again, "ETag") == etag);
  CHECK(header(*again, "Cache-Control") == "no-cache");
  CHECK(host.metric("vitals_dashboard_not_modified_total") == 1);

  auto stale = host.http("GET", "/", "", {{"if-none-match", "W/\"0000000000000000\""}});
  CHECK(stale->status == 200);
  CHECK(stale->body == first->body);

  // Another file's tag does not validate this one.
  auto css = host.http("GET", "/dashboard/assets/main-BNSUXIFW.css");
  auto wrong = host.http("GET", "/", "", {{"if-none-match", header(*css, "ETag")}});
  CHECK(wrong->status == 200);
}

TEST_CASE("dashboard serves content-hashed assets as immutable, other files revalidated") {
  Site site;
  vitals::testing::Host host;
  auto inst = host.create(vitals_plugin(), site.config());
  REQUIRE(inst.start() == VITALS_OK);

  auto js = host.http("GET", "/dashboard/assets/main-UYFGQ3OE.js");
  CHECK(js->status == 200);
  CHECK(js->content_type == "text/javascript; charset=utf-8");
  CHECK(js->body == "console.log('hi');");
  CHECK(header(*js, "Cache-Control") == "public, max-age=31536000, immutable");
  CHECK(header(*js, "Content-Security-Policy").empty());

  auto css = host.http("GET", "/dashboard/assets/main-BNSUXIFW.css?v=1");
  CHECK(css->status == 200);
  CHECK(css->content_type == "text/css; charset=utf-8");

  // Source maps carry build paths and sources: left out unless asked for.
  CHECK(host.http("GET", "/dashboard/assets/main-UYFGQ3OE.js.map")->status == 404);

  auto icon = host.http("GET", "/dashboard/favicon.svg");
  CHECK(icon->status == 200);
  CHECK(icon->content_type == "image/svg+xml");
  CHECK(header(*icon, "Cache-Control") == "no-cache");
}

TEST_CASE("dashboard answers 404 for unknown paths and never leaves its root") {
  Site site;
  vitals::testing::Host host;
  auto inst = host.create(vitals_plugin(), site.config());
  REQUIRE(inst.start() == VITALS_OK);
  for (const char *path :
       {"/dashboard/nope.js", "/dashboard/assets", "/dashboard/assets/", "/dashboard/.hidden",
        "/dashboard/../secret.txt", "/dashboard/assets/../../secret.txt", "/dashboard/%2e%2e/secret.txt",
        "/dashboard//secret.txt", "/dashboard/..", "/dashboard/assets/..%2f..%2fsecret.txt"}) {
    INFO(path);
    auto r = host.http("GET", path);
    REQUIRE(r->finished);
    CHECK(r->status == 404);
    CHECK(r->body.find("secret") == std::string::npos);
  }
  CHECK(host.metric("vitals_dashboard_not_found_total") == 10);
  // Nothing outside /, /dashboard and below is the dashboard's.
  CHECK(host.http("GET", "/index.html")->status == 404);
  CHECK(host.http("GET", "/secret.txt")->status == 404);
}

TEST_CASE("dashboard serves source maps only when serve_source_maps is set") {
  Site site;
  vitals::testing::Host host;
  auto inst = host.create(vitals_plugin(), site.config() + "serve_source_maps = true\n");
  REQUIRE(inst.start() == VITALS_OK);
  auto map = host.http("GET", "/dashboard/assets/main-UYFGQ3OE.js.map");
  CHECK(map->status == 200);
  CHECK(map->content_type == "application/json; charset=utf-8");
}

TEST_CASE("dashboard never serves a symlink that leads out of its root") {
  Site site;
  site.write("outside/private.key", "top secret key");
  fs::create_symlink(site.dir() / "secret.txt", site.root() / "leak.txt");
  fs::create_directory_symlink(site.dir() / "outside", site.root() / "linked-dir");
  fs::create_symlink("favicon.svg", site.root() / "icon.svg");  // inside the root: harmless
  vitals::testing::Host host;
  auto inst = host.create(vitals_plugin(), site.config());
  REQUIRE(inst.start() == VITALS_OK);
  for (const char *path : {"/dashboard/leak.txt", "/dashboard/linked-dir/private.key"}) {
    INFO(path);
    auto r = host.http("GET", path);
    CHECK(r->status == 404);
    CHECK(r->body.find("secret") == std::string::npos);
  }
  CHECK(host.http("GET", "/dashboard/icon.svg")->status == 200);
}

TEST_CASE("dashboard hands the token from ?token= to the browser as an HttpOnly cookie") {
  Site site;
  vitals::testing::Host host;
  auto inst = host.create(vitals_plugin(), site.config());
  REQUIRE(inst.start() == VITALS_OK);
  auto r = host.http("GET", "/?token=s3cret-T0ken");
  CHECK(r->status == 200);
  CHECK(header(*r, "Set-Cookie") == "vitals_token=s3cret-T0ken; Path=/; HttpOnly; SameSite=Strict");
  // A value that cannot be a cookie is not made one.
  CHECK(header(*host.http("GET", "/?token=a%3Bb"), "Set-Cookie").empty());
  CHECK(header(*host.http("GET", "/?token=a%20b"), "Set-Cookie").empty());
  // Only the page sets it.
  CHECK(header(*host.http("GET", "/dashboard/favicon.svg?token=abc"), "Set-Cookie").empty());
}

TEST_CASE("dashboard refuses a root that is missing, empty, without index.html or too large") {
  Site site;
  vitals::testing::Host host;
  auto refused = [&](const std::string &config) -> std::string {
    try {
      host.create(vitals_plugin(), config);
    } catch (const std::exception &e) {
      return e.what();
    }
    return "";
  };
  std::string missing = refused("root = \"" + (site.dir() / "nope").string() + "\"");
  CHECK(missing.find("root: " + (site.dir() / "nope").string() + " does not exist") != std::string::npos);

  fs::create_directories(site.dir() / "empty");
  CHECK(refused("root = \"" + (site.dir() / "empty").string() + "\"").find("holds no files") != std::string::npos);

  site.write("noindex/app.js", "x");
  CHECK(refused("root = \"" + (site.dir() / "noindex").string() + "\"").find("has no index.html") != std::string::npos);

  CHECK(refused("root = \"" + (site.dir() / "secret.txt").string() + "\"").find("is not a directory") !=
        std::string::npos);

  CHECK(refused(site.config() + "max_total_size = 10\n").find("exceed max_total_size") != std::string::npos);
  CHECK(refused(site.config() + "max_total_size = 0\n").find("max_total_size") != std::string::npos);
  CHECK(refused("rooot = \"/tmp\"").find("rooot") != std::string::npos);
}

TEST_CASE("dashboard finds the built web files beside its own binary in a build tree") {
  // The test binary sits where the plugin does in the build tree, next to the
  // web/ folder the build writes (meson makes this test depend on it).
  vitals::testing::Host host;
  auto inst = host.create(vitals_plugin(), "");
  REQUIRE(inst.start() == VITALS_OK);
  auto index = host.http("GET", "/");
  REQUIRE(index->status == 200);
  size_t at = index->body.find("src=\"/dashboard/assets/main-");
  REQUIRE(at != std::string::npos);
  at += 5;
  std::string script = index->body.substr(at, index->body.find('"', at) - at);
  auto js = host.http("GET", script);
  CHECK(js->status == 200);
  CHECK(js->content_type == "text/javascript; charset=utf-8");
  CHECK(header(*js, "Cache-Control") == "public, max-age=31536000, immutable");
  CHECK(js->body.size() > 10000);  // uPlot is in the bundle
  bool logged = false;
  for (const auto &line : host.logs()) logged |= line.message.find("serving ") != std::string::npos;
  CHECK(logged);
}

TEST_CASE("dashboard accepts batches from any wiring and ignores them") {
  Site site;
  vitals::testing::Host host;
  auto inst = host.create(vitals_plugin(), site.config());
  REQUIRE(inst.start() == VITALS_OK);
  CHECK(inst.consume({{"cpu_usage{cpu=\"total\"}", 1, 2.5}}) == VITALS_OK);
  CHECK(inst.stats().at("files") == 4);  // the source map is left out
  CHECK(inst.stop() == VITALS_OK);
}
