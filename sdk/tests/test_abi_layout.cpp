// Pins the size and every field offset of every public struct and service
// table in plugin.h (ABI 2.0), as compiled for LP64 Linux (x86_64, aarch64).
//
// A failing check here means an ABI break: plugins built against the released
// header would read the wrong fields. Do not update the numbers. Instead add
// new fields by taking slots from the struct's reserved tail (keeping sizeof
// and every existing offset), and bump VITALS_ABI_MINOR (or, in a service
// table, that service's version) so the other side can tell the field is
// there. Changing an existing field, its type or its
// position requires a new VITALS_ABI_MAJOR.
#include <doctest/doctest.h>

#include <cstddef>
#include <string>

#include "vitals/plugin.h"

#if defined(__LP64__) && (defined(__x86_64__) || defined(__aarch64__))
#define VITALS_PIN_LAYOUT 1
#endif

#define PIN_SIZE(type, size) CHECK_MESSAGE(sizeof(type) == (size), "ABI break: sizeof(" #type ")")
#define PIN(type, field, offset) \
  CHECK_MESSAGE(offsetof(type, field) == (offset), "ABI break: offsetof(" #type ", " #field ")")

#ifdef VITALS_PIN_LAYOUT

TEST_CASE("vitals_label_t layout is pinned") {
  PIN_SIZE(vitals_label_t, 16);
  PIN(vitals_label_t, key, 0);
  PIN(vitals_label_t, value, 8);
}

TEST_CASE("vitals_series_t layout is pinned") {
  PIN_SIZE(vitals_series_t, 72);
  PIN(vitals_series_t, id, 0);
  PIN(vitals_series_t, name, 8);
  PIN(vitals_series_t, labels, 16);
  PIN(vitals_series_t, n_labels, 24);
  PIN(vitals_series_t, reserved0, 28);
  PIN(vitals_series_t, text, 32);
  PIN(vitals_series_t, reserved, 40);
}

TEST_CASE("vitals_event_t layout is pinned") {
  PIN_SIZE(vitals_event_t, 72);
  PIN(vitals_event_t, ts_ns, 0);
  PIN(vitals_event_t, severity, 8);
  PIN(vitals_event_t, n_labels, 12);
  PIN(vitals_event_t, source, 16);
  PIN(vitals_event_t, message, 24);
  PIN(vitals_event_t, labels, 32);
  PIN(vitals_event_t, reserved, 40);
}

TEST_CASE("vitals_batch_t layout is pinned") {
  PIN_SIZE(vitals_batch_t, 72);
  PIN(vitals_batch_t, n_samples, 0);
  PIN(vitals_batch_t, n_events, 4);
  PIN(vitals_batch_t, series, 8);
  PIN(vitals_batch_t, ts_ns, 16);
  PIN(vitals_batch_t, values, 24);
  PIN(vitals_batch_t, events, 32);
  PIN(vitals_batch_t, reserved, 40);
}

TEST_CASE("vitals_config_field_t layout is pinned") {
  PIN_SIZE(vitals_config_field_t, 88);
  PIN(vitals_config_field_t, key, 0);
  PIN(vitals_config_field_t, type, 8);
  PIN(vitals_config_field_t, required, 12);
  PIN(vitals_config_field_t, default_value, 16);
  PIN(vitals_config_field_t, description, 24);
  PIN(vitals_config_field_t, min, 32);
  PIN(vitals_config_field_t, max, 40);
  PIN(vitals_config_field_t, choices, 48);
  PIN(vitals_config_field_t, reserved, 56);
}

TEST_CASE("vitals_host_t layout is pinned") {
  PIN_SIZE(vitals_host_t, 248);
  PIN(vitals_host_t, struct_size, 0);
  PIN(vitals_host_t, abi_minor, 4);
  PIN(vitals_host_t, ctx, 8);
  PIN(vitals_host_t, get_service, 16);
  PIN(vitals_host_t, log, 24);
  PIN(vitals_host_t, intern, 32);
  PIN(vitals_host_t, series, 40);
  PIN(vitals_host_t, emit, 48);
  PIN(vitals_host_t, complete, 56);
  PIN(vitals_host_t, loop, 64);
  PIN(vitals_host_t, timer_start, 72);
  PIN(vitals_host_t, timer_stop, 80);
  PIN(vitals_host_t, metric, 88);
  PIN(vitals_host_t, metric_update, 96);
  PIN(vitals_host_t, data_dir, 104);
  PIN(vitals_host_t, instance_id, 112);
  PIN(vitals_host_t, reserved, 120);
}

TEST_CASE("vitals_http_request_t layout is pinned") {
  PIN_SIZE(vitals_http_request_t, 96);
  PIN(vitals_http_request_t, method, 0);
  PIN(vitals_http_request_t, path, 8);
  PIN(vitals_http_request_t, query, 16);
  PIN(vitals_http_request_t, body, 24);
  PIN(vitals_http_request_t, body_len, 32);
  PIN(vitals_http_request_t, headers, 40);
  PIN(vitals_http_request_t, n_headers, 48);
  PIN(vitals_http_request_t, reserved0, 52);
  PIN(vitals_http_request_t, remote, 56);
  PIN(vitals_http_request_t, reserved, 64);
}

TEST_CASE("vitals_http_service_t layout is pinned") {
  PIN_SIZE(vitals_http_service_t, 136);
  PIN(vitals_http_service_t, struct_size, 0);
  PIN(vitals_http_service_t, version, 4);
  PIN(vitals_http_service_t, route, 8);
  PIN(vitals_http_service_t, header, 16);
  PIN(vitals_http_service_t, respond, 24);
  PIN(vitals_http_service_t, stream_start, 32);
  PIN(vitals_http_service_t, stream_write, 40);
  PIN(vitals_http_service_t, stream_end, 48);
  PIN(vitals_http_service_t, on_close, 56);
  PIN(vitals_http_service_t, stream_buffered, 64);
  PIN(vitals_http_service_t, reserved, 72);
}

TEST_CASE("vitals_ws_handlers_t layout is pinned") {
  PIN_SIZE(vitals_ws_handlers_t, 56);
  PIN(vitals_ws_handlers_t, struct_size, 0);
  PIN(vitals_ws_handlers_t, max_message, 4);
  PIN(vitals_ws_handlers_t, on_message, 8);
  PIN(vitals_ws_handlers_t, on_close, 16);
  PIN(vitals_ws_handlers_t, reserved, 24);
}

TEST_CASE("vitals_ws_service_t layout is pinned") {
  PIN_SIZE(vitals_ws_service_t, 120);
  PIN(vitals_ws_service_t, struct_size, 0);
  PIN(vitals_ws_service_t, version, 4);
  PIN(vitals_ws_service_t, accept, 8);
  PIN(vitals_ws_service_t, frame, 16);
  PIN(vitals_ws_service_t, frame_release, 24);
  PIN(vitals_ws_service_t, send, 32);
  PIN(vitals_ws_service_t, buffered, 40);
  PIN(vitals_ws_service_t, close, 48);
  PIN(vitals_ws_service_t, reserved, 56);
}

TEST_CASE("vitals_tunable_t layout is pinned") {
  PIN_SIZE(vitals_tunable_t, 56);
  PIN(vitals_tunable_t, name, 0);
  PIN(vitals_tunable_t, description, 8);
  PIN(vitals_tunable_t, min, 16);
  PIN(vitals_tunable_t, max, 24);
  PIN(vitals_tunable_t, value, 32);
  PIN(vitals_tunable_t, reserved, 40);
}

TEST_CASE("vitals_tunables_service_t layout is pinned") {
  PIN_SIZE(vitals_tunables_service_t, 72);
  PIN(vitals_tunables_service_t, struct_size, 0);
  PIN(vitals_tunables_service_t, version, 4);
  PIN(vitals_tunables_service_t, list, 8);
  PIN(vitals_tunables_service_t, set, 16);
  PIN(vitals_tunables_service_t, reserved, 24);
}

TEST_CASE("vitals_component_info_t layout is pinned") {
  PIN_SIZE(vitals_component_info_t, 64);
  PIN(vitals_component_info_t, id, 0);
  PIN(vitals_component_info_t, kind, 8);
  PIN(vitals_component_info_t, n_tunables, 12);
  PIN(vitals_component_info_t, plugin, 16);
  PIN(vitals_component_info_t, version, 24);
  PIN(vitals_component_info_t, reserved, 32);
}

TEST_CASE("vitals_control_service_t layout is pinned") {
  PIN_SIZE(vitals_control_service_t, 104);
  PIN(vitals_control_service_t, struct_size, 0);
  PIN(vitals_control_service_t, version, 4);
  PIN(vitals_control_service_t, components, 8);
  PIN(vitals_control_service_t, metrics, 16);
  PIN(vitals_control_service_t, tunables, 24);
  PIN(vitals_control_service_t, set_tunable, 32);
  PIN(vitals_control_service_t, reserved, 40);
}

TEST_CASE("vitals_storage_host_service_t layout is pinned") {
  PIN_SIZE(vitals_storage_host_service_t, 80);
  PIN(vitals_storage_host_service_t, struct_size, 0);
  PIN(vitals_storage_host_service_t, version, 4);
  PIN(vitals_storage_host_service_t, reply, 8);
  PIN(vitals_storage_host_service_t, reserved, 16);
}

TEST_CASE("vitals_storage_service_t layout is pinned") {
  PIN_SIZE(vitals_storage_service_t, 80);
  PIN(vitals_storage_service_t, struct_size, 0);
  PIN(vitals_storage_service_t, version, 4);
  PIN(vitals_storage_service_t, query, 8);
  PIN(vitals_storage_service_t, reserved, 16);
}

TEST_CASE("vitals_service_ref_t layout is pinned") {
  PIN_SIZE(vitals_service_ref_t, 40);
  PIN(vitals_service_ref_t, name, 0);
  PIN(vitals_service_ref_t, version, 8);
  PIN(vitals_service_ref_t, reserved0, 12);
  PIN(vitals_service_ref_t, table, 16);
  PIN(vitals_service_ref_t, reserved, 24);
}

TEST_CASE("vitals_plugin_t layout is pinned") {
  PIN_SIZE(vitals_plugin_t, 296);
  PIN(vitals_plugin_t, abi_major, 0);
  PIN(vitals_plugin_t, abi_minor, 4);
  PIN(vitals_plugin_t, struct_size, 8);
  PIN(vitals_plugin_t, kind, 12);
  PIN(vitals_plugin_t, name, 16);
  PIN(vitals_plugin_t, version, 24);
  PIN(vitals_plugin_t, description, 32);
  PIN(vitals_plugin_t, flags, 40);
  PIN(vitals_plugin_t, config_fields, 48);
  PIN(vitals_plugin_t, n_config_fields, 56);
  PIN(vitals_plugin_t, n_required_services, 60);
  PIN(vitals_plugin_t, sample_config, 64);
  PIN(vitals_plugin_t, required_services, 72);
  PIN(vitals_plugin_t, provided_services, 80);
  PIN(vitals_plugin_t, n_provided_services, 88);
  PIN(vitals_plugin_t, reserved0, 92);
  PIN(vitals_plugin_t, create, 96);
  PIN(vitals_plugin_t, destroy, 104);
  PIN(vitals_plugin_t, start, 112);
  PIN(vitals_plugin_t, stop, 120);
  PIN(vitals_plugin_t, collect, 128);
  PIN(vitals_plugin_t, consume, 136);
  PIN(vitals_plugin_t, flush, 144);
  PIN(vitals_plugin_t, stats, 152);
  PIN(vitals_plugin_t, last_error, 160);
  PIN(vitals_plugin_t, reserved, 168);
}

TEST_CASE("VITALS_PLUGIN_MIN_SIZE is everything before the reserved tail of the descriptor") {
  CHECK(VITALS_PLUGIN_MIN_SIZE == 168);
  CHECK(VITALS_PLUGIN_MIN_SIZE == offsetof(vitals_plugin_t, reserved));
}

#else

TEST_CASE("struct layout pins cover LP64 Linux only") {
  MESSAGE("not an LP64 x86_64/aarch64 target: struct layout pins skipped");
}

#endif

// Enum values travel through the ABI as plain integers, so they are pinned too.
TEST_CASE("ABI constants keep their values") {
  CHECK(VITALS_ABI_MAJOR == 2);
  CHECK(std::string(VITALS_SERVICE_HTTP) == "vitals.http");
  CHECK(std::string(VITALS_SERVICE_WS) == "vitals.ws");
  CHECK(std::string(VITALS_SERVICE_CONTROL) == "vitals.control");
  CHECK(std::string(VITALS_SERVICE_STORAGE) == "vitals.storage");
  CHECK(std::string(VITALS_SERVICE_TUNABLES) == "vitals.tunables");
  CHECK(VITALS_OK == 0);
  CHECK(VITALS_ERROR == -1);
  CHECK(VITALS_PENDING == 1);
  CHECK(VITALS_AGAIN == -2);
  CHECK(VITALS_INVALID == -3);
  CHECK(VITALS_STOPPED == -4);
  CHECK(VITALS_KIND_INPUT == 1);
  CHECK(VITALS_KIND_PROCESSOR == 2);
  CHECK(VITALS_KIND_STORAGE == 3);
  CHECK(VITALS_KIND_OUTPUT == 4);
  CHECK(VITALS_KIND_OPTIMIZER == 5);
  CHECK(VITALS_FLAG_COLLECT_ON_LOOP == 1);
  CHECK(VITALS_FLAG_CONSUME_ON_THREAD == 2);
  CHECK(VITALS_FLAG_PROCESSOR_EVENTS == 4);
  CHECK(VITALS_LOG_ERROR == 0);
  CHECK(VITALS_LOG_WARN == 1);
  CHECK(VITALS_LOG_INFO == 2);
  CHECK(VITALS_LOG_DEBUG == 3);
  CHECK(VITALS_SEVERITY_INFO == 0);
  CHECK(VITALS_SEVERITY_WARNING == 1);
  CHECK(VITALS_SEVERITY_CRITICAL == 2);
  CHECK(VITALS_SEVERITY_EMERGENCY == 3);
  CHECK(VITALS_CONFIG_STRING == 1);
  CHECK(VITALS_CONFIG_INT == 2);
  CHECK(VITALS_CONFIG_FLOAT == 3);
  CHECK(VITALS_CONFIG_BOOL == 4);
  CHECK(VITALS_CONFIG_DURATION == 5);
  CHECK(VITALS_CONFIG_SIZE == 6);
  CHECK(VITALS_CONFIG_STRING_ARRAY == 7);
  CHECK(VITALS_CONFIG_ANY == 8);
  CHECK(VITALS_METRIC_COUNTER == 1);
  CHECK(VITALS_METRIC_GAUGE == 2);
  CHECK(VITALS_METRIC_HISTOGRAM == 3);
}
