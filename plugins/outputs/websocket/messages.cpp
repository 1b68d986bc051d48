#include "messages.hpp"

namespace vitals::websocket {

void hello_message(std::string &out, uint64_t frame_interval_ms) {
  out += "{\"type\":\"hello\",\"protocol\":1,\"frame_interval_ms\":";
  out += std::to_string(frame_interval_ms);
  out += '}';
}

void subscribed_message(std::string &out, const std::vector<std::string> &subscriptions) {
  out += "{\"type\":\"subscribed\",\"subscriptions\":[";
  for (size_t i = 0; i < subscriptions.size(); ++i) {
    if (i) out += ',';
    json::append_string(out, subscriptions[i]);
  }
  out += "]}";
}

void error_message(std::string &out, std::string_view error) {
  out += "{\"type\":\"error\",\"error\":";
  json::append_string(out, error);
  out += '}';
}

void event_message(std::string &out, const vitals_event_t &ev) {
  out += "{\"type\":\"event\",\"ts\":";
  json::append_int(out, ev.ts_ns);
  out += ",\"severity\":\"";
  out += vitals::severity_name(ev.severity);
  out += "\",\"source\":";
  json::append_string(out, ev.source ? ev.source : "");
  out += ",\"message\":";
  json::append_string(out, ev.message ? ev.message : "");
  out += ",\"labels\":{";
  for (uint32_t i = 0; i < ev.n_labels; ++i) {
    if (i) out += ',';
    json::append_string(out, ev.labels[i].key ? ev.labels[i].key : "");
    out += ':';
    json::append_string(out, ev.labels[i].value ? ev.labels[i].value : "");
  }
  out += "}}";
}

}  // namespace vitals::websocket
