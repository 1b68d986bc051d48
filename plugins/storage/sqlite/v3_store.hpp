// The v3 layout's tables and the three things done to them: a commit appends
// a head row, the compactor seals head rows into chunks and rollup chunks,
// and a read sees chunks and head as one. Synchronous functions on a
// connection the caller owns; the writer, the compactor and the query engine
// call them (with `layout = "v3"`).
//
//   head(seq, min_ts, max_ts, rows)    one row per commit (head_codec.hpp)
//   chunks(id, series, start, n, data, merged_seal)
//                                      a series' samples in the window
//                                      [start, start + span) (chunk_codec.hpp),
//                                      found by (start, series), and the
//                                      newest seal whose partial chunks it holds
//   partial_chunks(seal, series, start, n, data)
//                                      what one seal added to that window
//   seals(seal, first_window, last_window)
//                                      the seals with partial chunks left
//   rollup_chunks(tier, start, series, data)
//                                      a window's 1 h buckets (tier 2), and
//                                      its 1 min ones where they pay (tier
//                                      1), keyed by the window's start; or
//                                      a day's 1 h buckets (tier 3: those
//                                      of the windows starting that day),
//                                      keyed by the day (rollup_codec.hpp)
//
// Chunks are a rowid table found through a unique (start, series) index,
// not a WITHOUT ROWID table keyed by it: rows are written in rowid order,
// and SQLite fills a table's pages when rows are appended (an index
// b-tree's splits leave them about half empty: 2.09 bytes a sample of
// chunks measured that way against 0.82 of blobs). Rollup chunks are small
// and read by the hundred for a long range: a WITHOUT ROWID table finds
// each in one b-tree instead of two.
//
// Both are keyed by time first (schema version 5): finalizing a window of
// every series writes its rows side by side, where keyed by series first
// it wrote into one page per series once the b-tree held more pages than
// series (bench/RESULTS.md). A chunk's start is its window's start. A read
// of one series walks the windows any series has in its range, a b-tree
// seek each, and looks its row up in each.
//
// Hourly rollups, which long ranges read, are written by window as well,
// then gathered into one row per series and day once no window of that
// day is pending (compact_day(), schema version 6): a month is 30 rows a
// series, not 360, and finalizing appends its rows side by side instead
// of writing into one page per series of the day's rows. A window's row
// overrides the day row's hours of that window: a late write finalized
// after its day was gathered writes a window row again, gathered in turn.
//
// Head rows are sealed whole and oldest first: each once every sample in it
// is before the open window, or when it holds a sample too far in the
// future to wait for (a device whose clock is wrong); sealing stops at the
// first row that cannot go, so no row stays behind a later one that went.
// A later row's sample for the same (series, timestamp) wins, in the head
// as over chunks.
//
// A seal writes each series' samples in a window as a partial chunk keyed
// by (seal, series, window): the seal's rows land together at the end of
// that table, however many series it touches. Keyed by series first, as
// chunks are, 10,000 series sealed 50 samples at a time dirtied a page of
// the index per series at every seal (20 bytes written per sample ingested,
// growing with the file). A window with partial chunks is pending: a read
// lays them over its chunk, later seals over earlier ones, and computes its
// rollups from the result. Once the window has ended and had no write for
// a while, the compactor finalizes it: one chunk (the best compression)
// and its rollups, from all of its samples, so exact under late writes.
// The partial chunks it merged stay until every window of their seal is
// finalized, then go in one range delete (retire_seal()): the chunk's
// merged_seal tells readers which are in it already. Deleted window by
// window, they rewrote each seal's pages once per finalizing transaction.
// A write into a window whose raw samples retention already dropped goes
// into its stored rollups instead.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "chunk_codec.hpp"
#include "compaction.hpp"
#include "db.hpp"
#include "head_codec.hpp"

namespace vitals::sqlite::v3 {

// The tables are created by schema version 3 (schema.cpp).

// The rollup tiers stored per window: bucket widths of 1 min and 1 h. The
// hours of a day's windows gathered are stored as tier 3 (`day`), read as
// `hour`.
enum class RollupTier : int { minute = 1, hour = 2, day = 3 };

// A window's 1-minute rollup is stored only where its minutes hold this many
// samples on average: a bucket's four aggregates cost about what two or
// three samples do (min, max and sum vary; bench/RESULTS.md: at a 10 s
// interval the minute rollups outweighed the raw chunks), while a query at
// that tier decodes the raw chunk instead at about 15 ns a sample. Hourly
// rollups are always stored: a long range never decodes raw samples.
inline constexpr double kMinSamplesPerMinuteBucket = 12;
bool minute_rollup_pays(size_t samples, size_t buckets);

struct Options {
  // Chunk windows: a multiple of an hour, so hourly buckets never straddle two.
  int64_t span_ns = 2 * 3'600'000'000'000;
  // A head row holding a sample later than now + this is sealed at once.
  int64_t future_ns = 3'600'000'000'000;
  int zstd_level = 3;
  // How long raw samples are kept (the storage's `retention`; 0: for ever):
  // a window that ended longer ago than this keeps only its rollups.
  int64_t raw_retention_ns = 0;
};

// A series' chunk window.
struct Window {
  int64_t series = 0;
  int64_t start = 0;
  auto operator<=>(const Window &) const = default;
};

// Hourly rollups gathered a day at a time (see the top of this file): the
// day a window starting at `start` belongs to, and the last instant of the
// day starting at `day` (the windows starting in between belong to it).
inline constexpr int64_t kDayNs = 24 * 3'600'000'000'000;
int64_t day_of(int64_t start);
int64_t day_last(int64_t day);

// The last instant of the window starting at `start` (the latest time for
// the window holding it).
int64_t window_last(int64_t start, const Options &options);
// Chunks and windows starting before this ended at or before cutoff_ns.
int64_t expired_before(int64_t cutoff_ns, const Options &options);

// Appends one commit's samples as a head row (nothing for none) and returns
// its seq (0 for none).
int64_t append_head(Database &db, const head::Rows &rows, const Options &options);

// Whether a head row whose latest sample is max_ts can be sealed at now_ns.
bool sealable(int64_t max_ts, int64_t now_ns, const Options &options);

struct SealStats {
  int64_t head_rows = 0;        // sealed and deleted
  int64_t samples = 0;          // in them
  int64_t chunks = 0;           // written (partial chunks)
  int64_t last_seq = 0;         // the newest head row sealed (0: none)
  int64_t seal = 0;             // this seal's number
  int64_t stored_delta = 0;     // raw samples the chunks hold now less before
  std::vector<Window> pending;  // windows given a partial chunk (now pending)
};
// Seals, oldest first, the head rows whose samples all fall before the
// window open at now_ns, or that reach past now_ns + future_ns, up to the
// first that does neither, or once max_samples are gathered (at least one
// row goes: a seal always moves on); in the caller's open transaction.
// `force` seals the oldest rows whatever their samples (a head over its
// memory bound): the open window's samples then go to chunks early.
SealStats seal_into(Database &db, int64_t now_ns, const Options &options, int64_t max_samples = INT64_MAX,
                    bool force = false);
// The same in a transaction of its own.
SealStats seal(Database &db, int64_t now_ns, const Options &options);

// The samples of `series` in [from, to], from chunks and head as one.
chunk::Samples read(Database &db, int64_t series, int64_t from, int64_t to, const Options &options);

// Writes the chunk of `series` for the window at `start` (none must be
// there), holding `samples` (sorted, one per timestamp) and the partial
// chunks of seals up to `merged_seal`; returns its blob.
std::string write_chunk(Database &db, int64_t series, int64_t start, const chunk::Samples &samples,
                        const Options &options, int64_t merged_seal = 0);
// Writes the rollup chunks of the window at `start` computed from all of
// its samples.
void write_rollups(Database &db, int64_t series, int64_t start, const chunk::Samples &samples, const Options &options);
// The stored buckets of `tier` (minute or hour) of the window at `start`:
// for hours, its window row, else its hours in its day's row; none when
// neither holds it. Throws std::runtime_error naming a corrupt one.
std::optional<std::vector<compaction::Bucket>> stored_rollup(Database &db, RollupTier tier, int64_t series,
                                                             int64_t start, const Options &options);
// Stores them as the row of `tier` keyed by `start` (a window's, or for
// `day` a day's).
void put_rollup(Database &db, RollupTier tier, int64_t series, int64_t start,
                const std::vector<compaction::Bucket> &buckets, const Options &options);

// The first day from `from` on, and before `before`, holding hourly window
// rows (not gathered into its day row yet), if any.
std::optional<int64_t> next_day_to_gather(Database &db, int64_t from, int64_t before);
// Gathers the hourly window rows of the day starting at `day` into one day
// row per series, for the series ids in [first, first + limit), `first`
// being the first at or after `from_series` that has one; returns where the
// next call starts (none: the day is done).
std::optional<int64_t> compact_day(Database &db, int64_t day, int64_t from_series, int64_t limit,
                                   const Options &options);

// The windows with partial chunks their chunk does not hold (pending), in
// (series, start) order.
std::vector<Window> pending_windows(Database &db);
bool is_pending(Database &db, Window window);
// Whether the window has partial chunks, held by its chunk or not.
bool has_partials(Database &db, Window window);
// Finalizes a window: its chunk and partial chunks become one chunk, its
// rollups are written from it, and it is pending no more.
struct Finalized {
  int64_t samples = 0;         // the window holds now
  int64_t stored_delta = 0;    // less than its chunks held: samples written again
  std::vector<int64_t> seals;  // whose partial chunks of it the chunk now holds
};
Finalized finalize(Database &db, Window window, const Options &options);
// Deletes a seal's partial chunks and its row if every one of them is held
// by its window's chunk; returns whether it did.
bool retire_seal(Database &db, int64_t seal);
// How many partial chunks of each seal their window's chunk does not hold.
std::map<int64_t, int64_t> unmerged_by_seal(Database &db);
// The samples in partial chunks their chunk does not hold.
int64_t unmerged_samples(Database &db);
// Retires every seal whose partial chunks are all held by chunks.
void forget_finalized_seals(Database &db);
// A stored chunk decoded; throws std::runtime_error naming it when corrupt.
chunk::Samples decode_chunk(std::string_view blob, int64_t series, int64_t start);

// Retention: deletes the chunks of windows that end at or before cutoff_ns,
// window by window until `limit` chunks are gone, first storing each
// window's rollups it had none of (its minutes outlive its raw samples).
// Returns the chunks and samples.
struct Expired {
  int64_t chunks = 0, samples = 0;
};
Expired expire_chunks(Database &db, int64_t cutoff_ns, int64_t limit, const Options &options);
// Deletes up to `limit` rollup chunks of `tier` whose window ends at or
// before cutoff_ns; returns how many. Hours go a day at a time (windows'
// rows and day rows), once every window of the day has ended by then.
int64_t expire_rollups(Database &db, RollupTier tier, int64_t cutoff_ns, int64_t limit, const Options &options);

// Deletes the series rows that hold nothing any more: no chunk, no rollup
// chunk, and not in `in_head` (the head's series); returns their ids.
std::vector<int64_t> remove_empty_series(Database &db, const std::function<bool(int64_t)> &in_head);

// A head row's place in the order of sealing.
struct HeadRow {
  int64_t seq = 0;
  int64_t max_ts = 0;
};
// Calls add(rows, seq) for every head row, oldest first, and returns them.
std::vector<HeadRow> load_head(Database &db, const std::function<void(const head::Rows &, int64_t)> &add);

// A series' rows of a table keyed by time first (`key`: a chunk's or a
// rollup chunk's window start, then series), whose key is in [key_lo,
// key_hi] and start in [start_lo, start_hi], oldest first: its rows are not
// adjacent, so the keys any series has are walked, a b-tree seek each (gaps
// cost nothing), and its rows looked up under each. Walked from here, not
// in one recursive SQL statement: SQLite's planner put a Bloom filter on
// the join, built by reading the whole table at every query (1.6 ms for 13
// windows of 7,200 rows).
class KeyWalk {
 public:
  // `columns` empty: keys only (run() throws std::logic_error). Prepares
  // its statements: made once for many walks (a reader's), or for a walk
  // made now and then (gathering a day).
  KeyWalk(Database &db, const std::string &columns, const std::string &table, const std::string &key, bool tiered);
  // The first key in [from, to] (of `tier`, if tiered), a seek.
  std::optional<int64_t> next_key(int64_t from, int64_t to, int64_t tier = 0);
  // Calls key() with each key in [key_lo, key_hi], in order.
  void keys(int64_t key_lo, int64_t key_hi, int64_t tier, const std::function<void(int64_t)> &key);
  // Calls row() with the statement on each row (columns as given).
  void run(int64_t series, int64_t key_lo, int64_t key_hi, int64_t start_lo, int64_t start_hi, int64_t tier,
           const std::function<void(Statement &)> &row);

 private:
  Statement next_, rows_;
  bool tiered_;
};

// The sealed side of queries, on a connection of the caller's (the query
// engine's), with its statements prepared once.
class ChunkReader {
 public:
  ChunkReader(Database &db, const Options &options);
  // Appends the sealed samples of `series` in [from, to] to out, in order.
  void samples(int64_t series, int64_t from, int64_t to, chunk::Samples &out);
  // The windows of `series` holding raw samples in [from, to] (a chunk or
  // partial chunks), and which of them are pending (partial chunks), sorted;
  // without `chunks`, only the pending ones (in both lists): a long range
  // is not walked for them.
  struct Windows {
    std::vector<int64_t> raw, pending;
  };
  Windows windows(int64_t series, int64_t from, int64_t to, bool chunks = true);
  // Whether `series` has a chunk in the window at `start`.
  bool has_chunk(int64_t series, int64_t start);
  // The stored rollup chunks of `tier` for `series` whose window starts in
  // [from, to]: each window's start and its buckets.
  std::vector<std::pair<int64_t, std::vector<compaction::Bucket>>> rollups(RollupTier tier, int64_t series,
                                                                           int64_t from, int64_t to);

 private:
  const Options &options_;
  // The merged seal of the chunk of `series` at `start`, if it has one.
  std::optional<int64_t> chunk_at(int64_t series, int64_t start);

  KeyWalk chunks_, windows_, rollups_;
  Statement chunk_at_, seals_, parts_;
};

// The newest sealed sample (chunks and partial chunks) of every series that
// has one, in one pass (at open): the chunks from the newest window back,
// until `series_count` series are met or none is left.
std::unordered_map<int64_t, std::pair<int64_t, double>> newest_sealed(Database &db, size_t series_count);

}  // namespace vitals::sqlite::v3
