// The catalog on its own: selectors from queries are evaluated without
// holding the lock the writer needs to publish a commit.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "../catalog.hpp"

using namespace vitals::sqlite;

TEST_CASE("catalog: matching a query's selector does not block the writer publishing a commit") {
  Catalog catalog;
  catalog.add({make_series_info(1, "a", "a", {})});
  std::atomic<bool> published = false;
  bool published_during_match = false;
  std::thread writer;
  // The predicate stands for a slow selector: it waits (up to 2 s) for the
  // writer's add() and set_latest() to get through while it is running.
  auto matched = catalog.match_if("slow", [&](const SeriesInfo &) {
    writer = std::thread([&] {
      catalog.add({make_series_info(2, "b", "b", {})});
      catalog.set_latest({{2, Latest{1, 1.0}}});
      published = true;
    });
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (!published && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    published_during_match = published;
    return true;
  });
  writer.join();
  CHECK(published_during_match);
  // The match saw the list as it was when it started...
  REQUIRE(matched.size() == 1);
  CHECK(matched[0]->text == "a");
  // ...and its result is not cached past the change.
  CHECK(catalog.match_if("slow", [](const SeriesInfo &) { return true; }).size() == 2);
}

TEST_CASE("catalog: results are cached per key until the series list changes") {
  Catalog catalog;
  catalog.add({make_series_info(1, "a", "a", {})});
  int calls = 0;
  auto count = [&](const SeriesInfo &) {
    ++calls;
    return true;
  };
  CHECK(catalog.match_if("k", count).size() == 1);
  CHECK(catalog.match_if("k", count).size() == 1);
  CHECK(calls == 1);
  catalog.add({make_series_info(2, "b", "b", {})});
  CHECK(catalog.match_if("k", count).size() == 2);
  CHECK(calls == 3);
}
