// The JSON messages of the /api/stream protocol (see README.md). Every
// function appends to `out`, so a caller can reuse one buffer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "vitals/json_writer.hpp"
#include "vitals/plugin.hpp"

namespace vitals::websocket {

struct Sample {
  SeriesId series;
  int64_t ts_ns;
  double value;
};

void hello_message(std::string &out, uint64_t frame_interval_ms);
void subscribed_message(std::string &out, const std::vector<std::string> &subscriptions);
void error_message(std::string &out, std::string_view error);
void event_message(std::string &out, const vitals_event_t &event);

// A "samples" or "snapshot" message; `series_text` looks up each sample's
// canonical series text. Nothing is appended when `samples` is empty.
template <typename TextOf>
void samples_message(std::string &out, std::string_view type, const std::vector<Sample> &samples, bool coalesced,
                     TextOf &&series_text) {
  if (samples.empty()) return;
  out += "{\"type\":\"";
  out += type;
  out += "\",\"samples\":[";
  bool first = true;
  for (const Sample &s : samples) {
    if (!first) out += ',';
    first = false;
    out += "{\"series\":";
    json::append_string(out, series_text(s.series));
    out += ",\"ts\":";
    json::append_int(out, s.ts_ns);
    out += ",\"value\":";
    json::append_double(out, s.value);
    out += '}';
  }
  out += ']';
  if (type == "samples") out += coalesced ? ",\"coalesced\":true" : ",\"coalesced\":false";
  out += '}';
}

}  // namespace vitals::websocket
