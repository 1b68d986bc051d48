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
  out += ',';
  json::append_event_fields(out, vitals::severity_name(ev.severity), ev);
  out += '}';
}

}  // namespace vitals::websocket
