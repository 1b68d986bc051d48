// The rows bench/ingest writes, shared by the load generator (which sends
// them over HTTP) and the bare SQLite loop (which inserts them directly), so
// both write exactly the same series, timestamps and values in the same order.
//
// Series are `bench{id="N"}`, N = 0 .. series-1. Connection c of `conns`
// owns the series N with N % conns == c, so every series is written by one
// connection only and its timestamps only ever increase (no late writes).
// A connection's stream is round-robin over its series: its k-th sample is
// series owned[k % n] at index k / n, timestamp start + index * step.
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <vector>

namespace bench {

struct Row {
  int series;
  int64_t ts_ns;
  double value;
};

inline double sample_value(int series, int64_t index) {
  // Short decimal strings, exact in binary, varying within a minute.
  return static_cast<double>((index * 7 + series) % 997) / 8.0;
}

class Stream {
 public:
  Stream(int conn, int conns, int series, int64_t start_ns, int64_t step_ns)
      : start_(start_ns), step_(step_ns) {
    for (int s = conn; s < series; s += conns) owned_.push_back(s);
  }
  size_t series_count() const { return owned_.size(); }
  // The k-th sample of this connection's stream.
  Row row(int64_t k) const {
    int64_t n = static_cast<int64_t>(owned_.size());
    int s = owned_[static_cast<size_t>(k % n)];
    int64_t index = k / n;
    return {s, start_ + index * step_, sample_value(s, index)};
  }

 private:
  std::vector<int> owned_;
  int64_t start_, step_;
};

inline void append_int(std::string &out, int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

inline void append_double(std::string &out, double v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// InfluxDB line protocol, ns precision: `bench,id=17 value=21.375 1714564800000000000`
// (a field named `value` makes the series just `bench`).
inline void append_line_protocol(std::string &out, const Row &r) {
  out += "bench,id=";
  append_int(out, r.series);
  out += " value=";
  append_double(out, r.value);
  out += ' ';
  append_int(out, r.ts_ns);
  out += '\n';
}

// One sample of the explicit JSON form; timestamps are whole seconds (epoch
// numbers below 1e11 are read as seconds, and whole seconds are exact).
inline void append_json(std::string &out, const Row &r, bool first) {
  out += first ? "{\"name\":\"bench\",\"labels\":{\"id\":\"" : ",{\"name\":\"bench\",\"labels\":{\"id\":\"";
  append_int(out, r.series);
  out += "\"},\"ts\":";
  append_int(out, r.ts_ns / 1'000'000'000);
  out += ",\"value\":";
  append_double(out, r.value);
  out += '}';
}

}  // namespace bench
