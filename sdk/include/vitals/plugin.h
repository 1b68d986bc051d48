/* Vitals plugin ABI 2.0: the only contract between the agent and a plugin.
 *
 * Pure C so that any compiler can build a plugin.
 *
 * Shape. A plugin exports one symbol, vitals_plugin(), returning a static
 * descriptor (vitals_plugin_t): what it is, its config schema, its callbacks,
 * the services it requires and those it provides. Each instance receives the
 * host's core table (vitals_host_t: logging, series, emit/complete, loop,
 * timers, self-metrics, data dir, instance id) and asks it for anything else
 * by name: get_service(ctx, "vitals.http", 1) returns the HTTP service table,
 * or NULL when the host lacks it at that version. A plugin that needs no HTTP
 * never sees it.
 *
 * Services. Each service table starts with struct_size and version and ends
 * in a reserved tail; a service grows by taking reserved slots and bumping its
 * own version, independently of the others and of the ABI. Every field says
 * which version of its table added it. A plugin lists in its descriptor the
 * services it requires (name, minimum version): the loader refuses it, with
 * one line naming both versions, when the host offers less. It lists the
 * services it provides (vitals.storage, vitals.tunables) with its own tables.
 *
 * Threading. One libuv loop thread runs the agent. On it: create, destroy,
 * start, stop, timers, HTTP handlers, WebSocket callbacks, ack callbacks,
 * and every function of vitals.http, vitals.ws (but ws_frame and
 * ws_frame_release: any thread) and vitals.control. collect() runs on the
 * libuv thread pool unless VITALS_FLAG_COLLECT_ON_LOOP. consume() runs on the
 * loop unless VITALS_FLAG_CONSUME_ON_THREAD gives the instance a consumer
 * thread of its own (flush() then runs there too). The storage service's
 * calls run on the thread pool, several at once, concurrently with consume().
 * stats() and the tunables service run on the loop, possibly while consume()
 * runs on the consumer thread. Never two other calls at once on one instance.
 * Core-table functions marked thread-safe may be called from any thread.
 *
 * Versioning. The host refuses a plugin whose abi_major differs from its own
 * (a 1.x plugin: "built for ABI 1.x, rebuild against vitals-sdk 2.x"), whose
 * abi_minor is newer, whose struct_size is outside
 * [VITALS_PLUGIN_MIN_SIZE, sizeof(vitals_plugin_t)], or which requires a
 * service the host lacks. Structs only grow into their reserved tails within
 * a major version; a host copies a plugin's descriptor into a zeroed struct
 * of its own size, so an older plugin's missing tail reads as NULL.
 *
 * Memory: nothing allocated on one side is freed on the other. Batches handed
 * to a plugin are borrowed for the duration of the call; batches a plugin
 * emits are copied by the host before emit() returns. */
#ifndef VITALS_PLUGIN_H
#define VITALS_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VITALS_ABI_MAJOR 2
#define VITALS_ABI_MINOR 0

/* The one symbol every plugin exports. */
#define VITALS_PLUGIN_SYMBOL "vitals_plugin"

#if defined(_WIN32)
#define VITALS_EXPORT __declspec(dllexport)
#else
#define VITALS_EXPORT __attribute__((visibility("default")))
#endif

/* ---- services: names and the versions this header describes ---------------- */

#define VITALS_SERVICE_HTTP "vitals.http" /* host: routes, responses, streams */
#define VITALS_SERVICE_HTTP_VERSION 1
#define VITALS_SERVICE_WS "vitals.ws" /* host: WebSocket accept, frames, send, close */
#define VITALS_SERVICE_WS_VERSION 1
#define VITALS_SERVICE_CONTROL "vitals.control" /* host: components, stats, tunables */
#define VITALS_SERVICE_CONTROL_VERSION 1
/* vitals.storage has two halves under one name and version: the host's
 * (answering a query) and the storage plugin's (the queries it answers). */
#define VITALS_SERVICE_STORAGE "vitals.storage"
#define VITALS_SERVICE_STORAGE_VERSION 1
#define VITALS_SERVICE_TUNABLES "vitals.tunables" /* plugin: knobs an optimizer may set */
#define VITALS_SERVICE_TUNABLES_VERSION 1

/* ---- status codes returned by callbacks and host functions ---------------- */
typedef enum vitals_status {
  VITALS_OK = 0,
  VITALS_ERROR = -1,   /* failed; last_error() says why */
  VITALS_PENDING = 1,  /* consume: the plugin will call host->complete() later */
  VITALS_AGAIN = -2,   /* emit: a downstream queue with overflow "block" is full */
  VITALS_INVALID = -3, /* a malformed argument (bad series name, NULL batch, out of range) */
  VITALS_STOPPED = -4  /* emit after the pipeline began shutting down */
} vitals_status_t;

typedef enum vitals_kind {
  VITALS_KIND_INPUT = 1,
  VITALS_KIND_PROCESSOR = 2,
  VITALS_KIND_STORAGE = 3,
  VITALS_KIND_OUTPUT = 4,
  VITALS_KIND_OPTIMIZER = 5
} vitals_kind_t;

/* Descriptor flags: how the core should drive the plugin. */
enum {
  /* collect() is cheap and never blocks: call it on the loop thread instead
   * of the libuv thread pool (saves a thread hop per tick). */
  VITALS_FLAG_COLLECT_ON_LOOP = 1u << 0,
  /* consume() may block (disk, network): the core calls it on a dedicated
   * thread for this instance, fed by the instance's bounded queue. Without
   * this flag consume() runs on the loop thread and must not block. */
  VITALS_FLAG_CONSUME_ON_THREAD = 1u << 1,
  /* Processors: consume() is handed the batch's events and owns them: it
   * emits those it keeps (changed or not). Without this flag the core passes
   * every event on unchanged, on the batch's acknowledgement, and consume()
   * sees samples only. */
  VITALS_FLAG_PROCESSOR_EVENTS = 1u << 2
};

typedef enum vitals_log_level {
  VITALS_LOG_ERROR = 0,
  VITALS_LOG_WARN = 1,
  VITALS_LOG_INFO = 2,
  VITALS_LOG_DEBUG = 3
} vitals_log_level_t;

typedef enum vitals_severity {
  VITALS_SEVERITY_INFO = 0,
  VITALS_SEVERITY_WARNING = 1,
  VITALS_SEVERITY_CRITICAL = 2,
  VITALS_SEVERITY_EMERGENCY = 3
} vitals_severity_t;

/* ---- data ------------------------------------------------------------------ */

/* Series are interned by the host to 64-bit ids; 0 is never a valid id, nor
 * is any id from VITALS_SERIES_ID_PLACEHOLDER_MIN up: a plugin may use those
 * to stand for series it will intern later (an input that interns a request's
 * series only once the whole request proved valid). */
typedef uint64_t vitals_series_id_t;
#define VITALS_SERIES_ID_PLACEHOLDER_MIN UINT64_C(0xFFFFFFFF00000000)

typedef struct vitals_label {
  const char *key;
  const char *value;
} vitals_label_t;

/* What the host knows about an interned series. Owned by the host and valid
 * for the life of the process. */
typedef struct vitals_series {
  vitals_series_id_t id;
  const char *name;
  const vitals_label_t *labels; /* sorted by key */
  uint32_t n_labels;
  uint32_t reserved0;
  const char *text; /* canonical form: name{key="value",...} */
  void *reserved[4];
} vitals_series_t;

typedef struct vitals_event {
  int64_t ts_ns;    /* nanoseconds since the Unix epoch, UTC */
  int32_t severity; /* vitals_severity_t */
  uint32_t n_labels;
  const char *source; /* component or device that raised it */
  const char *message;
  const vitals_label_t *labels;
  void *reserved[4];
} vitals_event_t;

/* A batch: columnar samples plus optional events. The unit that moves. */
typedef struct vitals_batch {
  uint32_t n_samples;
  uint32_t n_events;
  const vitals_series_id_t *series; /* n_samples entries each */
  const int64_t *ts_ns;
  const double *values;
  const vitals_event_t *events; /* n_events entries */
  void *reserved[4];
} vitals_batch_t;

/* ---- configuration schema --------------------------------------------------- */

typedef enum vitals_config_type {
  VITALS_CONFIG_STRING = 1,
  VITALS_CONFIG_INT = 2,
  VITALS_CONFIG_FLOAT = 3, /* integers are accepted too */
  VITALS_CONFIG_BOOL = 4,
  VITALS_CONFIG_DURATION = 5, /* "500ms", "1s", "5m", "30d"; JSON: nanoseconds */
  VITALS_CONFIG_SIZE = 6,     /* "64KB", "10MB", or an integer; JSON: bytes */
  VITALS_CONFIG_STRING_ARRAY = 7,
  VITALS_CONFIG_ANY = 8 /* any TOML value (tables, arrays of tables), as JSON */
} vitals_config_type_t;

/* One row of a plugin's config schema. The host checks a component's TOML
 * table against these rows (unknown keys, wrong types, missing required keys,
 * values outside [min, max] or not among the choices are errors with
 * file:line, reported by `vitals check`) and passes the checked values,
 * defaults filled in, to create() as a JSON object. */
typedef struct vitals_config_field {
  const char *key;
  int32_t type;              /* vitals_config_type_t */
  int32_t required;          /* non-zero: the key must be present */
  const char *default_value; /* as written in TOML ("\"stdout\"", "100", "\"1s\""); NULL: none */
  const char *description;
  /* Bounds, inclusive, written as the value would be in TOML ("1", "0.5",
   * "\"100ms\"", "\"64KiB\""); NULL: unbounded. INT, FLOAT, DURATION, SIZE. */
  const char *min;
  const char *max;
  /* NULL-terminated list of the allowed values of a STRING (or of each
   * element of a STRING_ARRAY); NULL: any string. */
  const char *const *choices;
  void *reserved[4];
} vitals_config_field_t;

/* ---- what the host hands every instance ------------------------------------- */

typedef struct vitals_host_ctx vitals_host_ctx_t; /* opaque, one per instance */
typedef struct vitals_ack vitals_ack_t;           /* opaque completion token */
typedef struct vitals_metric vitals_metric_t;     /* opaque self-metric handle */
struct uv_loop_s;

/* Called on the loop thread once every storage and output that received an
 * emitted batch committed it (status VITALS_OK) or failed/dropped it. */
typedef void (*vitals_ack_fn)(void *user, int status, const char *error);

/* Visits one value: self-metrics snapshots and plugin stats. */
typedef void (*vitals_stat_visit_fn)(void *user, const char *name, const vitals_label_t *labels, uint32_t n_labels,
                                     double value);

typedef void (*vitals_timer_fn)(void *user);

typedef enum vitals_metric_type {
  VITALS_METRIC_COUNTER = 1,
  VITALS_METRIC_GAUGE = 2,
  VITALS_METRIC_HISTOGRAM = 3
} vitals_metric_type_t;

/* The core table: what every instance may use, whatever its kind. */
typedef struct vitals_host {
  uint32_t struct_size; /* sizeof(vitals_host_t) as the host knows it */
  uint32_t abi_minor;   /* the host's VITALS_ABI_MINOR */
  vitals_host_ctx_t *ctx;

  /* Returns the host's table of the service `name` if its version is at
   * least min_version, else NULL. The table lives as long as the agent
   * process; its functions take this ctx where they need the instance.
   * Thread-safe. */
  const void *(*get_service)(vitals_host_ctx_t *ctx, const char *name, uint32_t min_version);

  /* Logging, tagged with the instance id. Thread-safe. */
  void (*log)(vitals_host_ctx_t *ctx, int level, const char *message);

  /* Interns a series; returns 0 if the name or a label is invalid or the
   * agent's series limit is reached. Labels need not be sorted. Thread-safe. */
  vitals_series_id_t (*intern)(vitals_host_ctx_t *ctx, const char *name, const vitals_label_t *labels,
                               uint32_t n_labels);
  /* Looks up an interned series; NULL if unknown. Thread-safe. */
  const vitals_series_t *(*series)(vitals_host_ctx_t *ctx, vitals_series_id_t id);

  /* Hands a batch downstream; the host copies it before returning.
   * parent: NULL, or the ack this instance's consume() was given and has not
   * completed yet; the input's acknowledgement then waits for this batch too
   * (a processor that answers VITALS_PENDING and emits later must pass it,
   * before it completes the parent). What consume() emits while it runs joins
   * the consumed batch's acknowledgement without it.
   * With on_ack set, on_ack(ack_user, status, error) is called on the loop
   * thread exactly once, when every storage and output that received the data
   * committed or failed it (at once if nothing consumes it).
   * Returns VITALS_OK, VITALS_AGAIN when a "block" queue downstream is full
   * (nothing was enqueued and on_ack will not be called), VITALS_INVALID when
   * parent is not an open delivery to this instance, or VITALS_STOPPED.
   * What a processor emits from consume() or with a parent never gets
   * VITALS_AGAIN: the host keeps it and holds the processor (it takes no more
   * input) until there is room, so backpressure reaches its producers.
   * Thread-safe. */
  int (*emit)(vitals_host_ctx_t *ctx, vitals_ack_t *parent, const vitals_batch_t *batch, vitals_ack_fn on_ack,
              void *ack_user);

  /* Completes a consume() that returned VITALS_PENDING. Thread-safe. */
  void (*complete)(vitals_host_ctx_t *ctx, vitals_ack_t *ack, int status, const char *error);

  /* The agent's event loop. Only touch it from the loop thread. */
  struct uv_loop_s *(*loop)(vitals_host_ctx_t *ctx);

  /* Timers on the loop thread; callbacks run on the loop thread. A repeat of
   * 0 fires once. Returns a non-zero id. The host stops an instance's timers
   * before stop(). Loop thread only. */
  uint64_t (*timer_start)(vitals_host_ctx_t *ctx, uint64_t first_ms, uint64_t repeat_ms, vitals_timer_fn fn,
                          void *user);
  void (*timer_stop)(vitals_host_ctx_t *ctx, uint64_t timer_id);

  /* Self-metrics, labelled with the instance. Handles live as long as the
   * instance. update() adds to counters, sets gauges and observes histograms.
   * Thread-safe. */
  vitals_metric_t *(*metric)(vitals_host_ctx_t *ctx, const char *name, int type, const char *help);
  void (*metric_update)(vitals_metric_t *metric, double value);

  /* The agent's data directory (absolute, exists). */
  const char *(*data_dir)(vitals_host_ctx_t *ctx);
  /* This instance's id, as in [input.<id>]. */
  const char *(*instance_id)(vitals_host_ctx_t *ctx);

  void *reserved[16];
} vitals_host_t;

/* ---- vitals.http (host), all on the loop thread ------------------------------ */

/* A request to a route a plugin registered. Borrowed for the handler call. */
typedef struct vitals_http_request {
  const char *method; /* "GET", "POST", ... */
  const char *path;   /* percent-decoded, without the query */
  const char *query;  /* raw query string without '?'; "" if none */
  const char *body;
  size_t body_len;
  const vitals_label_t *headers; /* names in lower case */
  uint32_t n_headers;
  uint32_t reserved0;
  const char *remote; /* "127.0.0.1:53412" */
  void *reserved[4];
} vitals_http_request_t;

/* The answer to one request: valid from the handler call until the plugin
 * calls respond() or stream_end() on it (it must, exactly once), even if the
 * client went away meanwhile (the answer is then discarded). */
typedef struct vitals_http_response vitals_http_response_t;

typedef void (*vitals_http_handler_fn)(void *user, const vitals_http_request_t *request,
                                       vitals_http_response_t *response);
typedef void (*vitals_http_close_fn)(void *user);

enum {
  VITALS_HTTP_PUBLIC = 1u << 0, /* reachable without the bearer token (health checks) */
  VITALS_HTTP_ADMIN = 1u << 1,  /* always needs the token; refused when none is configured */
  VITALS_HTTP_PREFIX = 1u << 2  /* path is a prefix: "/dashboard/" matches everything below */
};

typedef struct vitals_http_service {
  uint32_t struct_size; /* sizeof(vitals_http_service_t) as the host knows it */
  uint32_t version;     /* VITALS_SERVICE_HTTP_VERSION of the host */

  /* v1: registers a route on the agent's HTTP server; it goes away when the
   * instance stops. Returns VITALS_OK, VITALS_INVALID (bad path or a route
   * another component owns) or VITALS_ERROR (the HTTP server is disabled). */
  int (*route)(vitals_host_ctx_t *ctx, const char *method, const char *path, uint32_t flags,
               vitals_http_handler_fn handler, void *user);
  /* v1: adds a response header; before respond/stream_start. */
  void (*header)(vitals_http_response_t *response, const char *name, const char *value);
  /* v1: answers with a whole body and finishes the response. */
  void (*respond)(vitals_http_response_t *response, int status, const char *content_type, const char *body,
                  size_t body_len);
  /* v1: starts a streamed answer (chunked), e.g. text/event-stream. Returns
   * VITALS_STOPPED when the client has gone, or when the agent's stream limit
   * ([agent.http] max_streams) is reached: the host then answered 503 itself. */
  int (*stream_start)(vitals_http_response_t *response, int status, const char *content_type);
  /* v1: writes a chunk; VITALS_STOPPED once the client has gone away. */
  int (*stream_write)(vitals_http_response_t *response, const char *data, size_t len);
  /* v1: finishes a streamed answer. */
  void (*stream_end)(vitals_http_response_t *response);
  /* v1: calls fn(user) if the client disconnects before the response finished. */
  void (*on_close)(vitals_http_response_t *response, vitals_http_close_fn fn, void *user);
  /* v1: bytes written to a stream but not yet taken by the client's socket:
   * a streaming output uses it to notice a client that does not keep up. */
  size_t (*stream_buffered)(vitals_http_response_t *response);

  void *reserved[8];
} vitals_http_service_t;

/* ---- vitals.ws (host), on the loop thread but ws_frame/frame_release ------- */

/* One accepted WebSocket connection (RFC 6455). Valid from accept() until
 * the plugin calls close() or the host calls on_close, whichever is first. */
typedef struct vitals_ws vitals_ws_t;
/* One encoded server frame: encode once, send the same bytes to any number of
 * connections. Reference counted; the creator holds one reference. */
typedef struct vitals_ws_frame vitals_ws_frame_t;

enum { VITALS_WS_TEXT = 1, VITALS_WS_BINARY = 2, VITALS_WS_PING = 9, VITALS_WS_PONG = 10 };

typedef struct vitals_ws_handlers {
  uint32_t struct_size; /* sizeof(vitals_ws_handlers_t) */
  uint32_t max_message; /* largest incoming message in bytes; 0: 64 KiB. Larger closes with 1009 */
  /* A whole text (valid UTF-8) or binary message from the client. The data is
   * borrowed for the call. Pings, pongs and close frames are the host's. */
  void (*on_message)(void *user, vitals_ws_t *ws, int opcode, const char *data, size_t len);
  /* The connection ended without the plugin closing it: the client closed
   * (its code), a protocol error (1002, 1007, 1009), the network (1006) or
   * the agent stopping (1001). Called once; ws is invalid afterwards. */
  void (*on_close)(void *user, vitals_ws_t *ws, int code, const char *reason);
  void *reserved[4];
} vitals_ws_handlers_t;

typedef struct vitals_ws_service {
  uint32_t struct_size; /* sizeof(vitals_ws_service_t) as the host knows it */
  uint32_t version;     /* VITALS_SERVICE_WS_VERSION of the host */

  /* v1: completes the WebSocket handshake of a request to one of the
   * instance's vitals.http routes (101 Switching Protocols) and returns the
   * connection in *out; handlers and user are kept for its life. A request
   * that is not a valid handshake is answered by the host (400, or 426 for an
   * unsupported version; 503 when the agent's stream limit, [agent.http]
   * max_streams, is reached) and VITALS_INVALID returned. The response is
   * finished either way. */
  int (*accept)(vitals_http_response_t *response, const vitals_ws_handlers_t *handlers, void *user, vitals_ws_t **out);
  /* v1: encodes one frame (VITALS_WS_*; a ping or pong payload is at most
   * 125 bytes). Returns NULL on a bad opcode or size. Any thread. */
  vitals_ws_frame_t *(*frame)(vitals_host_ctx_t *ctx, int opcode, const char *data, size_t len);
  /* v1: drops the creator's reference. Any thread. */
  void (*frame_release)(vitals_ws_frame_t *frame);
  /* v1: queues the frame's bytes on the connection, without copying them.
   * VITALS_STOPPED once the connection is closing. */
  int (*send)(vitals_ws_t *ws, vitals_ws_frame_t *frame);
  /* v1: bytes queued on the connection and not yet taken by its socket. */
  size_t (*buffered)(vitals_ws_t *ws);
  /* v1: sends a close frame (code 1000-4999, reason at most 123 bytes) and
   * closes the connection; no callback follows and ws is invalid at once. */
  void (*close)(vitals_ws_t *ws, int code, const char *reason);

  void *reserved[8];
} vitals_ws_service_t;

/* ---- vitals.tunables (plugin) and vitals.control (host) --------------------- */

/* One numeric knob an optimizer may turn, within [min, max]. */
typedef struct vitals_tunable {
  const char *name;
  const char *description;
  double min;
  double max;
  double value;
  void *reserved[2];
} vitals_tunable_t;

/* What a plugin with knobs provides. Both run on the loop thread. */
typedef struct vitals_tunables_service {
  uint32_t struct_size; /* sizeof(vitals_tunables_service_t) as the plugin was built */
  uint32_t version;     /* VITALS_SERVICE_TUNABLES_VERSION the plugin implements */
  /* v1: fills up to cap entries and returns how many exist. Strings stay
   * valid until the next call on this instance. */
  uint32_t (*list)(void *instance, vitals_tunable_t *out, uint32_t cap);
  /* v1: sets one knob; the host has checked the name and the range. */
  int (*set)(void *instance, const char *name, double value);
  void *reserved[6];
} vitals_tunables_service_t;

/* A component of the running pipeline, as vitals.control shows it. Borrowed
 * for the visit. */
typedef struct vitals_component_info {
  const char *id; /* as in [storage.<id>] */
  uint32_t kind;  /* vitals_kind_t */
  uint32_t n_tunables;
  const char *plugin;  /* plugin name */
  const char *version; /* plugin version */
  void *reserved[4];
} vitals_component_info_t;

typedef void (*vitals_component_visit_fn)(void *user, const vitals_component_info_t *component);

/* What an optimizer (or the `agent` input) uses to watch and tune the agent.
 * Loop thread only. */
typedef struct vitals_control_service {
  uint32_t struct_size; /* sizeof(vitals_control_service_t) as the host knows it */
  uint32_t version;     /* VITALS_SERVICE_CONTROL_VERSION of the host */

  /* v1: visits every running component. */
  void (*components)(vitals_host_ctx_t *ctx, vitals_component_visit_fn visit, void *user);
  /* v1: visits every self-metric of the agent: the core's per-component
   * counters, the process's, and every plugin's stats() (named
   * vitals_<plugin>_<stat>, labelled with the component). */
  void (*metrics)(vitals_host_ctx_t *ctx, vitals_stat_visit_fn visit, void *user);
  /* v1: fills up to cap tunables of one component; returns how many it has
   * (0 for an unknown id). */
  uint32_t (*tunables)(vitals_host_ctx_t *ctx, const char *component_id, vitals_tunable_t *out, uint32_t cap);
  /* v1: sets a component's tunable. VITALS_INVALID for an unknown component
   * or name or a value outside [min, max] (nothing changes), VITALS_ERROR
   * when the plugin refused it. On success the host logs it and emits an
   * info event from this instance (source: this instance; labels component,
   * tunable, from, to; message: reason), so the change is seen downstream. */
  int (*set_tunable)(vitals_host_ctx_t *ctx, const char *component_id, const char *name, double value,
                     const char *reason);

  void *reserved[8];
} vitals_control_service_t;

/* ---- vitals.storage (both halves) -------------------------------------------- */

typedef struct vitals_reply vitals_reply_t; /* opaque query reply handle */

/* The host's half: how a storage answers. Any thread. */
typedef struct vitals_storage_host_service {
  uint32_t struct_size; /* sizeof(vitals_storage_host_service_t) as the host knows it */
  uint32_t version;     /* VITALS_SERVICE_STORAGE_VERSION of the host */
  /* v1: answers a query, exactly once, from any thread. The host copies the
   * body. status is an HTTP status code. */
  void (*reply)(vitals_reply_t *reply, int status, const char *content_type, const char *body, size_t body_len);
  void *reserved[8];
} vitals_storage_host_service_t;

/* The storage plugin's half: the queries it answers, as JSON in the wire shape
 * of docs/storage-contract.md (C++: vitals::TypedStorage in vitals/storage.hpp
 * reads them). Runs on the thread pool, several at once, concurrently with
 * consume(). */
typedef struct vitals_storage_service {
  uint32_t struct_size; /* sizeof(vitals_storage_service_t) as the plugin was built */
  uint32_t version;     /* VITALS_SERVICE_STORAGE_VERSION the plugin implements */
  /* v1: answers one JSON request through the host half's reply() before
   * returning. */
  int (*query)(void *instance, const char *request_json, vitals_reply_t *reply);
  void *reserved[8];
} vitals_storage_service_t;

/* ---- the plugin descriptor --------------------------------------------------- */

/* A service a plugin requires (table NULL, version the minimum) or provides
 * (table: the plugin's, version: what it implements). */
typedef struct vitals_service_ref {
  const char *name;
  uint32_t version;
  uint32_t reserved0;
  const void *table;
  void *reserved[2];
} vitals_service_ref_t;

typedef struct vitals_plugin_descriptor {
  /* These five fields keep their place in every major version, so that a
   * host can name a plugin built for another one. */
  uint32_t abi_major;
  uint32_t abi_minor;
  uint32_t struct_size; /* sizeof(vitals_plugin_t) as the plugin was built */
  uint32_t kind;        /* vitals_kind_t */
  const char *name;     /* == folder, plugin = "...", vitals-<name>.so */

  const char *version;
  const char *description; /* one line */
  uint64_t flags;          /* VITALS_FLAG_* */
  const vitals_config_field_t *config_fields;
  uint32_t n_config_fields;
  uint32_t n_required_services;
  const char *sample_config; /* the plugin's sample.toml; may be NULL */
  /* Host services the plugin cannot work without: the loader refuses it when
   * the host lacks one at the version given. (get_service() also finds
   * services not listed here: those the plugin can do without.) */
  const vitals_service_ref_t *required_services; /* n_required_services entries */
  /* Services the plugin implements: vitals.storage (every storage),
   * vitals.tunables. */
  const vitals_service_ref_t *provided_services; /* n_provided_services entries */
  uint32_t n_provided_services;
  uint32_t reserved0;

  /* Required by every kind. create() returns NULL and fills err on failure;
   * config_json is the schema-checked config object. */
  void *(*create)(const vitals_host_t *host, const char *config_json, char *err, size_t err_size);
  void (*destroy)(void *instance);

  /* Optional. Called on the loop thread. */
  int (*start)(void *instance);
  int (*stop)(void *instance);

  /* Inputs and optimizers: one collection at now_ns (the scheduled tick, on
   * the wall clock). Samples go out through host->emit(). */
  int (*collect)(void *instance, int64_t now_ns);

  /* Processors, storage, outputs: the batch is borrowed for this call. Return
   * VITALS_OK when done with it (committed), VITALS_ERROR if it failed, or
   * VITALS_PENDING and later call host->complete(ack, ...). */
  int (*consume)(void *instance, const vitals_batch_t *batch, vitals_ack_t *ack);

  /* Optional: make everything consumed so far durable. Called before stop.
   * With VITALS_FLAG_CONSUME_ON_THREAD it is also called on the instance's
   * thread each time its queue runs empty, which allows group commit:
   * consume() adds to an open transaction and returns VITALS_PENDING, flush()
   * commits and completes every pending ack in one go. */
  int (*flush)(void *instance);

  /* Optional: report the plugin's own counters. */
  int (*stats)(void *instance, vitals_stat_visit_fn visit, void *user);

  /* Optional: text of the last VITALS_ERROR returned by this instance. */
  const char *(*last_error)(void *instance);

  void *reserved[16];
} vitals_plugin_t;

/* The smallest descriptor a 2.x host accepts: everything before the tail. */
#define VITALS_PLUGIN_MIN_SIZE offsetof(vitals_plugin_t, reserved)

typedef const vitals_plugin_t *(*vitals_plugin_entry_fn)(void);

/* Every plugin defines this (VITALS_PLUGIN does it for C++ plugins). */
VITALS_EXPORT const vitals_plugin_t *vitals_plugin(void);

#ifdef __cplusplus
}
#endif

#endif /* VITALS_PLUGIN_H */
