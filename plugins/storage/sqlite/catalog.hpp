// What queries know without touching the disk: every committed series (name,
// labels, its JSON form) and the latest sample of each. The writer publishes
// to it after each commit; queries read it from other threads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "db.hpp"
#include "head_index.hpp"
#include "v3_store.hpp"
#include "vitals/plugin.hpp"
#include "vitals/selector.hpp"

namespace vitals::sqlite {

struct SeriesInfo {
  int64_t id = 0;  // series.id in the database
  std::string text, name;
  std::vector<Label> labels;  // sorted by key
};

struct Latest {
  int64_t ts = 0;
  double value = 0;
};

using SeriesPtr = std::shared_ptr<const SeriesInfo>;

// Builds a SeriesInfo, its labels sorted.
SeriesPtr make_series_info(int64_t id, std::string text, std::string name, std::vector<Label> labels);
// {"key":"value",...}
std::string labels_json(const std::vector<Label> &labels);
// Reads labels_json() output back; throws std::invalid_argument.
std::vector<Label> parse_labels_json(std::string_view text);

class Catalog;

// Series by their text, each key a view of its value's text.
using TextRows = std::unordered_map<std::string_view, SeriesPtr>;

// What the file holds at open, besides the catalog's part.
struct Stored {
  TextRows text_rows;
  std::unordered_map<int64_t, Latest> latest;  // newest raw row per series.id
  std::vector<int64_t> series_ids;             // in creation order
  int64_t sample_count = 0;
  std::vector<v3::HeadRow> head_rows;  // layout v3: the head table, oldest first
};
// Reads every series and the newest sample of each (one index seek per
// series) into catalog; returns the same for the writer. Layout v3 (head
// given): the head rows go into `head`, and the newest samples come from it
// and the chunks, read newest window first in one pass (v3::newest_sealed).
Stored load_stored(Database &db, Catalog &catalog, HeadIndex *head = nullptr);

class Catalog {
 public:
  void add(std::vector<SeriesPtr> series);
  void set_latest(const std::vector<std::pair<int64_t, Latest>> &values);
  // Forgets latest values older than cutoff_ns (retention deleted them).
  void drop_latest_before(int64_t cutoff_ns);
  // Forgets these series (series.id) altogether: nothing of them is left.
  void remove(const std::vector<int64_t> &ids);

  // Series matching sel, sorted by text.
  std::vector<SeriesPtr> match(const Selector &sel);
  std::vector<std::pair<SeriesPtr, Latest>> latest(const Selector &sel);
  // Series for which `pred` is true, sorted by text; results are cached under
  // `cache_key` until the series list changes.
  using Predicate = std::function<bool(const SeriesInfo &)>;
  std::vector<SeriesPtr> match_if(const std::string &cache_key, const Predicate &pred);
  size_t size() const;

 private:
  using SeriesList = std::shared_ptr<const std::vector<SeriesPtr>>;

  // Guards the members below, never a selector's evaluation: the writer
  // takes it after every commit, and a user's pattern may be slow.
  mutable std::mutex mutex_;
  // Sorted by text. Replaced, never changed in place, so that a query can
  // take it under the lock and match against it after letting go.
  SeriesList series_ = std::make_shared<const std::vector<SeriesPtr>>();
  uint64_t series_generation_ = 0;  // counts replacements of series_
  std::unordered_map<int64_t, Latest> latest_;
  // Recent selector results, valid while the series list is unchanged.
  std::unordered_map<std::string, std::vector<SeriesPtr>> matched_;
};

}  // namespace vitals::sqlite
