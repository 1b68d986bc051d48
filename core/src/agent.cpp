// The daemon: one libuv loop, signals (TERM/INT: drain and exit, HUP: reload),
// systemd notifications and the watchdog.
#include "agent.hpp"

#include <sys/resource.h>
#include <uv.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>

#include "api_routes.hpp"
#include "engine/pipeline.hpp"
#include "engine/uv_timer.hpp"
#include "http/server.hpp"
#include "http/websocket.hpp"
#include "log.hpp"
#include "paths.hpp"
#include "service_notify.hpp"

namespace vitals::core {

namespace fs = std::filesystem;

std::vector<fs::path> plugin_search_dirs(const AgentOptions &options, const AgentConfig &agent) {
  std::vector<fs::path> dirs = default_plugin_dirs();
  for (const auto &d : agent.plugin_dirs) dirs.emplace_back(d);
  for (const auto &d : options.plugin_dirs) dirs.push_back(d);
  return dirs;
}

CheckedConfig load_and_check(const AgentOptions &options, PluginCatalog &catalog, Diagnostics &diags) {
  Config config = load_config_dir(options.config_dir, diags);
  catalog.scan(plugin_search_dirs(options, config.agent));
  for (const auto &w : catalog.warnings()) diags.warning("", 0, w);
  return check_config(std::move(config), catalog, diags);
}

fs::path resolve_data_dir(const AgentOptions &options, const AgentConfig &agent, std::string &error) {
  fs::path dir = !options.data_dir.empty() ? fs::path(options.data_dir)
                 : !agent.data_dir.empty() ? fs::path(agent.data_dir)
                                           : default_data_dir();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) {
    error = "cannot use data directory " + dir.string() + ": " + (ec ? ec.message() : "not a directory");
    return {};
  }
  return fs::absolute(dir);
}

void print_diagnostics(const Diagnostics &diags) {
  for (const auto &d : diags.items()) std::fprintf(stderr, "%s\n", d.to_string().c_str());
}

namespace {

void apply_log_level(const AgentOptions &options, const AgentConfig &agent) {
  LogLevel level = LogLevel::info;
  if (!options.log_level.empty())
    parse_log_level(options.log_level, level);
  else if (!agent.log_level.empty())
    parse_log_level(agent.log_level, level);
  set_log_level(level);
}

class Agent {
 public:
  explicit Agent(AgentOptions options) : options_(std::move(options)) { uv_loop_init(&loop_); }
  ~Agent() {
    pipeline_.reset();
    http_.reset();
    signals_.clear();
    watchdog_.reset();
    uv_run(&loop_, UV_RUN_NOWAIT);  // let close callbacks run
    uv_loop_close(&loop_);
  }

  int run() {
    Diagnostics diags;
    CheckedConfig checked = load_and_check(options_, catalog_, diags);
    apply_log_level(options_, checked.config.agent);
    if (diags.has_errors()) {
      print_diagnostics(diags);
      std::fprintf(stderr, "vitals: %zu error(s) in %s; not starting\n", diags.error_count(),
                   options_.config_dir.c_str());
      return 1;
    }
    for (const auto &d : diags.items()) log_warn("config", d.to_string());
    std::string error;
    fs::path data_dir = resolve_data_dir(options_, checked.config.agent, error);
    if (data_dir.empty()) {
      log_error("agent", error);
      return 1;
    }
    agent_config_ = checked.config.agent;
    series_.set_limit(static_cast<size_t>(agent_config_.max_series));
    pipeline_ = std::make_unique<Pipeline>(&loop_, series_, metrics_, data_dir.string());
    // Before anything is announced (the HTTP port, readiness): a SIGTERM from
    // then on is a drain, not the default death. libuv runs the handlers
    // only once the loop runs, after start-up.
    install_signals();
    if (agent_config_.http.enabled && !start_http(error)) {
      log_error("agent", error);
      return 1;
    }
    Diagnostics start_diags;
    if (!pipeline_->start(checked, start_diags)) {
      print_diagnostics(start_diags);
      return 1;
    }
    pipeline_->set_reload_handler([this] { reload(); });
    start_watchdog();
    service::ready();
    uv_run(&loop_, UV_RUN_DEFAULT);
    return exit_code_;
  }

 private:
  void install_signals() {
    // A file-size limit (RLIMIT_FSIZE) or a full quota must fail the write
    // with EFBIG, which the storage reports as 503s, not kill the agent;
    // writes to a closed socket are errors, not SIGPIPE.
    std::signal(SIGXFSZ, SIG_IGN);
    std::signal(SIGPIPE, SIG_IGN);
    for (int signum : {SIGTERM, SIGINT, SIGHUP}) {
      auto *sig = new uv_signal_t;
      uv_signal_init(&loop_, sig);
      sig->data = this;
      uv_signal_start(
          sig,
          [](uv_signal_t *s, int num) {
            auto *self = static_cast<Agent *>(s->data);
            if (num == SIGHUP)
              self->reload();
            else
              self->stop(num);
          },
          signum);
      signals_.emplace_back(sig, [](uv_signal_t *s) {
        uv_close(reinterpret_cast<uv_handle_t *>(s), [](uv_handle_t *h) { delete reinterpret_cast<uv_signal_t *>(h); });
      });
    }
  }

  bool start_http(std::string &error) {
    const HttpConfig &h = agent_config_.http;
    HttpServerConfig cfg;
    cfg.listen = h.listen;
    cfg.max_connections = static_cast<uint32_t>(h.max_connections);
    cfg.max_streams = static_cast<uint32_t>(h.max_streams);
    cfg.max_body_bytes = h.max_body.bytes;
    cfg.max_output_buffer = h.max_output_buffer.bytes;
    cfg.max_bodies_in_flight = h.max_bodies_in_flight.bytes;
    auto ms = [](std::chrono::nanoseconds d) {
      return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
    };
    cfg.idle_timeout_ms = ms(h.idle_timeout);
    cfg.min_body_rate = h.min_body_rate.bytes;
    cfg.slow_request_ms = ms(h.slow_request);
    cfg.response_timeout_ms = ms(h.response_timeout);
    cfg.allowed_hosts = h.allowed_hosts;
    if (!h.token_file.empty() && !read_token(h.token_file, cfg.token, error)) return false;
    http_ = std::make_unique<HttpServer>(&loop_, cfg);
    if (!http_->listen(error)) return false;
    pipeline_->set_http_server(http_.get());
    register_core_routes(*http_, *pipeline_);
    metrics_.add_collector([server = http_.get()](const MetricsRegistry::Visitor &visit) {
      const HttpServerStats &s = server->stats();
      visit("vitals_http_connections_active", {}, static_cast<double>(s.connections_active));
      visit("vitals_http_connections_rejected_total", {}, static_cast<double>(s.connections_rejected));
      visit("vitals_http_connections_evicted_total", {}, static_cast<double>(s.connections_evicted));
      visit("vitals_http_streams_active", {}, static_cast<double>(s.streams_active));
      visit("vitals_http_streams_rejected_total", {}, static_cast<double>(s.streams_rejected));
      visit("vitals_http_requests_total", {}, static_cast<double>(s.requests));
      static const char *classes[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
      for (size_t i = 0; i < s.responses_by_class.size(); ++i)
        visit("vitals_http_responses_total", {{"class", classes[i]}}, static_cast<double>(s.responses_by_class[i]));
      visit("vitals_http_bytes_in_total", {}, static_cast<double>(s.bytes_in));
      visit("vitals_http_bytes_out_total", {}, static_cast<double>(s.bytes_out));
      visit("vitals_http_timeouts_total", {}, static_cast<double>(s.request_timeouts + s.idle_timeouts));
      visit("vitals_http_slow_requests_total", {}, static_cast<double>(s.slow_requests));
      visit("vitals_http_response_timeouts_total", {}, static_cast<double>(s.response_timeouts));
      visit("vitals_http_bodies_refused_total", {}, static_cast<double>(s.bodies_refused));
      const http::WsStats &ws = http::ws_stats();
      visit("vitals_http_websocket_reads_paused_total", {}, static_cast<double>(ws.reads_paused));
      visit("vitals_http_websocket_dropped_total", {}, static_cast<double>(ws.dropped_for_output));
    });
    std::string host = cfg.listen.substr(0, cfg.listen.rfind(':'));
    log_info("agent", "HTTP API on " + host + ":" + std::to_string(http_->port()) +
                          (cfg.token.empty() ? " (no token: admin routes disabled)" : ""));
    return true;
  }

  // The bearer token: the file's content without surrounding whitespace.
  static bool read_token(const std::string &path, std::string &token, std::string &error) {
    std::ifstream in(path);
    if (!in) {
      error = "cannot read [agent.http] token_file " + path;
      return false;
    }
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    size_t b = text.find_first_not_of(" \t\r\n"), e = text.find_last_not_of(" \t\r\n");
    if (b == std::string::npos) {
      error = "[agent.http] token_file " + path + " is empty";
      return false;
    }
    token = text.substr(b, e - b + 1);
    return true;
  }

  void start_watchdog() {
    uint64_t usec = service::watchdog_interval_us();
    if (!usec) return;
    watchdog_ = std::make_unique<UvTimer>(&loop_, [] { service::watchdog(); });
    watchdog_->start(0, std::max<uint64_t>(1, usec / 2000));
  }

  void stop(int signum) {
    if (stopping_) {
      log_warn("agent", "second signal: exiting without draining");
      exit_code_ = 1;
      uv_stop(&loop_);
      return;
    }
    stopping_ = true;
    log_info("agent", std::string("received ") + (signum == SIGINT ? "SIGINT" : "SIGTERM") +
                          ": stopping inputs, draining queues");
    service::stopping();
    pipeline_->shutdown(agent_config_.shutdown_timeout.count(), [this](bool drained) {
      exit_code_ = drained ? 0 : 1;
      log_info("agent", drained ? "stopped cleanly" : "stopped with data abandoned");
      signals_.clear();
      watchdog_.reset();
      if (http_) http_->close([] {}, 2'000);
    });
  }

  void reload() {
    if (stopping_) return;
    service::reloading();
    log_info("agent", "SIGHUP: reloading " + options_.config_dir.string());
    Diagnostics diags;
    PluginCatalog catalog;
    CheckedConfig checked = load_and_check(options_, catalog, diags);
    if (diags.has_errors()) {
      for (const auto &d : diags.items()) log_error("config", d.to_string());
      log_error("agent", "reload refused: " + std::to_string(diags.error_count()) +
                             " error(s); the running pipeline is unchanged");
      service::ready();
      return;
    }
    for (const auto &d : diags.items()) log_warn("config", d.to_string());
    const AgentConfig &next = checked.config.agent;
    if (next.data_dir != agent_config_.data_dir || next.http.listen != agent_config_.http.listen)
      log_warn("agent", "changes to [agent] data_dir or http need a restart; they are not applied");
    apply_log_level(options_, next);
    agent_config_.shutdown_timeout = next.shutdown_timeout;
    if (http_) {  // a rotated token applies from the next request
      std::string token, error;
      if (next.http.token_file.empty() || read_token(next.http.token_file, token, error))
        http_->set_token(token);
      else
        log_error("agent", error + "; keeping the previous token");
    }
    ReloadReport report;
    Diagnostics reload_diags;
    if (!pipeline_->reload(checked, reload_diags, report)) {
      for (const auto &d : reload_diags.items()) log_error("config", d.to_string());
      log_error("agent", "reload failed; the running pipeline is unchanged");
    } else {
      catalog_ = std::move(catalog);
      auto join = [](const std::vector<std::string> &v) {
        std::string s;
        for (const auto &x : v) s += (s.empty() ? "" : ", ") + x;
        return s.empty() ? std::string("none") : s;
      };
      log_info("agent", "reloaded: restarted [" + join(report.started) + "], stopped [" + join(report.stopped) +
                            "], unchanged [" + join(report.kept) + "]");
    }
    service::ready();
  }

  AgentOptions options_;
  uv_loop_t loop_{};
  PluginCatalog catalog_;
  SeriesRegistry series_;
  MetricsRegistry metrics_;
  AgentConfig agent_config_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<Pipeline> pipeline_;
  std::vector<std::unique_ptr<uv_signal_t, void (*)(uv_signal_t *)>> signals_;
  std::unique_ptr<UvTimer> watchdog_;
  bool stopping_ = false;
  int exit_code_ = 0;
};

}  // namespace

// Every stream client holds a socket: a thousand dashboards or WebSocket
// subscribers exceed the soft limit of 1024 descriptors that systemd and most
// shells start a service with. The hard limit is the administrator's say;
// the soft one is ours to raise up to it.
void raise_descriptor_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  rlim_t want = limit.rlim_max == RLIM_INFINITY ? 65536 : std::min<rlim_t>(limit.rlim_max, 65536);
  if (limit.rlim_cur >= want) return;
  rlim_t was = limit.rlim_cur;
  limit.rlim_cur = want;
  if (setrlimit(RLIMIT_NOFILE, &limit) == 0)
    log_debug("agent", "open files limit raised from " + std::to_string(was) + " to " + std::to_string(want));
}

int run_agent(const AgentOptions &options) {
  raise_descriptor_limit();
  Agent agent(options);
  return agent.run();
}

int run_inputs_once(const AgentOptions &options) {
  PluginCatalog catalog;
  Diagnostics diags;
  CheckedConfig checked = load_and_check(options, catalog, diags);
  apply_log_level(options, checked.config.agent);
  if (diags.has_errors()) {
    print_diagnostics(diags);
    return 1;
  }
  // Only inputs: the samples are printed here instead of going anywhere.
  Config inputs_only = checked.config;
  inputs_only.components.clear();
  for (const auto &c : checked.config.components)
    if (c.kind == VITALS_KIND_INPUT && c.enabled) inputs_only.components.push_back(c);
  Diagnostics d2;
  CheckedConfig only = check_config(std::move(inputs_only), catalog, d2);
  std::string error;
  fs::path data_dir = resolve_data_dir(options, checked.config.agent, error);
  if (data_dir.empty()) {
    std::fprintf(stderr, "vitals: %s\n", error.c_str());
    return 1;
  }
  uv_loop_t loop;
  uv_loop_init(&loop);
  int failures = 0;
  {
    SeriesRegistry series;
    MetricsRegistry metrics;
    Pipeline pipeline(&loop, series, metrics, data_dir.string());
    pipeline.set_tap([&](const Component &from, const Batch &batch) {
      for (size_t i = 0; i < batch.samples(); ++i) {
        const vitals_series_t *s = series.find(batch.series[i]);
        std::printf("%s %.17g %lld\n", s ? s->text : "?", batch.values[i], static_cast<long long>(batch.ts_ns[i]));
      }
      for (const auto &e : batch.events)
        std::printf("# event from %s: [%d] %s: %s\n", from.id().c_str(), e.severity, e.source.c_str(),
                    e.message.c_str());
    });
    Diagnostics start_diags;
    if (!pipeline.start(only, start_diags, /*schedule=*/false)) {
      print_diagnostics(start_diags);
      uv_loop_close(&loop);
      return 1;
    }
    pipeline.collect_all_once([&] {
      for (const Component *c : pipeline.components()) {
        if (c->error_count() > 0) {
          ++failures;
          std::fprintf(stderr, "vitals: input '%s' failed: %s\n", c->id().c_str(), c->last_error().c_str());
        }
      }
      pipeline.shutdown(1'000'000'000, [](bool) {});
    });
    uv_run(&loop, UV_RUN_DEFAULT);
  }
  uv_run(&loop, UV_RUN_NOWAIT);
  uv_loop_close(&loop);
  std::fflush(stdout);
  return failures ? 1 : 0;
}

}  // namespace vitals::core
