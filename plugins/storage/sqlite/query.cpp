// Range queries: tier choice, reading, downsampling and the JSON reply.
#include "query.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>

#include "vitals/json_writer.hpp"
#include "vitals/selector.hpp"

namespace vitals::sqlite {

namespace {

int64_t read_points(const JsonScalar &v) {
  int64_t n = 0;
  auto end = v.text.data() + v.text.size();
  if (v.kind != JsonScalar::Kind::number || !v.is_integer() || std::from_chars(v.text.data(), end, n).ptr != end)
    throw BadRequest("\"points\" must be an integer");
  return n;
}

void append_points(std::string &out, const std::vector<Point> &points) {
  out += "\"points\":[";
  for (size_t i = 0; i < points.size(); ++i) {
    if (i) out += ',';
    out += '[';
    json::append_int(out, points[i].ts);
    out += ',';
    json::append_double(out, points[i].value);
    out += ']';
  }
  out += ']';
}

}  // namespace

RangeQuery parse_range_query(const Request &req, int64_t now_ns) {
  RangeQuery q;
  try {
    q.match = req.string("match");
    const JsonScalar *to = req.get("to");
    q.to = to && to->kind != JsonScalar::Kind::null ? parse_time(*to, now_ns, "to") : now_ns;
    const JsonScalar *from = req.get("from");
    // Default: an hour before `to`, or the earliest time for a `to` within an hour of it.
    constexpr int64_t earliest = std::numeric_limits<int64_t>::min();
    q.from = from && from->kind != JsonScalar::Kind::null ? parse_time(*from, now_ns, "from")
             : q.to < earliest + hour_ns                  ? earliest
                                                          : q.to - hour_ns;
    std::string method = req.string("method", "lttb");
    auto m = method_from_name(method);
    if (!m) throw BadRequest("unknown method \"" + method + "\" (use lttb, minmax, avg or raw)");
    q.method = *m;
  } catch (const BadRequest &) {
    throw;
  } catch (const std::invalid_argument &e) {
    throw BadRequest(e.what());
  }
  const JsonScalar *points = req.get("points");
  q.points = points && points->kind != JsonScalar::Kind::null ? read_points(*points) : default_points;
  if (q.from > q.to) throw BadRequest("\"from\" is after \"to\"");
  if (q.points < 1) throw BadRequest("\"points\" must be at least 1");
  if (q.points > max_points) throw BadRequest("\"points\" must be at most " + std::to_string(max_points));
  if (q.method == Method::minmax && q.points < 2)
    throw BadRequest("\"points\" must be at least 2 for minmax (a min and a max per bucket)");
  return q;
}

QueryEngine::QueryEngine(Database &reader, Catalog &catalog, Caches &caches, const Settings &settings,
                         Counters &counters)
    : db_(reader),
      catalog_(catalog),
      cache_(caches.replies),
      blocks_(caches.blocks),
      settings_(settings),
      counters_(counters) {
  begin_ = db_.prepare("BEGIN");
  end_ = db_.prepare("COMMIT");
  raw_ = db_.prepare("SELECT ts, value FROM samples WHERE series_id = ?1 AND ts >= ?2 AND ts <= ?3 ORDER BY ts");
  const char *rollup =
      "SELECT bucket_ts, min, max, sum, count FROM %s WHERE series_id = ?1 AND bucket_ts >= ?2 AND bucket_ts <= ?3 "
      "ORDER BY bucket_ts";
  char sql[256];
  std::snprintf(sql, sizeof sql, rollup, "rollup_1m");
  minute_ = db_.prepare(sql);
  std::snprintf(sql, sizeof sql, rollup, "rollup_1h");
  hour_ = db_.prepare(sql);
}

Selector QueryEngine::selector(const std::string &text) {
  Selector sel;
  std::string error;
  if (!Selector::parse(text, sel, error)) throw BadRequest(error);
  return sel;
}

QueryReplyText QueryEngine::series(const Request &req) {
  Selector sel = selector(req.string("match"));
  std::string out = "{\"series\":[";
  bool first = true;
  for (const auto &s : catalog_.match(sel)) {
    out += first ? "{" : ",{";
    first = false;
    append_series_fields(out, *s);
    out += '}';
  }
  out += "]}";
  return {200, std::move(out)};
}

QueryReplyText QueryEngine::latest(const Request &req) {
  Selector sel = selector(req.string("match"));
  std::string out = "{\"series\":[";
  bool first = true;
  for (const auto &[s, l] : catalog_.latest(sel)) {
    out += first ? "{" : ",{";
    first = false;
    append_series_fields(out, *s);
    out += ",\"ts\":";
    json::append_int(out, l.ts);
    out += ",\"value\":";
    json::append_double(out, l.value);
    out += '}';
  }
  out += "]}";
  return {200, std::move(out)};
}

QueryReplyText QueryEngine::query(const Request &req, int64_t now_ns) {
  RangeQuery q = parse_range_query(req, now_ns);
  Selector sel = selector(q.match);  // refuse a bad selector before touching the cache
  Tier tier =
      choose_tier(q.method, q.from, q.to, q.points, now_ns, settings_.retention_ns, settings_.rollup_retention_ns);
  // A range that ended more than flush_interval ago is closed: only a late
  // write can change its answer, and such a write drops the entry.
  bool closed = q.to < now_ns - settings_.flush_interval_ns;
  std::string key;
  uint64_t generation = cache_.generation();
  if (closed) {
    key = q.match + '\n' + std::to_string(q.from) + '\n' + std::to_string(q.to) + '\n' + std::to_string(q.points) +
          '\n' + method_name(q.method) + '\n' + tier_name(tier);
    if (auto hit = cache_.get(key)) return {200, std::move(hit)};
  }
  std::string body = run(q, sel, tier, now_ns);
  if (!closed) return {200, std::move(body)};
  auto shared = std::make_shared<const std::string>(std::move(body));
  cache_.put(key, shared, q.to, generation);
  return {200, std::move(shared)};
}

void QueryEngine::read_raw(int64_t series, int64_t from, int64_t to, std::vector<Point> &out) {
  raw_.bind(1, series).bind(2, from).bind(3, to);
  while (raw_.step())
    if (!raw_.column_is_null(1)) out.push_back({raw_.column_int(0), raw_.column_double(1)});
  raw_.reset();
}

void QueryEngine::append_raw_series(const RangeQuery &q, const std::vector<SeriesPtr> &matched, int64_t now_ns,
                                    bool use_blocks, std::string &out) {
  RawReader::Range range;
  range.from = q.from;
  range.to = q.to;
  range.closed_before = now_ns - settings_.flush_interval_ns;
  range.generation = blocks_.generation();
  // A long range of a sparse series would walk (and cache) many empty blocks:
  // past a week, read it straight.
  constexpr uint64_t max_blocks = 7 * 24 * 12;
  range.use_blocks = use_blocks && blocks_.enabled() &&
                     (static_cast<uint64_t>(q.to) - static_cast<uint64_t>(q.from)) / RawBlocks::width_ns <= max_blocks;
  int64_t budget = max_raw_samples;
  bool first = true;
  for (const auto &s : matched) {
    size_t mark = out.size();
    out += first ? "{" : ",{";
    append_series_fields(out, *s);
    out += ",\"points\":[";
    int64_t n = 0;
    try {
      n = raw_reader_.append(s->id, range, out, budget);
    } catch (const std::length_error &) {
      throw BadRequest("the range holds more than " + std::to_string(max_raw_samples) +
                       " raw samples; ask for a shorter range, fewer series, or a downsampling method");
    }
    if (n == 0) {
      out.resize(mark);
      continue;
    }
    out.back() = ']';  // the comma after the last point
    out += '}';
    first = false;
  }
}

void QueryEngine::read_rollup(Tier tier, int64_t series, int64_t from, int64_t to, std::vector<RollupRow> &out) {
  Statement &s = tier == Tier::minute ? minute_ : hour_;
  // The rollup bucket holding `from` counts: it overlaps the range.
  s.bind(1, series).bind(2, bucket_start(from, tier_resolution_ns(tier))).bind(3, to);
  // min, max and sum are NULL only when count is 0 (never stored) or for a
  // sum of +inf and -inf; read as 0 they change nothing that is drawn.
  while (s.step())
    out.push_back({s.column_int(0), s.column_double(1), s.column_double(2), s.column_double(3), s.column_int(4)});
  s.reset();
}

std::string QueryEngine::run(const RangeQuery &q, const Selector &sel, Tier tier, int64_t now_ns) {
  std::vector<SeriesPtr> matched = catalog_.match(sel);
  std::string out = "{\"from\":";
  json::append_int(out, q.from);
  out += ",\"to\":";
  json::append_int(out, q.to);
  out += ",\"tier\":\"";
  out += tier_name(tier);
  out += "\",\"method\":\"";
  out += method_name(q.method);
  out += "\",\"series\":[";

  std::lock_guard lock(mutex_);
  if (q.method == Method::raw) out.reserve(raw_reserve_);
  // One snapshot for every series of the reply.
  begin_.run();
  struct EndRead {
    Statement &end;
    ~EndRead() {
      try {
        end.run();
      } catch (...) {
      }
    }
  } end_read{end_};
  std::vector<Point> points;
  std::vector<RollupRow> rows;
  bool first = true;
  size_t buckets = static_cast<size_t>(bucket_count(q.method, q.points));
  Buckets b(q.from, q.to, buckets);
  if (q.method == Method::raw) {
    // Streamed straight into the reply: no copy of what may be a million rows.
    size_t head = out.size();
    uint64_t generation = blocks_.generation();
    append_raw_series(q, matched, now_ns, true, out);
    // A late write dropped cached blocks while this ran: those taken before
    // may predate the rows read from this snapshot. Read it all again, from
    // the snapshot only, so that the reply is one consistent state.
    if (blocks_.generation() != generation) {
      out.resize(head);
      append_raw_series(q, matched, now_ns, false, out);
    }
    out += "]}";
    // Up to 8 MiB: one huge reply must not make every later one reserve as much.
    raw_reserve_ = std::min<size_t>(out.size() + out.size() / 8, 8u << 20);
    return out;
  }
  for (const auto &s : matched) {
    std::vector<Point> result;
    if (tier == Tier::raw) {
      points.clear();
      read_raw(s->id, q.from, q.to, points);
      switch (q.method) {
        case Method::lttb:
          result = lttb(points, static_cast<size_t>(q.points));
          break;
        case Method::minmax:
          result = minmax(points, b);
          break;
        case Method::avg:
        case Method::raw:
          result = average(points, b);
          break;
      }
    } else {
      rows.clear();
      read_rollup(tier, s->id, q.from, q.to, rows);
      switch (q.method) {
        case Method::lttb:
          result = lttb(bucket_means(rows), static_cast<size_t>(q.points));
          break;
        case Method::minmax:
          result = minmax(std::span<const RollupRow>(rows), b);
          break;
        case Method::avg:
        case Method::raw:
          result = average(std::span<const RollupRow>(rows), b);
          break;
      }
    }
    if (result.empty()) continue;
    out += first ? "{" : ",{";
    first = false;
    append_series_fields(out, *s);
    out += ',';
    append_points(out, result);
    out += '}';
  }
  out += "]}";
  return out;
}

QueryEngine::Figures QueryEngine::figures() {
  std::lock_guard lock(mutex_);
  Figures f;
  f.page_size = db_.query_int("PRAGMA page_size").value_or(0);
  f.page_count = db_.query_int("PRAGMA page_count").value_or(0);
  f.freelist_count = db_.query_int("PRAGMA freelist_count").value_or(0);
  return f;
}

}  // namespace vitals::sqlite
