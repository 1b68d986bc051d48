// The rows one connection of bench/ingest sends, shared by loadgen and
// bare_sqlite so both write the same rows in the same order.
//
// In order (the default): bench::Stream (bench/common/ingest_rows.hpp), where
// a connection owns the series N with N % conns == c, so each series only
// ever receives increasing timestamps.
//
// Interleaved: every connection writes every series, and the timestamps of
// a series are dealt out across the connections like cards: connection c's
// k-th sample of a series has index k * conns + c. Connections run at their
// own pace, so each series receives timestamps from all of them, out of order
// relative to each other (the storage-engine issue's "interleaved writers");
// still every (series, timestamp) is sent once. A connection's stream is
// round-robin over all series.
#pragma once

#include <cstdint>

#include "ingest_rows.hpp"

namespace bench {

class ConnectionRows {
 public:
  ConnectionRows(int conn, int conns, int series, int64_t start_ns, int64_t step_ns, bool interleave)
      : in_order_(conn, conns, series, start_ns, step_ns),
        interleave_(interleave),
        conn_(conn),
        conns_(conns),
        series_(series),
        start_(start_ns),
        step_(step_ns) {}

  // How many samples this connection sends so that every series holds
  // exactly `per_series` samples once all connections are done.
  int64_t total(int64_t per_series) const {
    if (!interleave_) return per_series * static_cast<int64_t>(in_order_.series_count());
    // Indexes conn, conn + conns, ... below per_series.
    const int64_t mine = per_series > conn_ ? (per_series - conn_ + conns_ - 1) / conns_ : 0;
    return mine * series_;
  }

  // The k-th sample of this connection's stream.
  Row row(int64_t k) const {
    if (!interleave_) return in_order_.row(k);
    const int s = static_cast<int>(k % series_);
    const int64_t index = (k / series_) * conns_ + conn_;
    return {s, start_ + index * step_, sample_value(s, index)};
  }

 private:
  Stream in_order_;
  bool interleave_;
  int conn_, conns_, series_;
  int64_t start_, step_;
};

}  // namespace bench
