// The http_telemetry input: POST /api/telemetry (JSON) and POST /api/write
// (InfluxDB line protocol; also at InfluxDB's /write and /api/v2/write, with
// /ping) into the pipeline as one batch per request,
// answered 204 once every storage committed it (or at once, ack = "accepted").
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "ingest.hpp"
#include "json_ingest.hpp"
#include "line_protocol.hpp"
#include "sample_toml.h"
#include "vitals/plugin.hpp"
#include "vitals/settings.hpp"
#include "vitals/time_parse.hpp"

namespace vitals::http_telemetry {

namespace {

enum class AckMode { committed, accepted };
enum class Format { json, line_protocol };

constexpr const char *kAckModes[] = {"committed", "accepted", nullptr};

// The InfluxDB write API whose shape /write follows, as /ping reports it.
constexpr const char *kInfluxApiVersion = "1.8";

// What an acknowledgement needs; it may arrive after the instance is gone (a
// reload stopped it while its last batch was still being committed).
struct AckState {
  const vitals_http_service_t *http = nullptr;  // lives as long as the agent
  bool alive = true;                            // the metric handles die with the instance
  vitals::Metric samples, busy;
};

std::string check_path(const char *key, std::string path) {
  if (!path.empty() && (path[0] != '/' || path.find_first_of("?# ") != std::string::npos))
    throw std::invalid_argument(std::string(key) + ": must be a path starting with '/' (got \"" + path + "\")");
  return path;
}

std::vector<vitals::Label> extra_labels(const cJSON *table) {
  std::vector<vitals::Label> out;
  if (!cJSON_IsObject(table))
    throw std::invalid_argument("labels: must be a table of strings, like { site = \"lab\" }");
  for (const cJSON *l = table->child; l; l = l->next) {
    if (!valid_label_key(l->string))
      throw std::invalid_argument("labels: key \"" + std::string(l->string) +
                                  "\" is not a valid label key ([a-zA-Z_][a-zA-Z0-9_]*)");
    if (!cJSON_IsString(l)) throw std::invalid_argument("labels." + std::string(l->string) + ": must be a string");
    out.push_back({l->string, l->valuestring});
  }
  return out;
}

int64_t wall_clock_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

class HttpTelemetry final : public vitals::PushInput {
 public:
  // The loader refuses this plugin on an agent without these.
  static constexpr vitals_service_ref_t required_services[] = {
      vitals::require_service(VITALS_SERVICE_HTTP, VITALS_SERVICE_HTTP_VERSION)};
  struct Settings {
    std::string path, write_path;
    bool influx_routes = false;
    std::string ack;
    int64_t max_samples = 0;
    bool sanitize_names = false;
    vitals::AnyValue labels;
    int64_t max_labels = 0, max_name_length = 0, max_label_value_length = 0;
  };
  static constexpr auto schema = vitals::settings<Settings>(
      vitals::key("path", &Settings::path, "\"/api/telemetry\"", "route for JSON telemetry; \"\" turns it off"),
      vitals::key("write_path", &Settings::write_path, "\"/api/write\"",
                  "route for InfluxDB line protocol; \"\" turns it off"),
      vitals::key("influx_routes", &Settings::influx_routes, "true",
                  "also take line protocol at /write and /api/v2/write, and answer GET /ping, as InfluxDB 1 and 2 do "
                  "(Telegraf's influxdb and influxdb_v2 outputs); needs write_path"),
      vitals::key("ack", &Settings::ack, "\"committed\"",
                  "\"committed\": answer 204 once every storage committed the data; \"accepted\": once it is queued",
                  vitals::one_of(kAckModes)),
      vitals::key("max_samples", &Settings::max_samples, "100000", "most samples one request may carry (more: 413)",
                  vitals::between("1", "10000000")),
      vitals::key("sanitize_names", &Settings::sanitize_names, "true",
                  "replace characters names may not hold with '_' (false: refuse the request)"),
      vitals::key("labels", &Settings::labels, "{}", "labels added to every sample that does not set them, as a table"),
      // Ceilings of the per-series limits: past them a series is no longer a
      // telemetry series but a document.
      vitals::key("max_labels", &Settings::max_labels, "64",
                  "most labels one series may carry, configured labels included (more: 400)",
                  vitals::between("1", "1000")),
      vitals::key("max_name_length", &Settings::max_name_length, "256",
                  "longest series name or label key, in bytes (longer: 400)", vitals::between("1", "65536")),
      vitals::key("max_label_value_length", &Settings::max_label_value_length, "4096",
                  "longest label value, in bytes (longer: 400)", vitals::between("1", "65536")));
  static constexpr const char *sample_config = vitals_sample_toml;

  HttpTelemetry(vitals::Host host, const vitals::Config &config) : HttpTelemetry(host, schema.read(config)) {}
  HttpTelemetry(vitals::Host host, const Settings &s)
      : PushInput(host),
        path_(check_path("path", s.path)),
        write_path_(check_path("write_path", s.write_path)),
        influx_routes_(s.influx_routes),
        sanitize_names_(s.sanitize_names),
        resolver_({[h = host.raw()](const char *name, const vitals_label_t *labels, uint32_t n) {
                     return h->intern(h->ctx, name, labels, n);
                   },
                   [h = host.raw()](vitals_series_id_t id) { return h->series(h->ctx, id); }},
                  extra_labels(s.labels.get())),
        acks_(std::make_shared<AckState>()) {
    if (path_.empty() && write_path_.empty())
      throw std::invalid_argument("path, write_path: both are \"\", so there is nothing to serve");
    if (path_ == write_path_) throw std::invalid_argument("write_path: must differ from path (\"" + path_ + "\")");
    // Bounds and choices are the schema's: the host checked them.
    ack_ = s.ack == "accepted" ? AckMode::accepted : AckMode::committed;
    max_samples_ = static_cast<size_t>(s.max_samples);
    limits_.max_labels = static_cast<size_t>(s.max_labels);
    limits_.max_name_length = static_cast<size_t>(s.max_name_length);
    limits_.max_label_value_length = static_cast<size_t>(s.max_label_value_length);
    if (resolver_.extra_label_count() > limits_.max_labels)
      throw std::invalid_argument("labels: " + std::to_string(resolver_.extra_label_count()) +
                                  " configured labels, more than " + "max_labels (" +
                                  std::to_string(limits_.max_labels) + ")");

    requests_ = host.metric("vitals_http_telemetry_requests_total", VITALS_METRIC_COUNTER, "Requests received");
    rejected_ = host.metric("vitals_http_telemetry_rejected_total", VITALS_METRIC_COUNTER,
                            "Requests refused as malformed or too large (400, 413, 415)");
    strings_skipped_ = host.metric("vitals_http_telemetry_string_fields_skipped_total", VITALS_METRIC_COUNTER,
                                   "Line protocol string fields skipped (samples are numeric)");
    acks_->http = &host.http();
    acks_->samples =
        host.metric("vitals_http_telemetry_samples_total", VITALS_METRIC_COUNTER, "Samples accepted with a 204 answer");
    acks_->busy = host.metric("vitals_http_telemetry_busy_total", VITALS_METRIC_COUNTER,
                              "Requests answered 503 (backpressure, storage failure, shutdown)");
  }
  ~HttpTelemetry() override { acks_->alive = false; }

  void start() override {
    try {
      serve(path_, Format::json);
      serve(write_path_, Format::line_protocol);
      if (influx_routes_ && !write_path_.empty()) serve_influx_routes();
    } catch (const vitals::HttpUnavailable &e) {
      // Without an HTTP server this input has nothing to do, but the rest of
      // the pipeline runs on; a route another component owns stays an error.
      host().warn(std::string(e.what()) + ": http_telemetry receives nothing");
    }
  }

  void stats(const vitals::StatsVisitor &visit) override {
    const SeriesCache &cache = resolver_.cache();
    visit("series_cache_entries", static_cast<double>(cache.size()), {});
    visit("series_cache_hits", static_cast<double>(cache.hits()), {});
    visit("series_cache_misses", static_cast<double>(cache.misses()), {});
    visit("series_cache_resets", static_cast<double>(cache.resets()), {});
    visit("series_interned", static_cast<double>(resolver_.interned()), {});
  }

 private:
  void serve(const std::string &path, Format format) {
    if (path.empty()) return;
    route("POST", path, 0, [this, format](const vitals::HttpRequest &request, vitals::HttpResponse response) {
      handle(request, response, format);
    });
  }

  // InfluxDB's own paths, so that Telegraf's InfluxDB outputs work with
  // their defaults: /write (1.x, ?db= and ?rp= are ignored), /api/v2/write
  // (?org= and ?bucket= are ignored) and the /ping liveness probe, which
  // InfluxDB answers 204 with its version (and which needs no token there).
  void serve_influx_routes() {
    for (const char *alias : {"/write", "/api/v2/write"})
      if (write_path_ != alias) serve(alias, Format::line_protocol);
    route("GET", "/ping", VITALS_HTTP_PUBLIC, [](const vitals::HttpRequest &, vitals::HttpResponse response) {
      response.header("X-Influxdb-Version", kInfluxApiVersion);
      response.header("X-Influxdb-Build", "vitals");
      response.respond(204, "", "");
    });
  }

  void handle(const vitals::HttpRequest &request, vitals::HttpResponse response, Format format) {
    requests_.update(1);
    std::string_view encoding = request.header("content-encoding");
    if (!encoding.empty() && encoding != "identity")
      return reject(response, 415,
                    "Content-Encoding \"" + std::string(encoding) + "\" is not supported: send the body uncompressed");
    TimePrecision precision = TimePrecision::ns;
    if (format == Format::line_protocol) {
      if (auto p = request.param("precision")) {
        auto parsed = parse_time_precision(*p);
        if (!parsed) return reject(response, 400, "precision: unknown \"" + *p + "\" (expected ns, us, ms or s)");
        precision = *parsed;
      }
    }

    IngestOptions options{wall_clock_ns(), sanitize_names_, max_samples_, limits_};
    IngestCounts counts;
    batch_.clear();
    auto error = format == Format::json
                     ? parse_json_telemetry(request.body(), options, resolver_, batch_, counts)
                     : parse_line_protocol(request.body(), precision, options, resolver_, batch_, counts);
    if (error) {
      batch_.clear();
      rejected_.update(1);
      host().debug("refused " + std::string(request.path()) + " from " + std::string(request.remote()) + ": " +
                   error->message);
      return response.respond(error->status, "application/json", error->json());
    }
    if (counts.string_fields_skipped) strings_skipped_.update(static_cast<double>(counts.string_fields_skipped));
    if (batch_.size() == 0) return response.respond(204, "", "");
    submit(response);
  }

  // One emit, one acknowledgement, one answer.
  void submit(vitals::HttpResponse response) {
    const double n = static_cast<double>(batch_.size());
    int rc;
    if (ack_ == AckMode::accepted) {
      rc = host().emit(batch_);
      if (rc == VITALS_OK) {
        acks_->samples.update(n);
        response.respond(204, "", "");
      }
    } else {
      rc = host().emit(batch_, [state = acks_, answer = response.raw(), n](int status, std::string_view error) {
        vitals::HttpResponse response(state->http, answer);
        if (status == VITALS_OK) {
          if (state->alive) state->samples.update(n);
          return response.respond(204, "", "");
        }
        if (state->alive) state->busy.update(1);
        response.header("Retry-After", "1");
        response.error(503, "not stored: " + std::string(error.empty() ? "a storage failed" : error) +
                                "; nothing of this request may be kept, retry it");
      });
    }
    batch_.clear();
    if (rc == VITALS_OK) return;
    if (rc == VITALS_AGAIN || rc == VITALS_STOPPED) {
      acks_->busy.update(1);
      response.header("Retry-After", "1");
      return response.error(503, rc == VITALS_AGAIN ? "pipeline busy (backpressure): retry later"
                                                    : "the agent is shutting down: retry later");
    }
    response.error(500, "the agent refused the batch (status " + std::to_string(rc) + ")");
  }

  void reject(vitals::HttpResponse response, int status, const std::string &message) {
    rejected_.update(1);
    IngestError e;
    e.status = status;
    e.message = message;
    response.respond(status, "application/json", e.json());
  }

  std::string path_, write_path_;
  bool influx_routes_;
  AckMode ack_ = AckMode::committed;
  size_t max_samples_ = 0;
  SeriesLimits limits_;
  bool sanitize_names_;
  SeriesResolver resolver_;
  vitals::Batch batch_;  // reused: emit copies it
  std::shared_ptr<AckState> acks_;
  vitals::Metric requests_, rejected_, strings_skipped_;
};

}  // namespace vitals::http_telemetry

VITALS_PLUGIN(vitals::http_telemetry::HttpTelemetry, "http_telemetry", "1.0.0",
              "Receives telemetry over HTTP: JSON on /api/telemetry, InfluxDB line protocol on /api/write")
