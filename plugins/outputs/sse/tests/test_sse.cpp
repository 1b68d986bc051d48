// Behaviour of the sse output: exact frames, match filters, heartbeats,
// resume from the replay ring (and the reset when it cannot), slow and gone
// clients, limits.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "vitals/testing.hpp"

extern "C" const vitals_plugin_t *vitals_plugin(void);

namespace {

using vitals::testing::HttpResult;

// Consumes a batch with events (testing::Instance::consume takes samples only).
int consume_events(vitals::testing::Instance &inst, vitals::Batch &batch) {
  return inst.plugin()->consume(inst.raw(), &batch.view(), nullptr);
}

// The `id:` lines of a stream, in order.
std::vector<std::string> ids_of(const std::string &body) {
  std::vector<std::string> ids;
  for (size_t at = body.find("id: "); at != std::string::npos; at = body.find("id: ", at + 1))
    if (at == 0 || body[at - 1] == '\n') ids.push_back(body.substr(at + 4, body.find('\n', at) - at - 4));
  return ids;
}

}  // namespace

TEST_CASE("sse streams each batch as one samples event with an id") {
  vitals::testing::Host host;
  auto inst = host.create(vitals_plugin(), "");
  REQUIRE(inst.start() == VITALS_OK);
  auto r = host.http("GET", "/api/events");
  CHECK(r->status == 200);
  CHECK(r->streaming);
  CHECK(r->content_type == "text/event-stream");
  CHECK(inst.consume({{"temp{room=\"lab\"}", 1000, 21.5}, {"cpu_usage", 2000, 3}}) == VITALS_OK);
  CHECK(inst.consume({{"temp{room=\"lab\"}", 3000, std::nan("")},
                      {"cpu_usage", 4000, std::numeric_limits<double>::infinity()}}) == VITALS_OK);
  CHECK(r->body ==
        "id: 1\nevent: samples\ndata: "
        "{\"samples\":[{\"series\":\"temp{room=\\\"lab\\\"}\",\"ts\":1000,\"value\":21.5},"
        "{\"series\":\"cpu_usage\",\"ts\":2000,\"value\":3}]}\n\n"
        "id: 2\nevent: samples\ndata: "
        "{\"samples\":[{\"series\":\"temp{room=\\\"lab\\\"}\",\"ts\":3000,\"value\":null},"
        "{\"series\":\"cpu_usage\",\"ts\":4000,\"value\":null}]}\n\n");
  CHECK(host.metric("vitals_sse_events_sent_total") == 2);
  CHECK(host.metric("vitals_sse_clients") == 1);
  inst.stop();
  CHECK(r->finished);
}

TEST_CASE("sse sends vitals events as `event: event`, one id each") {
  vitals::testing::Host host;
  auto inst = host.create(vitals_plugin(), "");
  REQUIRE(inst.start() == VITALS_OK);
  auto r = host.http("GET", "/api/events");
  vitals::Batch batch;
  batch.add(host.intern("temp"), 5, 30);
  batch.add_event(7, VITALS_SEVERITY_CRITICAL, "alerting", "temperature \"high\"\nnow", {{"room", "attic"}});
  batch.add_event(8, VITALS_SEVERITY_INFO, "agent", "started");
  CHECK(consume_events(inst, batch) == VITALS_OK);
  CHECK(r->body ==
        "id: 1\nevent: samples\ndata: {\"samples\":[{\"series\":\"temp\",\"ts\":5,\"value\":30}]}\n\n"
        "id: 2\nevent: event\ndata: {\"ts\":7,\"severity\":\"critical\",\"source\":\"alerting\","
        "\"message\":\"temperature \\\"high\\\"\\nnow\",\"labels\":{\"room\":\"attic\"}}\n\n"
        "id: 3\nevent: event\ndata: {\"ts\":8,\"severity\":\"info\",\"source\":\"agent\","
        "\"message\":\"started\",\"labels\":{}}\n\n");
}

TEST_CASE("sse filters samples by ?match= and refuses a bad selector") {
  vitals::testing::Host host;
  auto inst = host.create(vitals_plugin(), "");
  REQUIRE(inst.start() == VITALS_OK);
  auto lab = host.http("GET", "/api/events?match=temp%7Broom%3D%22lab%22%7D");
  auto lab2 = host.http("GET", "/api/events?match=temp%7Broom%3D%22lab%22%7D");
  auto cpu = host.http("GET", "/api/events?match=cpu_*");
  inst.consume({{"temp{room=\"lab\"}", 1, 1}, {"temp{room=\"attic\"}", 1, 2}, {"cpu_usage", 1, 3}});
  inst.consume({{"temp{room=\"attic\"}", 2, 4}});
  CHECK(
      lab->body ==
      "id: 1\nevent: samples\ndata: {\"samples\":[{\"series\":\"temp{room=\\\"lab\\\"}\",\"ts\":1,\"value\":1}]}\n\n");
  CHECK(lab2->body == lab->body);  // encoded once, the same bytes for both
  CHECK(cpu->body ==
        "id: 1\nevent: samples\ndata: {\"samples\":[{\"series\":\"cpu_usage\",\"ts\":1,\"value\":3}]}\n\n");
  auto bad = host.http("GET", "/api/events?match=temp%7Broom");
  CHECK(bad->status == 400);
  CHECK(bad->finished);
  CHECK(bad->body.find("match") != std::string::npos);
}

TEST_CASE("sse writes a heartbeat comment every heartbeat") {
  vitals::testing::Host host;
  auto inst = host.create(vitals_plugin(), "heartbeat = \"20ms\"");
  REQUIRE(inst.start() == VITALS_OK);
  auto r = host.http("GET", "/api/events");
  host.run_for_ms(70);
  CHECK(r->body.rfind(": ping\n\n: ping\n\n", 0) == 0);
}

TEST_CASE("sse resumes after Last-Event-ID with exactly the missed events, filtered") {
  vitals::testing::Host host;
  auto inst = host.create(vitals_plugin(), "");
  REQUIRE(inst.start() == VITALS_OK);
  for (int i = 1; i <= 5; ++i) inst.consume({{i % 2 ? "odd" : "even", i, double(i)}});

  auto header = host.http("GET", "/api/events", "", {{"last-event-id", "3"}});
  CHECK(ids_of(header->body) == std::vector<std::string>{"4", "5"});
  auto param = host.http("GET", "/api/events?last_event_id=2&match=odd");
  CHECK(ids_of(param->body) == std::vector<std::string>{"3", "5"});
  CHECK(param->body.find("\"series\":\"even\"") == std::string::npos);
  auto fresh = host.http("GET", "/api/events");
  CHECK(fresh->body.empty());
  auto current = host.http("GET", "/api/events", "", {{"last-event-id", "5"}});
  CHECK(current->body.empty());

  inst.consume({{"odd", 7, 7}});
  CHECK(ids_of(header->body) == std::vector<std::string>{"4", "5", "6"});
  CHECK(ids_of(fresh->body) == std::vector<std::string>{"6"});
  CHECK(ids_of(current->body) == std::vector<std::string>{"6"});
}

TEST_CASE("sse sends a reset event when the gap is older than the replay buffer") {
  vitals::testing::Host host;
  auto inst = host.create(vitals_plugin(), "replay_buffer = 2");
  REQUIRE(inst.start() == VITALS_OK);
  for (int i = 1; i <= 5; ++i) inst.consume({{"m", i, double(i)}});
  auto r = host.http("GET", "/api/events", "", {{"last-event-id", "1"}});
  CHECK(r->body.rfind("event: reset\ndata: {\"reason\":\"gap too old\",\"oldest_id\":4}\n\nid: 4\n", 0) == 0);
  CHECK(ids_of(r->body) == std::vector<std::string>{"4", "5"});
  // Just inside the ring: no reset.
  auto inside = host.http("GET", "/api/events", "", {{"last-event-id", "3"}});
  CHECK(inside->body.rfind("id: 4\n", 0) == 0);
  // An id this stream never gave out (the agent restarted): reset, then the ring.
  auto future = host.http("GET", "/api/events?last_event_id=99");
  CHECK(future->body.rfind("event: reset\ndata: {\"reason\":\"unknown id\",\"oldest_id\":4}\n\n", 0) == 0);
  CHECK(ids_of(future->body) == std::vector<std::string>{"4", "5"});
  auto bad = host.http("GET", "/api/events", "", {{"last-event-id", "x1"}});
  CHECK(bad->status == 400);
}

TEST_CASE("sse drops a client that does not keep up and counts it; others go on") {
  vitals::testing::Host host;
  auto inst = host.create(vitals_plugin(), "max_client_buffer = \"1KiB\"");
  REQUIRE(inst.start() == VITALS_OK);
  auto slow = host.http("GET", "/api/events");
  auto fast = host.http("GET", "/api/events");
  slow->buffered_bytes = 2048;
  inst.consume({{"m", 1, 1}});
  CHECK(slow->finished);
  CHECK_FALSE(fast->finished);
  CHECK(host.metric("vitals_sse_clients_dropped_slow_total") == 1);
  CHECK(host.metric("vitals_sse_clients") == 1);
  inst.consume({{"m", 2, 2}});
  CHECK(ids_of(fast->body) == std::vector<std::string>{"1", "2"});
  CHECK(ids_of(slow->body) == std::vector<std::string>{"1"});
}

TEST_CASE("sse forgets clients that went away") {
  vitals::testing::Host host;
  auto inst = host.create(vitals_plugin(), "");
  REQUIRE(inst.start() == VITALS_OK);
  auto a = host.http("GET", "/api/events");
  auto b = host.http("GET", "/api/events");
  a->client_gone = true;
  inst.consume({{"m", 1, 1}});
  CHECK(a->finished);
  CHECK(host.metric("vitals_sse_clients") == 1);
  REQUIRE(static_cast<bool>(b->on_close));
  b->on_close(b->on_close_user);  // the connection closed between batches
  CHECK(b->finished);
  CHECK(host.metric("vitals_sse_clients") == 0);
  CHECK(inst.consume({{"m", 2, 2}}) == VITALS_OK);
}

TEST_CASE("sse answers 503 beyond max_clients") {
  vitals::testing::Host host;
  auto inst = host.create(vitals_plugin(), "max_clients = 1\npath = \"/live\"");
  REQUIRE(inst.start() == VITALS_OK);
  auto first = host.http("GET", "/live");
  auto second = host.http("GET", "/live");
  CHECK(first->status == 200);
  CHECK(second->status == 503);
  CHECK(second->finished);
  CHECK(host.metric("vitals_sse_clients_rejected_total") == 1);
}

TEST_CASE("sse refuses bad settings") {
  vitals::testing::Host host;
  CHECK_THROWS_WITH_AS(host.create(vitals_plugin(), "max_clients = 0"), doctest::Contains("max_clients"),
                       std::runtime_error);
  CHECK_THROWS_WITH_AS(host.create(vitals_plugin(), "path = \"events\""), doctest::Contains("path"),
                       std::runtime_error);
  CHECK_THROWS_WITH_AS(host.create(vitals_plugin(), "replay_buffer = -1"), doctest::Contains("replay_buffer"),
                       std::runtime_error);
}

namespace {
// A batch of n samples of distinct series, about 60 bytes each as JSON.
std::vector<vitals::testing::Sample> big_batch(int n, int64_t ts = 1) {
  std::vector<vitals::testing::Sample> samples;
  for (int i = 0; i < n; ++i) samples.push_back({"m{i=\"" + std::to_string(i) + "\"}", ts, double(i)});
  return samples;
}
}  // namespace

TEST_CASE("sse splits a batch larger than a client's buffer into frames below it; readers stay connected") {
  vitals::testing::Host host;
  auto inst = host.create(vitals_plugin(), "max_client_buffer = \"64KiB\"");
  REQUIRE(inst.start() == VITALS_OK);
  auto a = host.http("GET", "/api/events");
  auto b = host.http("GET", "/api/events?match=m");
  for (auto *r : {a.get(), b.get()}) r->writes_stay_buffered = true;
  // 5,000 samples: about 300 KB of frames, several times the client buffer.
  REQUIRE(inst.consume(big_batch(5000)) == VITALS_OK);
  for (auto *r : {a.get(), b.get()}) {
    CHECK_FALSE(r->finished);
    CHECK(r->body.size() > 200 * 1024);
    std::vector<std::string> ids = ids_of(r->body);
    CHECK(ids.size() > 4);
    // Every frame is below the client buffer; ids are contiguous from 1.
    size_t start = 0;
    for (size_t i = 0; i < ids.size(); ++i) {
      CHECK(ids[i] == std::to_string(i + 1));
      size_t end = r->body.find("\n\n", start) + 2;
      CHECK(end - start < 64 * 1024);
      start = end;
    }
    CHECK(r->body.find("\"series\":\"m{i=\\\"4999\\\"}\"") != std::string::npos);
  }
  CHECK(host.metric("vitals_sse_clients_dropped_slow_total") == 0);
  // A client that read what it got stays; one that read nothing is dropped
  // at the next batch.
  a->buffered_bytes = 0;
  REQUIRE(inst.consume({{"m", 2, 2}}) == VITALS_OK);
  CHECK_FALSE(a->finished);
  CHECK(b->finished);
  CHECK(host.metric("vitals_sse_clients_dropped_slow_total") == 1);
}

TEST_CASE("sse bounds the replay ring in bytes (replay_buffer_bytes)") {
  vitals::testing::Host host;
  auto inst = host.create(vitals_plugin(), "replay_buffer = 100000\nreplay_buffer_bytes = \"64KiB\"");
  REQUIRE(inst.start() == VITALS_OK);
  // Each batch holds about 6 KB of samples (and frames once encoded): 100
  // batches are ten times the byte bound, far below the event count bound.
  for (int i = 0; i < 100; ++i) REQUIRE(inst.consume(big_batch(100, i)) == VITALS_OK);
  auto r = host.http("GET", "/api/events", "", {{"last-event-id", "1"}});
  CHECK(r->body.rfind("event: reset\ndata: {\"reason\":\"gap too old\"", 0) == 0);
  std::vector<std::string> ids = ids_of(r->body);
  CHECK(ids.size() < 50);
  REQUIRE_FALSE(ids.empty());
  CHECK(ids.back() == "100");
  CHECK(host.metric("vitals_sse_replay_bytes") <= 64 * 1024);
  CHECK_THROWS_WITH_AS(host.create(vitals_plugin(), "replay_buffer_bytes = 0"),
                       doctest::Contains("replay_buffer_bytes"), std::runtime_error);
}
