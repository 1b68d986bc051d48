// The storage contract: the queries every storage answers (series listing,
// range queries, latest values, stats, backup), typed, with the one JSON wire
// shape the agent's HTTP API and CLI speak (docs/storage-contract.md).
//
// A storage plugin derives from vitals::TypedStorage and implements five
// typed calls; the SDK reads and checks the request (the same code for every
// storage, so a bad request gets the same 400 from each) and the reply
// writers below produce the wire shape. The agent builds requests with
// to_json(), so both sides of the wire are written here once.
//
// vitals/testing/storage_conformance.hpp checks a storage against this
// contract; every storage runs it in its own tests.
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "vitals/downsample.hpp"
#include "vitals/json_reader.hpp"
#include "vitals/json_writer.hpp"
#include "vitals/plugin.hpp"
#include "vitals/selector.hpp"
#include "vitals/time_parse.hpp"

namespace vitals::storage {

// ---- names ----------------------------------------------------------------------

enum class Method { lttb, minmax, avg, raw };
// What a range query reads: raw samples, or 1-minute / 1-hour rollups
// (min/max/sum/count per bucket). A storage may keep only some of them.
enum class Tier { raw, minute, hour };

inline const char *method_name(Method m) {
  switch (m) {
    case Method::lttb:
      return "lttb";
    case Method::minmax:
      return "minmax";
    case Method::avg:
      return "avg";
    case Method::raw:
      return "raw";
  }
  return "";
}
inline std::optional<Method> method_from_name(std::string_view s) {
  if (s == "lttb") return Method::lttb;
  if (s == "minmax") return Method::minmax;
  if (s == "avg") return Method::avg;
  if (s == "raw") return Method::raw;
  return std::nullopt;
}
inline const char *tier_name(Tier t) { return t == Tier::raw ? "raw" : t == Tier::minute ? "1m" : "1h"; }
inline std::optional<Tier> tier_from_name(std::string_view s) {
  if (s == "raw") return Tier::raw;
  if (s == "1m") return Tier::minute;
  if (s == "1h") return Tier::hour;
  return std::nullopt;
}

inline constexpr int64_t default_points = 1000;
inline constexpr int64_t max_points = 1'000'000;
// A raw reply holding more samples than this (all series together) is
// refused with 400; downsampling methods read what they need.
inline constexpr int64_t max_raw_samples = 1'000'000;
inline constexpr int64_t default_range_ns = 3'600'000'000'000;  // from = to - 1h

// Output buckets per series: minmax spends two points on each.
inline int64_t bucket_count(Method m, int64_t points) { return m == Method::minmax ? points / 2 : points; }

// ---- requests -------------------------------------------------------------------

// {"op":"series","match":"..."}: the series the selector matches, in text order.
struct SeriesQuery {
  std::string match;
  Selector selector;
};

// {"op":"query",...}: points of each matching series in [from, to] (both
// inclusive), downsampled by `method` to at most `points` per series (raw:
// every sample), read from `tier` (unset: the storage chooses, and says which
// in the reply).
//
// In every query, `selector` is `match` compiled: parse_request fills both
// (to_json writes `match`, storages read `selector`); code that builds a
// query by hand sets both, or goes through parse_request.
struct RangeQuery {
  std::string match;
  Selector selector;
  int64_t from = 0, to = 0;
  int64_t points = default_points;
  Method method = Method::lttb;
  std::optional<Tier> tier;
};

// q's method applied to one series' raw samples in [q.from, q.to] (any
// method but raw, which returns every sample): what every storage draws
// from raw data, so a method means the same everywhere.
inline std::vector<Point> downsample(const RangeQuery &q, std::span<const Point> points) {
  Buckets buckets(q.from, q.to, static_cast<size_t>(bucket_count(q.method, q.points)));
  switch (q.method) {
    case Method::lttb:
      return lttb(points, static_cast<size_t>(q.points));
    case Method::minmax:
      return minmax(points, buckets);
    case Method::avg:
    case Method::raw:
      break;
  }
  return average(points, buckets);
}

// {"op":"latest","match":"..."}: the newest sample of each matching series.
struct LatestQuery {
  std::string match;
  Selector selector;
};

// {"op":"stats"}: what the storage holds and has done.
struct StatsQuery {};

// {"op":"backup","to":"/abs/path"}: a consistent copy, taken while it runs.
struct BackupQuery {
  std::string to;
};

using Request = std::variant<SeriesQuery, RangeQuery, LatestQuery, StatsQuery, BackupQuery>;

// A request the contract refuses: answered 400 with {"error": what()}.
class BadRequest : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

namespace detail {

inline const json::Value *field(const json::Value &request, std::string_view key) {
  const json::Value *v = request.find(key);
  return v && !v->is_null() ? v : nullptr;
}

inline std::string string_field(const json::Value &request, std::string_view key, std::string fallback = {}) {
  const json::Value *v = field(request, key);
  if (!v) return fallback;
  if (!v->is_string()) throw BadRequest("\"" + std::string(key) + "\" must be a string");
  return v->text();
}

inline Selector selector(const std::string &match) {
  Selector sel;
  std::string error;
  if (!Selector::parse(match, sel, error)) throw BadRequest("\"match\": " + error);
  return sel;
}

// A JSON integer is nanoseconds since the epoch; a string is any form
// vitals::parse_time reads (RFC 3339, a date, "now", "-1h", epoch digits
// with the unit by magnitude).
inline int64_t time_field(const json::Value &v, int64_t now_ns, std::string_view key) {
  auto bad = [&](const std::string &why) { return BadRequest("\"" + std::string(key) + "\": " + why); };
  std::string error;
  std::optional<int64_t> ns;
  if (v.is_number()) {
    if (!v.is_integer()) throw bad("a number must be integer nanoseconds since the epoch (got " + v.text() + ")");
    ns = parse_epoch(v.text(), TimePrecision::ns, error);
  } else if (v.is_string()) {
    ns = parse_time(v.text(), now_ns, error);
  } else {
    throw bad("must be integer nanoseconds or a string (RFC 3339, \"now\", \"-1h\", epoch digits)");
  }
  if (!ns) throw bad(error);
  return *ns;
}

inline RangeQuery range_query(const json::Value &request, int64_t now_ns) {
  RangeQuery q;
  q.match = string_field(request, "match");
  q.selector = selector(q.match);
  const json::Value *to = field(request, "to");
  q.to = to ? time_field(*to, now_ns, "to") : now_ns;
  const json::Value *from = field(request, "from");
  // Default: an hour before `to`, or the earliest time for a `to` within an hour of it.
  constexpr int64_t earliest = std::numeric_limits<int64_t>::min();
  q.from = from                                 ? time_field(*from, now_ns, "from")
           : q.to < earliest + default_range_ns ? earliest
                                                : q.to - default_range_ns;
  if (q.from > q.to) throw BadRequest("\"from\" is after \"to\"");
  std::string method = string_field(request, "method", "lttb");
  auto m = method_from_name(method);
  if (!m) throw BadRequest("unknown method \"" + method + "\" (use lttb, minmax, avg or raw)");
  q.method = *m;
  if (const json::Value *points = field(request, "points")) {
    try {
      q.points = points->integer();
    } catch (const std::invalid_argument &) {
      throw BadRequest("\"points\" must be an integer");
    }
  }
  if (q.points < 1) throw BadRequest("\"points\" must be at least 1");
  if (q.points > max_points) throw BadRequest("\"points\" must be at most " + std::to_string(max_points));
  if (q.method == Method::minmax && q.points < 2)
    throw BadRequest("\"points\" must be at least 2 for minmax (a min and a max per bucket)");
  std::string tier = string_field(request, "tier", "auto");
  if (tier != "auto") {
    q.tier = tier_from_name(tier);
    if (!q.tier) throw BadRequest("unknown tier \"" + tier + "\" (use auto, raw, 1m or 1h)");
    if (q.method == Method::raw && *q.tier != Tier::raw)
      throw BadRequest("method raw reads the raw tier; ask for tier raw or auto");
  }
  return q;
}

}  // namespace detail

// Reads a request; throws BadRequest naming the field and what it accepts.
// Relative times ("-1h", "now") are read against now_ns. Fields the request
// does not define are ignored, so that a newer agent can ask an older storage.
inline Request parse_request(const json::Value &request, int64_t now_ns) {
  if (!request.is_object()) throw BadRequest("a request is a JSON object");
  std::string op = detail::string_field(request, "op");
  if (op == "series") {
    SeriesQuery q;
    q.match = detail::string_field(request, "match");
    q.selector = detail::selector(q.match);
    return q;
  }
  if (op == "latest") {
    LatestQuery q;
    q.match = detail::string_field(request, "match");
    q.selector = detail::selector(q.match);
    return q;
  }
  if (op == "query") return detail::range_query(request, now_ns);
  if (op == "stats") return StatsQuery{};
  if (op == "backup") {
    BackupQuery q{detail::string_field(request, "to")};
    if (q.to.empty() || q.to.front() != '/') throw BadRequest("\"to\" must be an absolute path");
    return q;
  }
  if (op.empty()) throw BadRequest("\"op\" is required: series, query, latest, stats or backup");
  throw BadRequest("unknown op \"" + op + "\" (use series, query, latest, stats or backup)");
}

inline Request parse_request(std::string_view text, int64_t now_ns) {
  json::Value request;
  try {
    request = json::Value::parse(text);
  } catch (const std::invalid_argument &e) {
    throw BadRequest(e.what());
  }
  return parse_request(request, now_ns);
}

// The wire form of a request: times as integer nanoseconds, so that the
// storage reads exactly what the agent resolved ("-1h" against its clock).
inline std::string to_json(const Request &request) {
  std::string out = "{\"op\":";
  auto match = [&](const std::string &m) {
    out += ",\"match\":";
    json::append_string(out, m);
  };
  std::visit(
      [&](const auto &q) {
        using Q = std::decay_t<decltype(q)>;
        if constexpr (std::is_same_v<Q, SeriesQuery>) {
          out += "\"series\"";
          match(q.match);
        } else if constexpr (std::is_same_v<Q, LatestQuery>) {
          out += "\"latest\"";
          match(q.match);
        } else if constexpr (std::is_same_v<Q, RangeQuery>) {
          out += "\"query\"";
          match(q.match);
          out += ",\"from\":";
          json::append_int(out, q.from);
          out += ",\"to\":";
          json::append_int(out, q.to);
          out += ",\"points\":";
          json::append_int(out, q.points);
          out += ",\"method\":\"";
          out += method_name(q.method);
          out += '"';
          if (q.tier) {
            out += ",\"tier\":\"";
            out += tier_name(*q.tier);
            out += '"';
          }
        } else if constexpr (std::is_same_v<Q, StatsQuery>) {
          out += "\"stats\"";
        } else {
          out += "\"backup\",\"to\":";
          json::append_string(out, q.to);
        }
      },
      request);
  out += '}';
  return out;
}

// ---- replies --------------------------------------------------------------------

// A reply: an HTTP status and an application/json body. A storage that
// caches whole replies hands a shared body instead of copying it.
struct Answer {
  Answer() = default;
  Answer(int status, std::string body) : status(status), body(std::move(body)) {}
  Answer(int status, std::shared_ptr<const std::string> shared) : status(status), shared(std::move(shared)) {}

  int status = 200;
  std::string body;
  std::shared_ptr<const std::string> shared;

  std::string_view text() const { return shared ? std::string_view(*shared) : std::string_view(body); }

  // {"error":"..."} with status (400 bad request, 409 busy, 501 not offered, 503 not ready, 500 failed).
  static Answer error(int status, std::string_view message) {
    std::string body = "{\"error\":";
    json::append_string(body, message);
    body += '}';
    return {status, std::move(body)};
  }
};

// {"key":"value",...}, keys in the order given.
inline void append_labels(std::string &out, std::span<const Label> labels) {
  out += '{';
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i) out += ',';
    json::append_string(out, labels[i].key);
    out += ':';
    json::append_string(out, labels[i].value);
  }
  out += '}';
}

// The identity of a series in every reply: "series" (its canonical text),
// "name", "labels" (an object, keys in the order given: the series' order).
inline void append_series_fields(std::string &out, std::string_view text, std::string_view name,
                                 std::span<const Label> labels) {
  out += "\"series\":";
  json::append_string(out, text);
  out += ",\"name\":";
  json::append_string(out, name);
  out += ",\"labels\":";
  append_labels(out, labels);
}

// One point, "[ts,value]": exact int64 nanoseconds, the shortest text that
// reads back as the same double, NaN and infinities as null.
inline void append_point(std::string &out, int64_t ts, double value) {
  out += '[';
  json::append_int(out, ts);
  out += ',';
  json::append_double(out, value);
  out += ']';
}

// {"series":[{series fields}, ...]} for op series, and with "ts" and "value"
// for op latest.
class SeriesList {
 public:
  void add(std::string_view text, std::string_view name, std::span<const Label> labels) {
    open();
    append_series_fields(out_, text, name, labels);
    out_ += '}';
  }
  void add_latest(std::string_view text, std::string_view name, std::span<const Label> labels, int64_t ts,
                  double value) {
    open();
    append_series_fields(out_, text, name, labels);
    out_ += ",\"ts\":";
    json::append_int(out_, ts);
    out_ += ",\"value\":";
    json::append_double(out_, value);
    out_ += '}';
  }
  Answer finish() {
    out_ += "]}";
    return {200, std::move(out_)};
  }

 private:
  void open() {
    out_ += first_ ? "{" : ",{";
    first_ = false;
  }
  std::string out_ = "{\"series\":[";
  bool first_ = true;
};

// {"from":..,"to":..,"tier":"..","method":"..","series":[{series fields,
// "points":[[ts,v],...]}, ...]}. Series are added in text order; one that
// ends up without points is left out.
class RangeReply {
 public:
  RangeReply(const RangeQuery &q, Tier answered) {
    out_ = "{\"from\":";
    json::append_int(out_, q.from);
    out_ += ",\"to\":";
    json::append_int(out_, q.to);
    out_ += ",\"tier\":\"";
    out_ += tier_name(answered);
    out_ += "\",\"method\":\"";
    out_ += method_name(q.method);
    out_ += "\",\"series\":[";
    header_size_ = out_.size();
  }
  // Drops every series added so far (to read them again from another state).
  void clear_series() {
    out_.resize(header_size_);
    first_ = true;
  }
  void begin_series(std::string_view text, std::string_view name, std::span<const Label> labels) {
    mark_ = out_.size();
    points_ = 0;
    out_ += first_ ? "{" : ",{";
    append_series_fields(out_, text, name, labels);
    out_ += ",\"points\":[";
  }
  void point(int64_t ts, double value) {
    append_point(out_, ts, value);
    out_ += ',';
    ++points_;
  }
  // For a storage that keeps points already written (a cache of reply
  // text): append them to encoded() as append_point writes them, each
  // followed by a comma, then say how many with encoded_added().
  std::string &encoded() { return out_; }
  void encoded_added(int64_t n) { points_ += n; }
  void end_series() {
    if (points_ == 0) {
      out_.resize(mark_);
      return;
    }
    out_.back() = ']';  // the comma after the last point
    out_ += '}';
    first_ = false;
  }
  size_t size() const { return out_.size(); }
  void reserve(size_t n) { out_.reserve(n); }
  Answer finish() {
    out_ += "]}";
    return {200, std::move(out_)};
  }

 private:
  std::string out_;
  size_t header_size_ = 0, mark_ = 0;
  int64_t points_ = 0;
  bool first_ = true;
};

// {"series":N,"samples":N, then whatever else the storage reports}: series
// and samples are required (the count of series holding data and of samples
// kept, exact), the rest is the storage's own and documented in its README.
class StatsReply {
 public:
  StatsReply(int64_t series, int64_t samples) {
    out_ = "{\"series\":";
    json::append_int(out_, series);
    out_ += ",\"samples\":";
    json::append_int(out_, samples);
  }
  StatsReply &field(std::string_view name, int64_t value) {
    key(name);
    json::append_int(out_, value);
    return *this;
  }
  StatsReply &field(std::string_view name, double value) {
    key(name);
    json::append_double(out_, value);
    return *this;
  }
  StatsReply &field(std::string_view name, std::string_view value) {
    key(name);
    json::append_string(out_, value);
    return *this;
  }
  Answer finish() {
    out_ += '}';
    return {200, std::move(out_)};
  }

 private:
  void key(std::string_view name) {
    out_ += ',';
    json::append_string(out_, name);
    out_ += ':';
  }
  std::string out_;
};

// {"path":"...","bytes":N}
inline Answer backup_answer(std::string_view path, uint64_t bytes) {
  std::string out = "{\"path\":";
  json::append_string(out, path);
  out += ",\"bytes\":";
  json::append_int(out, static_cast<int64_t>(bytes));
  out += '}';
  return {200, std::move(out)};
}

inline int64_t wall_clock_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace vitals::storage

namespace vitals {

// A storage that answers the typed contract. The calls run on the agent's
// thread pool, several at once and concurrently with consume(); each returns
// its whole reply. Throw storage::BadRequest for a request this storage
// cannot answer (400, such as a tier it does not keep); any other exception
// is the storage's failure and answers 500 with its message.
class TypedStorage : public Storage {
 public:
  using Storage::Storage;

  virtual storage::Answer series(const storage::SeriesQuery &q) = 0;
  // now_ns: the time the request's relative times were read against.
  virtual storage::Answer range(const storage::RangeQuery &q, int64_t now_ns) = 0;
  virtual storage::Answer latest(const storage::LatestQuery &q) = 0;
  virtual storage::Answer query_stats() = 0;
  // Default: 501, this storage offers no backup.
  virtual storage::Answer backup(const storage::BackupQuery &) {
    return storage::Answer::error(501, "this storage offers no backup");
  }

  // Reads one wire request and answers it through the typed calls: bad
  // requests with 400, exceptions with 500, each as {"error":"..."}.
  storage::Answer answer(std::string_view request_json, int64_t now_ns) {
    try {
      storage::Request request = storage::parse_request(request_json, now_ns);
      return std::visit(
          [&](const auto &q) -> storage::Answer {
            using Q = std::decay_t<decltype(q)>;
            if constexpr (std::is_same_v<Q, storage::SeriesQuery>) return series(q);
            if constexpr (std::is_same_v<Q, storage::RangeQuery>) return range(q, now_ns);
            if constexpr (std::is_same_v<Q, storage::LatestQuery>) return latest(q);
            if constexpr (std::is_same_v<Q, storage::StatsQuery>) return query_stats();
            if constexpr (std::is_same_v<Q, storage::BackupQuery>) return backup(q);
          },
          request);
    } catch (const storage::BadRequest &e) {
      return storage::Answer::error(400, e.what());
    } catch (const std::exception &e) {
      return storage::Answer::error(500, e.what());
    }
  }

  // The wire entry (vitals.storage). A storage overrides it only to wrap
  // answer() (counting queries, refusing while not ready).
  void query(const std::string &request_json, Reply reply) override {
    storage::Answer a = answer(request_json, storage::wall_clock_ns());
    reply.send(a.status, "application/json", a.text());
  }
};

}  // namespace vitals
