// What both request formats share: options, the error a rejected request gets,
// body checks (UTF-8), series name rules, and resolving parsed series to ids.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "duplicate_finder.hpp"
#include "series_cache.hpp"
#include "vitals/plugin.hpp"
#include "vitals/series_name.hpp"

namespace vitals::http_telemetry {

// What one series may hold. A client picks its names; without bounds one
// request could make the agent intern, and every storage index, names of
// megabytes or series with thousands of labels. Lengths are in bytes, of the
// name as stored (after unescaping and sanitizing).
struct SeriesLimits {
  size_t max_labels = 64;                // labels of a series, configured `labels` included
  size_t max_name_length = 256;          // a series name or a label key
  size_t max_label_value_length = 4096;  // a label value
};

struct IngestOptions {
  int64_t now_ns = 0;           // the timestamp of samples that carry none
  bool sanitize_names = true;   // replace invalid characters instead of rejecting
  size_t max_samples = 100000;  // more in one request is refused with 413
  SeriesLimits limits;
};

// Why a request was refused. Positions are filled where they mean something:
// line and column (1-based, bytes) and offset (0-based byte offset in the body)
// for text errors, path ("[3].signals.temp") for JSON values.
struct IngestError {
  int status = 400;
  std::string message;
  std::optional<size_t> line, column, offset;
  std::optional<std::string> path;

  // The reply body: {"error": ..., "line": ..., "column": ..., "offset": ..., "path": ...}.
  std::string json() const;
};

// Fills line and column from offset by counting newlines before it.
IngestError error_at(std::string_view body, size_t offset, std::string message, int status = 400);

struct IngestCounts {
  size_t samples = 0;
  size_t string_fields_skipped = 0;
};

// The offset of the first byte that is not part of valid UTF-8 (overlong
// forms, surrogates and code points past U+10FFFF included) or is NUL.
std::optional<IngestError> check_utf8(std::string_view body);
// The same for body[from, to), the error positioned in the whole body.
std::optional<IngestError> check_utf8(std::string_view body, size_t from, size_t to);

// Series names and label keys follow the agent's rules: valid_series_name()
// and valid_label_key() of vitals/series_name.hpp.
// Replaces each character a series name may not hold with '_' (one per UTF-8
// character) and prefixes '_' to a leading digit: "temp-1" -> "temp_1".
std::string sanitize_series_name(std::string_view name);
std::string sanitize_label_key(std::string_view key);

// 'text', shortened to a readable length on a UTF-8 boundary, for messages.
std::string quoted(std::string_view text);

// Turns a parsed series into the host's id through the cache. On a miss the
// parser describes the series (name and labels, already valid) and add()
// checks it against the limits, with the configured extra labels the request
// did not set. A series new to the agent is not interned yet: it gets a
// placeholder id (plugin.h), and finish() interns the request's new series
// only once the whole request parsed, so a refused request leaves nothing in
// the agent's registry.
class SeriesResolver {
 public:
  // What the resolver uses of the host's series registry.
  struct Registry {
    // 0 when the host refuses the series.
    std::function<vitals_series_id_t(const char *name, const vitals_label_t *labels, uint32_t n)> intern;
    // nullptr when unknown.
    std::function<const vitals_series_t *(vitals_series_id_t id)> series;
  };
  static constexpr size_t default_cache_capacity = 65536;

  SeriesResolver(Registry registry, std::vector<vitals::Label> extra_labels,
                 size_t cache_capacity = default_cache_capacity)
      : registry_(std::move(registry)), extra_labels_(std::move(extra_labels)), cache_(cache_capacity) {}

  // The id (maybe a placeholder) a raw key resolved to before, or 0.
  vitals_series_id_t find(std::string_view key) {
    if (!pending_keys_.empty()) {
      if (auto it = pending_keys_.find(key); it != pending_keys_.end()) {
        cache_.count_hit();  // the cache's by the end of the request
        return placeholder(it->second);
      }
    }
    return cache_.find(key);
  }
  // Returns 0 and sets error when two labels share a key or the series
  // breaks a limit. Series that are one get one id, whatever their raw keys.
  vitals_series_id_t add(std::string_view key, const std::string &name, const std::vector<vitals::Label> &labels,
                         const SeriesLimits &limits, std::string &error);
  // Ends a request whose samples from out[first] on were resolved here. After
  // a parse error, forgets its new series and returns that error. Otherwise
  // interns them and replaces their placeholders in out; if the host refuses
  // one (its [agent] max_series is reached) the request gets 503.
  std::optional<IngestError> finish(vitals::Batch &out, size_t first, std::optional<IngestError> parse_error);

  const SeriesCache &cache() const { return cache_; }
  size_t extra_label_count() const { return extra_labels_.size(); }
  uint64_t interned() const { return interned_; }

 private:
  struct NewSeries {
    std::string name;
    size_t identity_hash;
    std::vector<vitals::Label> labels;  // with the extra labels
    vitals_series_id_t id = 0;          // once interned
  };
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  using Index = std::unordered_map<std::string, size_t, Hash, std::equal_to<>>;

  static vitals_series_id_t placeholder(size_t index) { return VITALS_SERIES_ID_PLACEHOLDER_MIN + index; }
  // The id the cache knows for the series of name and c_labels_ (sorted), or 0.
  vitals_series_id_t known_id(const std::string &name, size_t identity_hash) const;
  void forget_new_series();

  Registry registry_;
  std::vector<vitals::Label> extra_labels_;
  SeriesCache cache_;
  std::vector<vitals_label_t> c_labels_;
  DuplicateFinder<std::string_view> label_keys_;
  std::string identity_;
  // The current request's series new to this cache, by identity and by raw key.
  std::vector<NewSeries> new_series_;
  Index new_by_identity_;
  Index pending_keys_;
  uint64_t interned_ = 0;
};

}  // namespace vitals::http_telemetry
