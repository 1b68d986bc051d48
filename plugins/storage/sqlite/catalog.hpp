// What queries know without touching the disk: every committed series (name,
// labels, its JSON form) and the latest sample of each. The writer publishes
// to it after each commit; queries read it from other threads.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "db.hpp"
#include "vitals/plugin.hpp"
#include "vitals/selector.hpp"

namespace vitals::sqlite {

struct SeriesInfo {
  int64_t id = 0;  // series.id in the database
  std::string text, name;
  std::vector<Label> labels;  // sorted by key
  std::string json_fields;    // "series":..,"name":..,"labels":{..}
};

struct Latest {
  int64_t ts = 0;
  double value = 0;
};

using SeriesPtr = std::shared_ptr<const SeriesInfo>;

// Builds a SeriesInfo, json_fields included.
SeriesPtr make_series_info(int64_t id, std::string text, std::string name, std::vector<Label> labels);
// {"key":"value",...}
std::string labels_json(const std::vector<Label> &labels);
// Reads labels_json() output back; throws std::invalid_argument.
std::vector<Label> parse_labels_json(std::string_view text);

class Catalog;

// What the file holds at open, besides the catalog's part.
struct Stored {
  std::unordered_map<std::string, int64_t> text_rows;  // series text -> series.id
  std::unordered_map<int64_t, Latest> latest;          // newest raw row per series.id
  std::vector<int64_t> series_ids;                     // in creation order
  int64_t sample_count = 0;
};
// Reads every series and the newest sample of each (one index seek per
// series) into catalog; returns the same for the writer.
Stored load_stored(Database &db, Catalog &catalog);

class Catalog {
 public:
  void add(std::vector<SeriesPtr> series);
  void set_latest(const std::vector<std::pair<int64_t, Latest>> &values);
  // Forgets latest values older than cutoff_ns (retention deleted them).
  void drop_latest_before(int64_t cutoff_ns);

  // Series matching sel, sorted by text.
  std::vector<SeriesPtr> match(const Selector &sel);
  std::vector<std::pair<SeriesPtr, Latest>> latest(const Selector &sel);
  size_t size() const;

 private:
  std::vector<SeriesPtr> match_locked(const Selector &sel);

  mutable std::mutex mutex_;
  std::vector<SeriesPtr> series_;  // sorted by text
  std::unordered_map<int64_t, Latest> latest_;
  // Recent selector results, valid while the series list is unchanged.
  std::unordered_map<std::string, std::vector<SeriesPtr>> matched_;
};

}  // namespace vitals::sqlite
