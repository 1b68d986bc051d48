// The storage conformance suite: what every storage plugin must do to keep
// the storage contract (vitals/storage.hpp, docs/storage-contract.md), run
// against the plugin itself through the in-process test host. It needs no
// test framework: run it and report what it returns.
//
//   vitals::testing::StorageConformance suite;
//   suite.plugin = vitals_plugin();
//   suite.config = [](const std::string &retention) { return "retention = " + retention + "\n"; };
//   suite.tiers = {vitals::storage::Tier::minute, vitals::storage::Tier::hour};  // rollups it keeps
//   for (const auto &failure : suite.run()) ADD_FAILURE(failure);  // or CHECK, REQUIRE...
//
// Each case runs on a fresh instance (its own test host and data dir) built
// from config("\"30d\"") (config("\"1h\"") for retention) and writes
// timestamps around a day ago. Values are compared exactly: what was written
// is what a raw query returns. Queries run on another thread while batches
// are written, as the agent's pool does.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "vitals/downsample.hpp"
#include "vitals/json_reader.hpp"
#include "vitals/storage.hpp"
#include "vitals/testing.hpp"

namespace vitals::testing {

class StorageConformance {
 public:
  // The storage's descriptor (its vitals_plugin()).
  const vitals_plugin_t *plugin = nullptr;
  // The TOML of one instance keeping samples for `retention` (a TOML
  // duration string such as "\"30d\""); the host gives each case its own
  // data dir.
  std::function<std::string(const std::string &retention)> config;
  // Rollup tiers the storage keeps besides raw (a forced tier it lacks must be
  // refused with 400; those it keeps must be exact under late writes).
  std::vector<storage::Tier> tiers;

  // Runs every case; returns one line per failed check, "case: what".
  std::vector<std::string> run() {
    failures_.clear();
    for (const auto &[name, fn] : cases()) {
      case_ = name;
      try {
        fn();
      } catch (const std::exception &e) {
        fail(std::string("threw: ") + e.what());
      }
    }
    return failures_;
  }

 private:
  static constexpr int64_t second = 1'000'000'000;
  static constexpr int64_t minute = 60 * second, hour = 60 * minute, day = 24 * hour;

  using Point = storage::Point;  // == treats two NaN as equal

  // One instance with its host, and how to talk to it.
  class Subject {
   public:
    Subject(StorageConformance &suite, const std::string &retention)
        : suite_(suite), instance_(host_.create_started(suite.plugin, suite.config(retention))) {}

    // Consumes one batch and makes it durable (flush); checks the ack.
    void write(const std::vector<Sample> &samples) {
      size_t before = host_.completions().size();
      int status = instance_.consume(samples);
      if (status != VITALS_OK && status != VITALS_PENDING) {
        suite_.fail("consume answered " + std::to_string(status) + ": " + instance_.last_error());
        return;
      }
      int flushed = instance_.flush();
      if (flushed != VITALS_OK)
        suite_.fail("flush answered " + std::to_string(flushed) + ": " + instance_.last_error());
      if (status != VITALS_PENDING) return;
      // Accepted for later: the ack must come, successful, by the end of flush (or soon after, on the loop).
      for (int i = 0; i < 500 && host_.completions().size() == before; ++i) host_.run_for_ms(10);
      auto done = host_.completions();
      if (done.size() == before)
        suite_.fail("a PENDING batch was never acknowledged after flush");
      else if (done.back().second != VITALS_OK)
        suite_.fail("a batch was acknowledged with status " + std::to_string(done.back().second));
    }

    // Sends a request; checks the status and that the body is JSON.
    json::Value ask(const std::string &request, int want_status = 200) {
      auto [status, body] = host_.query(instance_, request);
      if (status != want_status) {
        suite_.fail(request + " answered " + std::to_string(status) + " (expected " + std::to_string(want_status) +
                    "): " + body);
        return {};
      }
      try {
        return json::Value::parse(body);
      } catch (const std::invalid_argument &e) {
        suite_.fail(request + " answered a body that is not JSON (" + e.what() + "): " + body);
        return {};
      }
    }

    // The points of each series of a range reply, by series text.
    std::vector<std::pair<std::string, std::vector<Point>>> range(const std::string &fields, int64_t from, int64_t to,
                                                                  std::string *tier = nullptr) {
      json::Value reply = ask(R"({"op":"query",)" + fields + ",\"from\":" + std::to_string(from) +
                              ",\"to\":" + std::to_string(to) + "}");
      std::vector<std::pair<std::string, std::vector<Point>>> out;
      if (!reply.is_object()) return out;
      if (!reply.has("series") || !reply.has("tier") || !reply.has("method") || !reply.has("from") ||
          !reply.has("to")) {
        suite_.fail("a range reply lacks from, to, tier, method or series");
        return out;
      }
      if (reply["from"].integer() != from || reply["to"].integer() != to)
        suite_.fail("a range reply's from/to differ from the request's");
      if (tier) *tier = reply["tier"].text();
      for (const auto &s : reply["series"].items()) {
        std::vector<Point> points;
        for (const auto &p : s["points"].items())
          points.push_back({p[0].integer(), p[1].is_null() ? std::nan("") : p[1].number()});
        if (points.empty()) suite_.fail("series " + s["series"].text() + " listed without points");
        out.emplace_back(s["series"].text(), std::move(points));
      }
      return out;
    }

    // The number of points of a range reply, or nothing if it failed: for a
    // thread other than the one writing (records no failure itself).
    std::optional<size_t> range_quietly(const std::string &fields, int64_t from, int64_t to) {
      auto [status, body] = raw_query(R"({"op":"query",)" + fields + ",\"from\":" + std::to_string(from) +
                                      ",\"to\":" + std::to_string(to) + "}");
      if (status != 200) return std::nullopt;
      try {
        size_t n = 0;
        // Kept in a variable: a range-for over a member of a temporary would
        // outlive the temporary (ASan caught it).
        json::Value reply = json::Value::parse(body);
        for (const auto &series : reply["series"].items()) n += series["points"].size();
        return n;
      } catch (const std::exception &) {
        return std::nullopt;
      }
    }
    // The contract answers before query() returns, so this never runs the
    // host's loop and may be called from any thread.
    std::pair<int, std::string> raw_query(const std::string &request) { return host_.query(instance_, request); }
    const std::string &data_dir() const { return host_.data_dir(); }

   private:
    StorageConformance &suite_;
    Host host_;
    Instance instance_;
  };

  void fail(const std::string &what) { failures_.push_back(case_ + ": " + what); }
  void expect(bool ok, const std::string &what) {
    if (!ok) fail(what);
  }

  static std::string show(const std::vector<Point> &points) {
    std::string out = "[";
    for (const auto &p : points) out += "[" + std::to_string(p.ts) + "," + std::to_string(p.value) + "]";
    return out + "]";
  }
  void expect_points(const std::vector<Point> &got, const std::vector<Point> &want, const std::string &what) {
    bool ok = got.size() == want.size();
    for (size_t i = 0; ok && i < got.size(); ++i) ok = got[i] == want[i];
    if (!ok) fail(what + ": got " + show(got) + ", expected " + show(want));
  }
  // The one series of a reply, or a failure.
  std::vector<Point> only(const std::vector<std::pair<std::string, std::vector<Point>>> &series,
                          const std::string &text) {
    if (series.size() != 1 || series[0].first != text) {
      fail("expected exactly series " + text + ", got " + std::to_string(series.size()) + " series");
      return {};
    }
    return series[0].second;
  }
  // A time a day ago on a minute boundary (the rollup checks keep their
  // samples inside one minute and one hour).
  static int64_t base() { return (Host::now_ns() - day) / minute * minute; }
  static std::string span(int64_t from, int64_t to) {
    return "\"from\":" + std::to_string(from) + ",\"to\":" + std::to_string(to);
  }

  std::vector<std::pair<std::string, std::function<void()>>> cases() {
    return {
        {"exact round trip", [this] { exact_round_trip(); }},
        {"ordering", [this] { ordering(); }},
        {"boundaries", [this] { boundaries(); }},
        {"downsampling shape", [this] { downsampling(); }},
        {"latest", [this] { latest(); }},
        {"retention", [this] { retention(); }},
        {"late and out-of-order writes", [this] { late_writes(); }},
        {"empty ranges", [this] { empty_ranges(); }},
        {"huge ranges", [this] { huge_ranges(); }},
        {"series listing", [this] { series_listing(); }},
        {"tiers", [this] { tier_choice(); }},
        {"stats", [this] { stats(); }},
        {"bad requests", [this] { bad_requests(); }},
        {"queries while writing", [this] { queries_while_writing(); }},
        {"backup", [this] { backup(); }},
    };
  }

  void exact_round_trip() {
    Subject s(*this, "\"30d\"");
    const int64_t t = base();
    const std::vector<Point> points{{t + 123'456'789, 0.1},
                                    {t + 123'456'790, -7.0},
                                    {t + 999'999'999, 1e-300},
                                    {t + 1'000'000'001, std::numeric_limits<double>::max()},
                                    {t + 2'000'000'000, std::numeric_limits<double>::denorm_min()},
                                    {t + 3'000'000'000, 123456789.123456789},
                                    {t + 4'000'000'000, std::nan("")},
                                    {t + 5'000'000'000, -2.5e15},
                                    {t + 6'000'000'000, std::numeric_limits<double>::lowest()}};
    std::vector<Sample> batch;
    for (const auto &p : points) batch.push_back({"exact{unit=\"°C\",where=\"a \\\"b\\\"\"}", p.ts, p.value});
    s.write(batch);
    auto got = s.range(R"("match":"exact","method":"raw")", t, t + 10 * second);
    expect_points(only(got, "exact{unit=\"°C\",where=\"a \\\"b\\\"\"}"), points,
                  "raw points (NaN as null) bit for bit");
  }

  void ordering() {
    Subject s(*this, "\"30d\"");
    const int64_t t = base();
    // Written out of order, across batches and series.
    s.write({{"b", t + 3 * second, 3}, {"a", t + 2 * second, 2}, {"b", t + 1 * second, 1}});
    s.write({{"a", t, 0}, {"b", t + 2 * second, 2}});
    auto got = s.range(R"("match":"*","method":"raw")", t, t + 10 * second);
    if (got.size() != 2 || got[0].first != "a" || got[1].first != "b") {
      fail("series are listed in the order of their text (a, b)");
      return;
    }
    expect_points(got[0].second, {{t, 0}, {t + 2 * second, 2}}, "a's points ascending");
    expect_points(got[1].second, {{t + second, 1}, {t + 2 * second, 2}, {t + 3 * second, 3}}, "b's points ascending");
  }

  void boundaries() {
    Subject s(*this, "\"30d\"");
    const int64_t t = base();
    std::vector<Sample> batch;
    for (int i = 0; i < 5; ++i) batch.push_back({"edge", t + i, static_cast<double>(i)});
    s.write(batch);
    expect_points(only(s.range(R"("match":"edge","method":"raw")", t + 1, t + 3), "edge"),
                  {{t + 1, 1}, {t + 2, 2}, {t + 3, 3}}, "from and to are both inclusive");
    expect_points(only(s.range(R"("match":"edge","method":"raw")", t + 2, t + 2), "edge"), {{t + 2, 2}},
                  "from == to holds the one sample at that time");
    expect(s.range(R"("match":"edge","method":"raw")", t + 5, t + 9).empty(), "nothing after the last sample");
    expect(s.range(R"("match":"edge","method":"raw")", t - 9, t - 1).empty(), "nothing before the first sample");
  }

  void downsampling() {
    Subject s(*this, "\"30d\"");
    const int64_t t = base();
    std::vector<Point> points;
    std::vector<Sample> batch;
    for (int i = 0; i < 300; ++i) {
      double v = std::sin(i / 7.0) * 10 + (i % 13);
      points.push_back({t + i * second + i, v});
      batch.push_back({"wave", points.back().ts, v});
    }
    batch.push_back({"wave", t + 150 * second + 500, std::nan("")});  // not drawn by downsampling methods
    s.write(batch);
    const int64_t from = t, to = t + 299 * second + 299;
    auto method = [&](const char *name, int points_asked) {
      return only(s.range(std::string(R"("match":"wave","tier":"raw","method":")") + name +
                              "\",\"points\":" + std::to_string(points_asked),
                          from, to),
                  "wave");
    };
    expect_points(method("lttb", 40), storage::lttb(points, 40), "lttb over raw samples");
    storage::Buckets b40(from, to, 40), b20(from, to, 20);
    expect_points(method("avg", 40), storage::average(points, b40), "avg: each bucket's mean at its start");
    expect_points(method("minmax", 40), storage::minmax(points, b20),
                  "minmax: each of points/2 buckets' min and max in time order");
    expect_points(method("lttb", 1000), points, "lttb with more points than samples returns them all");
    // Whatever tier the storage picks: at most `points` per series, in time order.
    for (const char *name : {"lttb", "avg", "minmax"}) {
      std::string tier;
      auto got = s.range(std::string(R"("match":"wave","points":10,"method":")") + name + "\"", from - day, to, &tier);
      expect(got.size() == 1, std::string(name) + ": the series, whatever the tier (" + tier + ")");
      for (const auto &[text, pts] : got) {
        expect(pts.size() <= 10, std::string(name) + ": at most 10 points on tier " + tier);
        expect(
            std::is_sorted(pts.begin(), pts.end(), [](const Point &a, const Point &b) { return a.ts < b.ts; }),
            std::string(name) + ": points in time order on tier " + tier + " (a rollup's min and max may share one)");
      }
    }
  }

  void latest() {
    Subject s(*this, "\"30d\"");
    const int64_t t = base();
    s.write({{"l{k=\"1\"}", t, 1}, {"l{k=\"1\"}", t + second, 2}, {"l{k=\"2\"}", t + 5 * second, 5}});
    s.write({{"l{k=\"1\"}", t - second, -1}});  // late: does not move latest
    json::Value reply = s.ask(R"({"op":"latest","match":"l"})");
    if (!reply.is_object()) return;
    const auto &list = reply["series"];
    if (list.size() != 2) return fail("two series expected, got " + std::to_string(list.size()));
    expect(list[0]["series"].text() == "l{k=\"1\"}" && list[0]["ts"].integer() == t + second &&
               list[0]["value"].number() == 2,
           "the newest sample of l{k=\"1\"}, not the late one");
    expect(list[0]["name"].text() == "l" && list[0]["labels"]["k"].text() == "1", "name and labels of latest");
    expect(list[1]["ts"].integer() == t + 5 * second && list[1]["value"].number() == 5, "latest of l{k=\"2\"}");
    s.write({{"l{k=\"1\"}", t + 9 * second, 9}});
    reply = s.ask(R"({"op":"latest","match":"l{k=\"1\"}"})");
    expect(reply.is_object() && reply["series"].size() == 1 && reply["series"][0]["value"].number() == 9,
           "a newer write moves latest");
  }

  void retention() {
    Subject s(*this, "\"1h\"");
    const int64_t now = Host::now_ns();
    s.write({{"kept", now - 3 * hour, 1}, {"kept", now - minute, 2}});
    auto got = s.range(R"("match":"kept","method":"raw","tier":"raw")", now - day, now);
    expect_points(only(got, "kept"), {{now - minute, 2}}, "a raw query returns nothing older than retention");
  }

  void late_writes() {
    Subject s(*this, "\"30d\"");
    const int64_t t = base();
    std::vector<Sample> batch;
    for (int i = 10; i <= 20; ++i) batch.push_back({"late", t + i * second, static_cast<double>(i)});
    s.write(batch);
    // Late, a duplicate that replaces (last write wins), and two writes of one timestamp in one batch.
    s.write({{"late", t + 5 * second, 5},
             {"late", t + 15 * second, 150},
             {"late", t + 30 * second, 1},
             {"late", t + 30 * second, 30}});
    std::vector<Point> want{{t + 5 * second, 5}};
    for (int i = 10; i <= 20; ++i) want.push_back({t + i * second, i == 15 ? 150.0 : i});
    want.push_back({t + 30 * second, 30});
    expect_points(only(s.range(R"("match":"late","method":"raw")", t, t + minute), "late"), want,
                  "late samples merged in order; the last write of a timestamp wins");
    // Every tier the storage keeps agrees after the late writes.
    double sum = 0;
    for (const auto &p : want) sum += p.value;
    for (storage::Tier tier : tiers) {
      std::string name = storage::tier_name(tier);
      auto got =
          s.range("\"match\":\"late\",\"method\":\"avg\",\"points\":1,\"tier\":\"" + name + "\"", t, t + minute - 1);
      auto pts = only(got, "late");
      expect(pts.size() == 1 && std::fabs(pts[0].value - sum / static_cast<double>(want.size())) < 1e-9,
             "tier " + name + " averages the merged samples (late and replaced included)");
    }
    // Replacing the largest sample with a small one must lower every tier's max.
    s.write({{"late", t + 15 * second, 15}});
    for (storage::Tier tier : tiers) {
      std::string name = storage::tier_name(tier);
      auto pts = only(
          s.range("\"match\":\"late\",\"method\":\"minmax\",\"points\":2,\"tier\":\"" + name + "\"", t, t + minute - 1),
          "late");
      double lo = pts.empty() ? 0 : pts[0].value, hi = lo;
      for (const auto &p : pts) lo = std::min(lo, p.value), hi = std::max(hi, p.value);
      expect(lo == 5 && hi == 30, "tier " + name + " min and max follow a replacement that lowered the max (5, 30)");
    }
  }

  void queries_while_writing() {
    Subject s(*this, "\"30d\"");
    const int64_t t = base();
    constexpr int batches = 40, per_batch = 50;
    std::atomic<bool> done{false};
    std::atomic<int> bad{0}, torn{0}, replies{0};
    std::thread reader([&] {
      size_t last = 0;
      while (!done.load()) {
        auto got = s.range_quietly(R"("match":"busy","method":"raw")", t, t + hour);
        if (!got) {
          ++bad;
          continue;
        }
        ++replies;
        // Whole batches only, never fewer than a reply before.
        if (*got % per_batch != 0 || *got < last) ++torn;
        last = *got;
      }
    });
    // A fast storage could take every batch before the reader's first query:
    // let it answer once first, so the two really overlap.
    for (int i = 0; i < 500 && replies.load() + bad.load() == 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    for (int b = 0; b < batches; ++b) {
      std::vector<Sample> batch;
      for (int i = 0; i < per_batch; ++i) batch.push_back({"busy", t + (b * per_batch + i) * 1000, 1.0 * i});
      s.write(batch);
    }
    done = true;
    reader.join();
    expect(bad == 0, std::to_string(bad.load()) + " queries failed while batches were written");
    expect(torn == 0, std::to_string(torn.load()) + " replies saw part of a batch, or fewer samples than before");
    expect(replies > 0, "no query answered while writing");
    auto got = s.range(R"("match":"busy","method":"raw")", t, t + hour);
    expect(only(got, "busy").size() == static_cast<size_t>(batches * per_batch), "every sample written is there");
  }

  void backup() {
    Subject s(*this, "\"30d\"");
    s.write({{"b", base(), 1}});
    std::string to = s.data_dir() + "/conformance-backup";
    auto [status, body] = s.raw_query(storage::to_json(storage::BackupQuery{to}));
    if (status == 501) return;  // this storage offers no backup
    if (status != 200) return fail("backup answered " + std::to_string(status) + ": " + body);
    json::Value reply = json::Value::parse(body);
    expect(reply["path"].text() == to && reply["bytes"].integer() > 0, "backup names the copy and its size");
    expect(std::filesystem::exists(to), "the backup file exists");
  }

  void empty_ranges() {
    Subject s(*this, "\"30d\"");
    const int64_t t = base();
    s.write({{"some", t, 1}});
    for (const char *method : {"raw", "lttb", "avg", "minmax"})
      expect(s.range(std::string(R"("match":"some","method":")") + method + "\"", t + 1, t + hour).empty(),
             std::string("a range without samples lists no series (") + method + ")");
    expect(s.range(R"("match":"none","method":"raw")", t - hour, t + hour).empty(), "an unmatched selector: none");
    json::Value none = s.ask(R"({"op":"series","match":"none"})");
    expect(none.is_object() && none["series"].size() == 0, "series of an unmatched selector: []");
    json::Value latest = s.ask(R"({"op":"latest","match":"none"})");
    expect(latest.is_object() && latest["series"].size() == 0, "latest of an unmatched selector: []");
  }

  void huge_ranges() {
    Subject s(*this, "\"30d\"");
    const int64_t t = base();
    s.write({{"h", t, 1}, {"h", t + second, 2}, {"h", t + 2 * second, 3}});
    constexpr int64_t lo = std::numeric_limits<int64_t>::min(), hi = std::numeric_limits<int64_t>::max();
    expect_points(only(s.range(R"("match":"h","method":"raw")", lo, hi), "h"),
                  {{t, 1}, {t + second, 2}, {t + 2 * second, 3}}, "raw over all of int64 time");
    for (const char *fields : {R"("match":"h","points":1)", R"("match":"h","points":1000000,"method":"avg")",
                               R"("match":"h","points":2,"method":"minmax")"}) {
      auto got = s.range(fields, lo, hi);
      expect(got.size() == 1, std::string("one series over all of int64 time for ") + fields);
    }
    expect_points(only(s.range(R"("match":"h","points":1,"method":"avg","tier":"raw")", lo, hi), "h"), {{lo, 2}},
                  "one avg bucket over all of int64 time, at its start");
  }

  void series_listing() {
    Subject s(*this, "\"30d\"");
    const int64_t t = base();
    s.write({{"cpu{core=\"1\",mode=\"user\"}", t, 1}, {"cpu{core=\"0\",mode=\"user\"}", t, 1}, {"mem", t, 1}});
    json::Value all = s.ask(R"({"op":"series"})");
    if (!all.is_object()) return;
    std::vector<std::string> texts;
    for (const auto &e : all["series"].items()) texts.push_back(e["series"].text());
    expect(texts == std::vector<std::string>{"cpu{core=\"0\",mode=\"user\"}", "cpu{core=\"1\",mode=\"user\"}", "mem"},
           "every series, in text order");
    const auto &first = all["series"][0];
    expect(first["name"].text() == "cpu" && first["labels"].size() == 2 && first["labels"]["core"].text() == "0" &&
               first["labels"]["mode"].text() == "user",
           "name and labels of a series");
    json::Value picked = s.ask(R"({"op":"series","match":"cpu{core=~\"[1-9]\"}"})");
    expect(picked.is_object() && picked["series"].size() == 1 &&
               picked["series"][0]["series"].text() == "cpu{core=\"1\",mode=\"user\"}",
           "a regex selector picks one");
    json::Value missing = s.ask(R"({"op":"series","match":"mem{host=\"\"}"})");
    expect(missing.is_object() && missing["series"].size() == 1, "a missing label reads as \"\"");
  }

  void tier_choice() {
    Subject s(*this, "\"30d\"");
    const int64_t t = base();
    s.write({{"x", t, 1}});
    std::set<std::string> kept{"raw"};
    for (storage::Tier tier : tiers) kept.insert(storage::tier_name(tier));
    for (const char *name : {"raw", "1m", "1h"}) {
      std::string request = std::string(R"({"op":"query","match":"x","method":"avg","tier":")") + name + "\"," +
                            span(t - hour, t + hour) + "}";
      if (kept.count(name)) {
        json::Value reply = s.ask(request);
        expect(reply.is_object() && reply["tier"].text() == name, std::string("a forced tier answers from ") + name);
      } else {
        s.ask(request, 400);
      }
    }
  }

  void stats() {
    Subject s(*this, "\"30d\"");
    const int64_t t = base();
    s.write({{"a", t, 1}, {"a", t + 1, 2}, {"b", t, 3}});
    s.write({{"a", t + 1, 5}});  // replaces: still three samples
    json::Value reply = s.ask(R"({"op":"stats"})");
    if (!reply.is_object()) return;
    expect(reply.has("series") && reply["series"].is_integer() && reply["series"].integer() == 2,
           "stats: \"series\" counts the series holding data (2)");
    expect(reply.has("samples") && reply["samples"].is_integer() && reply["samples"].integer() == 3,
           "stats: \"samples\" counts samples kept, replacements once (3)");
  }

  void bad_requests() {
    Subject s(*this, "\"30d\"");
    for (const char *request : {"not json", "{}", R"({"op":"drop"})", R"({"op":"query","from":10,"to":9})",
                                R"({"op":"query","points":0})", R"({"op":"query","method":"median"})",
                                R"({"op":"series","match":"a{"})", R"({"op":"backup","to":"relative"})"}) {
      json::Value reply = s.ask(request, 400);
      expect(reply.is_object() && reply.has("error") && !reply["error"].text().empty(),
             std::string("400 with a reason for ") + request);
    }
  }

  std::vector<std::string> failures_;
  std::string case_;
};

}  // namespace vitals::testing
