// Edge queue policies, series interning and scheduler alignment.
#include <doctest/doctest.h>
#include <malloc.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "engine/edge_queue.hpp"
#include "engine/scheduler.hpp"
#include "engine/series_registry.hpp"
#include "vitals/testing.hpp"

using namespace vitals::core;

namespace {
QueueItem item_of(size_t samples, uint64_t id) {
  auto b = std::make_shared<Batch>();
  for (size_t i = 0; i < samples; ++i) {
    b->series.push_back(1);
    b->ts_ns.push_back(static_cast<int64_t>(i));
    b->values.push_back(0);
  }
  return {b, id, 0};
}
}  // namespace

TEST_CASE("edge queue drops oldest when full and returns what it evicted") {
  EdgeQueue q({10, Overflow::drop_oldest});
  std::vector<QueueItem> evicted;
  for (uint64_t i = 1; i <= 4; ++i) CHECK(q.push(item_of(4, i), evicted) == EdgeQueue::PushResult::accepted);
  // 4 batches of 4 into capacity 10: only the newest two fit.
  REQUIRE(evicted.size() == 2);
  CHECK(evicted[0].delivery_id == 1);
  CHECK(evicted[1].delivery_id == 2);
  CHECK(q.depth_samples() == 8);
  CHECK(q.try_pop()->delivery_id == 3);
}

TEST_CASE("edge queue drops newest when full") {
  EdgeQueue q({10, Overflow::drop_newest});
  std::vector<QueueItem> evicted;
  CHECK(q.push(item_of(6, 1), evicted) == EdgeQueue::PushResult::accepted);
  CHECK(q.push(item_of(6, 2), evicted) == EdgeQueue::PushResult::dropped_newest);
  CHECK(evicted.empty());
  CHECK(q.depth_batches() == 1);
}

TEST_CASE("edge queue with block refuses past capacity and reports fullness first") {
  EdgeQueue q({10, Overflow::block});
  std::vector<QueueItem> evicted;
  CHECK_FALSE(q.full_for(6));
  q.push(item_of(6, 1), evicted);
  CHECK(q.full_for(6));
  CHECK_FALSE(q.full_for(4));
  CHECK(q.push(item_of(6, 2), evicted) == EdgeQueue::PushResult::refused_full);
}

TEST_CASE("edge queue takes one oversized batch when empty so nothing wedges") {
  EdgeQueue q({10, Overflow::block});
  std::vector<QueueItem> evicted;
  CHECK_FALSE(q.full_for(50));
  CHECK(q.push(item_of(50, 1), evicted) == EdgeQueue::PushResult::accepted);
}

TEST_CASE("edge queue pop_wait drains then ends after close") {
  EdgeQueue q({100, Overflow::block});
  std::vector<QueueItem> evicted;
  q.push(item_of(1, 1), evicted);
  std::vector<uint64_t> seen;
  std::thread t([&] {
    while (auto item = q.pop_wait()) seen.push_back(item->delivery_id);
  });
  q.push(item_of(1, 2), evicted);
  q.close();
  t.join();
  CHECK(seen == std::vector<uint64_t>{1, 2});
}

TEST_CASE("series interning is canonical, stable and validated") {
  SeriesRegistry r;
  auto a = r.intern("cpu_usage", {{"mode", "user"}, {"cpu", "0"}});
  auto b = r.intern("cpu_usage", {{"cpu", "0"}, {"mode", "user"}});
  CHECK(a != 0);
  CHECK(a == b);
  CHECK(std::string(r.find(a)->text) == "cpu_usage{cpu=\"0\",mode=\"user\"}");
  CHECK(r.size() == 1);
  // The id is a hash of the text: the same in every run.
  SeriesRegistry other;
  CHECK(other.intern("cpu_usage", {{"cpu", "0"}, {"mode", "user"}}) == a);
  CHECK(r.intern("9bad") == 0);
  CHECK(r.intern("ok", {{"bad-key", "x"}}) == 0);
  CHECK(r.intern("ok", {{"k", "1"}, {"k", "2"}}) == 0);
  CHECK(std::string(r.find(r.intern("q", {{"v", "a\"b\\c\nd"}}))->text) == "q{v=\"a\\\"b\\\\c\\nd\"}");
}

// A plugin's unit test runs against the SDK's test host (vitals/testing.hpp):
// it must refuse exactly the series the agent refuses, and give each series
// the id the agent gives it.
TEST_CASE("the SDK test host interns as the agent does: the same refusals, the same ids") {
  struct Case {
    std::string name;
    std::vector<vitals::Label> labels;
  };
  const std::vector<Case> cases = {
      {"cpu_usage", {{"mode", "user"}, {"cpu", "0"}}},
      {"a", {}},
      {":a.b:c_9", {}},
      {"_x", {{"_k", ""}}},
      {"q", {{"v", "a\"b\\c\nd"}}},
      {"9bad", {}},
      {"", {}},
      {"a-b", {}},
      {".a", {}},
      {"a b", {}},
      {"caf\xc3\xa9", {}},
      {"ok", {{"bad-key", "x"}}},
      {"ok", {{"9k", "x"}}},
      {"ok", {{"a:b", "x"}}},
      {"ok", {{"a.b", "x"}}},
      {"ok", {{"", "x"}}},
      {"ok", {{"k", "1"}, {"k", "2"}}},  // a repeated key
      {"ok", {{"k", "1"}, {"j", "0"}, {"k", "1"}}},
  };
  vitals::testing::Host host;
  SeriesRegistry registry;
  for (const auto &c : cases) {
    CAPTURE(c.name);
    CAPTURE(c.labels.size());
    std::vector<std::pair<std::string, std::string>> pairs;
    for (const auto &l : c.labels) pairs.emplace_back(l.key, l.value);
    vitals_series_id_t agent = registry.intern(c.name, pairs);
    CHECK(host.intern(c.name, c.labels) == agent);
    if (agent) CHECK(host.series_text(agent) == registry.find(agent)->text);
  }
}

TEST_CASE("the SDK test host refuses null pointers through the C table, as the agent does (host_table.cpp)") {
  vitals::testing::Host host;
  const vitals_host_t *table = host.table();
  vitals_label_t null_key{nullptr, "v"};
  CHECK(table->intern(table->ctx, nullptr, nullptr, 0) == 0);
  CHECK(table->intern(table->ctx, "ok", nullptr, 1) == 0);
  CHECK(table->intern(table->ctx, "ok", &null_key, 1) == 0);
}

TEST_CASE("series interning keeps name, labels and text readable through the C view") {
  SeriesRegistry r;
  const std::string long_value(1000, 'v');
  auto id = r.intern("disk_used", {{"path", long_value}, {"dev", "sda"}});
  const vitals_series_t *s = r.find(id);
  REQUIRE(s);
  CHECK(std::string(s->name) == "disk_used");
  REQUIRE(s->n_labels == 2);
  CHECK(std::string(s->labels[0].key) == "dev");
  CHECK(std::string(s->labels[0].value) == "sda");
  CHECK(std::string(s->labels[1].key) == "path");
  CHECK(std::string(s->labels[1].value) == long_value);
  CHECK(std::string(s->text) == "disk_used{dev=\"sda\",path=\"" + long_value + "\"}");
  CHECK(r.intern("disk_used", {{"dev", "sda"}, {"path", long_value}}) == id);
}

// A series with a 1 KB label value held it four times (text, its copy as the
// lookup key, the label, plus node overheads): 40,000 such series from one
// client took hundreds of MB. Now the text and the name/labels, once each.
#if !defined(__SANITIZE_ADDRESS__)
TEST_CASE("a series costs its text and its labels once each, plus a bounded overhead") {
  SeriesRegistry r;
  const std::string pad(1000, 'x');
  constexpr size_t n = 10'000;
  size_t before = mallinfo2().uordblks;
  for (size_t i = 0; i < n; ++i) REQUIRE(r.intern("m", {{"pad", pad + std::to_string(i)}}) != 0);
  double per_series = static_cast<double>(mallinfo2().uordblks - before) / n;
  // text ~1012 bytes + name and label ~1012 bytes; the maps, the entry and
  // allocator rounding take the rest.
  MESSAGE("series registry: " << per_series << " bytes per series with a 1 KB label value");
  CHECK(per_series < 2'600);
}
#endif

TEST_CASE("series registry refuses new series beyond its limit") {
  SeriesRegistry r;
  r.set_limit(2);
  CHECK(r.intern("a") != 0);
  CHECK(r.intern("b") != 0);
  CHECK(r.intern("c") == 0);
  CHECK(r.intern("a") != 0);  // known series still resolve
}

TEST_CASE("scheduler ticks align to the wall clock") {
  const int64_t s = 1'000'000'000;
  CHECK(next_aligned_tick(1700000003 * s + 123, 10 * s) == 1700000010 * s);
  CHECK(next_aligned_tick(1700000010 * s, 10 * s) == 1700000020 * s);  // strictly after
  CHECK(next_aligned_tick(5 * s + 1, 500'000'000) == 5'500'000'000);
  CHECK(ms_until(0, 1'500'001) == 2);  // never early
  CHECK(ms_until(10, 5) == 0);
}

TEST_CASE("scheduler does not drift over hours of ticks") {
  // Simulate a loop that always wakes 3 ms late: each tick is recomputed from
  // the clock, so after 10 hours at 1 s the tick is still on the second.
  const int64_t interval = 1'000'000'000;
  int64_t now = 1'700'000'000'000'000'000 + 123'456'789;
  int64_t tick = next_aligned_tick(now, interval);
  for (int i = 0; i < 36000; ++i) {
    now = tick + 3'000'000;
    tick = next_aligned_tick(now, interval);
  }
  CHECK(tick % interval == 0);
  CHECK(tick - now <= interval);
}

TEST_CASE("edge queue refuses a push once closed, loudly, and drains what it held") {
  EdgeQueue q({10, Overflow::block});
  std::vector<QueueItem> evicted;
  CHECK(q.push(item_of(2, 1), evicted) == EdgeQueue::PushResult::accepted);
  q.close();
  CHECK(q.push(item_of(2, 2), evicted) == EdgeQueue::PushResult::closed);
  auto first = q.pop_wait();
  REQUIRE(first);
  CHECK(first->delivery_id == 1);
  CHECK_FALSE(q.pop_wait());
}

TEST_CASE("a paused edge queue holds its consumer until resumed") {
  EdgeQueue q({10, Overflow::block});
  std::vector<QueueItem> evicted;
  q.set_paused(true);
  CHECK(q.push(item_of(2, 1), evicted) == EdgeQueue::PushResult::accepted);
  std::atomic<bool> popped{false};
  std::thread consumer([&] {
    if (q.pop_wait()) popped = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  CHECK_FALSE(popped.load());
  q.set_paused(false);
  consumer.join();
  CHECK(popped.load());
}

TEST_CASE("a full series registry refuses new series, keeps known ones, and counts the refusals") {
  SeriesRegistry r;
  r.set_limit(2);
  auto a = r.intern("a");
  CHECK(a != 0);
  CHECK(r.intern("b") != 0);
  CHECK(r.intern("c") == 0);
  CHECK(r.intern("d") == 0);
  CHECK(r.intern("a") == a);
  CHECK(r.refused_at_limit() == 2);
  CHECK(r.size() == 2);
}
