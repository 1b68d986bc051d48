// The in-memory series list and latest values shared by writer and queries.
#include "catalog.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <stdexcept>
#include <unordered_set>

#include "vitals/json_reader.hpp"
#include "vitals/storage.hpp"

namespace vitals::sqlite {

namespace {
constexpr size_t max_cached_selectors = 256;
}

std::string labels_json(const std::vector<Label> &labels) {
  std::string out;
  storage::append_labels(out, labels);  // the shape replies use, so both read alike
  return out;
}

std::vector<Label> parse_labels_json(std::string_view text) {
  // Labels are stored as a JSON object of strings (labels_json).
  std::vector<Label> out;
  try {
    json::Value obj = json::Value::parse(text);
    if (!obj.is_object()) throw std::invalid_argument("not an object");
    for (const auto &[key, v] : obj.fields()) {
      if (!v.is_string()) throw std::invalid_argument("\"" + key + "\" is not a string");
      out.push_back({key, v.text()});
    }
  } catch (const std::invalid_argument &e) {
    throw std::invalid_argument("bad labels " + std::string(text) + ": " + e.what());
  }
  return out;
}

SeriesPtr make_series_info(int64_t id, std::string text, std::string name, std::vector<Label> labels) {
  auto s = std::make_shared<SeriesInfo>();
  s->id = id;
  s->text = std::move(text);
  s->name = std::move(name);
  s->labels = std::move(labels);
  std::sort(s->labels.begin(), s->labels.end(), [](const Label &a, const Label &b) { return a.key < b.key; });
  return s;
}

void Catalog::add(std::vector<SeriesPtr> series) {
  if (series.empty()) return;
  auto by_text = [](const SeriesPtr &a, const SeriesPtr &b) { return a->text < b->text; };
  std::sort(series.begin(), series.end(), by_text);
  std::lock_guard lock(mutex_);
  auto merged = std::make_shared<std::vector<SeriesPtr>>();
  merged->reserve(series_->size() + series.size());
  std::merge(series_->begin(), series_->end(), series.begin(), series.end(), std::back_inserter(*merged), by_text);
  series_ = std::move(merged);
  ++series_generation_;
  matched_.clear();
}

void Catalog::set_latest(const std::vector<std::pair<int64_t, Latest>> &values) {
  std::lock_guard lock(mutex_);
  for (const auto &[id, v] : values) {
    auto [it, fresh] = latest_.try_emplace(id, v);
    if (!fresh && v.ts >= it->second.ts) it->second = v;
  }
}

void Catalog::drop_latest_before(int64_t cutoff_ns) {
  std::lock_guard lock(mutex_);
  std::erase_if(latest_, [&](const auto &kv) { return kv.second.ts < cutoff_ns; });
}

void Catalog::remove(const std::vector<int64_t> &ids) {
  if (ids.empty()) return;
  const std::unordered_set<int64_t> gone(ids.begin(), ids.end());
  std::lock_guard lock(mutex_);
  auto kept = std::make_shared<std::vector<SeriesPtr>>();
  for (const auto &s : *series_)
    if (!gone.count(s->id)) kept->push_back(s);
  series_ = std::move(kept);
  ++series_generation_;
  matched_.clear();
  for (int64_t id : ids) latest_.erase(id);
}

std::vector<SeriesPtr> Catalog::match_if(const std::string &cache_key, const Predicate &pred) {
  SeriesList snapshot;
  uint64_t generation = 0;
  {
    std::lock_guard lock(mutex_);
    if (auto it = matched_.find(cache_key); it != matched_.end()) return it->second;
    snapshot = series_;
    generation = series_generation_;
  }
  std::vector<SeriesPtr> out;
  for (const auto &s : *snapshot)
    if (pred(*s)) out.push_back(s);
  std::lock_guard lock(mutex_);
  // A result computed on a list that has since been replaced is returned
  // (it was true when the query started) but not kept.
  if (generation == series_generation_) {
    if (matched_.size() >= max_cached_selectors) matched_.clear();
    matched_.emplace(cache_key, out);
  }
  return out;
}

std::vector<SeriesPtr> Catalog::match(const Selector &sel) {
  return match_if(sel.text(), [&](const SeriesInfo &s) { return sel.matches(s.name, s.labels); });
}

std::vector<std::pair<SeriesPtr, Latest>> Catalog::latest(const Selector &sel) {
  std::vector<SeriesPtr> matched = match(sel);
  std::lock_guard lock(mutex_);
  std::vector<std::pair<SeriesPtr, Latest>> out;
  for (auto &s : matched)
    if (auto it = latest_.find(s->id); it != latest_.end()) out.emplace_back(s, it->second);
  return out;
}

size_t Catalog::size() const {
  std::lock_guard lock(mutex_);
  return series_->size();
}

}  // namespace vitals::sqlite

namespace vitals::sqlite {

namespace {

void load_newest_v3(Database &db, HeadIndex &head, Stored &out, std::vector<std::pair<int64_t, Latest>> &latest) {
  out.head_rows = v3::load_head(db, [&](const head::Rows &rows, int64_t seq) { head.add(rows, seq); });
  const auto sealed = v3::newest_sealed(db, out.series_ids.size());
  // Rows a migration has not moved yet (migration.hpp) count too.
  Statement v2_newest = db.prepare("SELECT ts, value FROM samples WHERE series_id = ?1 ORDER BY ts DESC LIMIT 1");
  auto view = head.view();
  for (int64_t id : out.series_ids) {
    std::optional<std::pair<int64_t, double>> newest;
    if (auto it = sealed.find(id); it != sealed.end()) newest = it->second;
    v2_newest.bind(1, id);
    if (v2_newest.step() && (!newest || v2_newest.column_int(0) > newest->first))
      newest = std::pair{v2_newest.column_int(0), v2_newest.column_is_null(1) ? NAN : v2_newest.column_double(1)};
    v2_newest.reset();
    auto in_head = head.newest_locked(id);
    if (in_head && (!newest || in_head->first >= newest->first)) newest = in_head;
    if (!newest) continue;
    Latest l{newest->first, newest->second};
    out.latest.emplace(id, l);
    latest.emplace_back(id, l);
  }
  // A sample written again over a sealed one counts twice until its window
  // is finalized, as while the agent runs.
  out.sample_count = db.query_int("SELECT coalesce(sum(n), 0) FROM chunks").value_or(0) + v3::unmerged_samples(db) +
                     head.size_locked() + db.query_int("SELECT value FROM meta WHERE key = 'sample_count'").value_or(0);
}

}  // namespace

Stored load_stored(Database &db, Catalog &catalog, HeadIndex *head) {
  Stored out;
  std::vector<SeriesPtr> infos;
  Statement series = db.prepare("SELECT id, text, name, labels FROM series ORDER BY id");
  while (series.step()) {
    int64_t id = series.column_int(0);
    std::string text(series.column_text(1));
    std::vector<Label> labels;
    try {
      labels = parse_labels_json(series.column_text(3));
    } catch (const std::invalid_argument &e) {
      throw std::runtime_error(db.path() + ": series " + text + ": " + e.what());
    }
    SeriesPtr info = make_series_info(id, text, std::string(series.column_text(2)), std::move(labels));
    out.text_rows.emplace(info->text, info);
    infos.push_back(std::move(info));
    out.series_ids.push_back(id);
  }
  std::vector<std::pair<int64_t, Latest>> latest;
  if (head) {
    load_newest_v3(db, *head, out, latest);
    catalog.add(std::move(infos));
    catalog.set_latest(latest);
    return out;
  }
  Statement newest = db.prepare("SELECT ts, value FROM samples WHERE series_id = ?1 ORDER BY ts DESC LIMIT 1");
  for (int64_t id : out.series_ids) {
    newest.bind(1, id);
    if (newest.step()) {
      Latest l{newest.column_int(0), newest.column_is_null(1) ? NAN : newest.column_double(1)};
      out.latest.emplace(id, l);
      latest.emplace_back(id, l);
    }
    newest.reset();
  }
  out.sample_count = db.query_int("SELECT value FROM meta WHERE key = 'sample_count'").value_or(0);
  catalog.add(std::move(infos));
  catalog.set_latest(latest);
  return out;
}

}  // namespace vitals::sqlite
