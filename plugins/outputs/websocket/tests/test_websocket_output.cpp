// Behaviour of the websocket output through the in-process test host:
// the protocol (hello, subscribe/unsubscribe, snapshot, live samples,
// events, errors), one encoding per distinct subscription set, batching per
// frame_interval, slow clients coalesced then dropped, and limits.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "vitals/testing.hpp"

extern "C" const vitals_plugin_t *vitals_plugin(void);

namespace {

using vitals::testing::TestWebSocket;

// Connects a client; the test host accepts every request as a handshake.
std::shared_ptr<TestWebSocket> connect(vitals::testing::Host &host) {
  auto r = host.http("GET", "/api/stream");
  REQUIRE(r->status == 101);
  REQUIRE(r->websocket);
  return r->websocket;
}

// Text messages received after the first `skip`.
std::vector<std::string> since(const TestWebSocket &ws, size_t skip) {
  auto all = ws.texts();
  return {all.begin() + static_cast<long>(std::min(skip, all.size())), all.end()};
}

const char *instant = "frame_interval = \"0s\"\n";

}  // namespace

TEST_CASE("websocket greets, confirms subscriptions and streams matching samples") {
  vitals::testing::Host host;
  auto inst = host.create(vitals_plugin(), instant);
  REQUIRE(inst.start() == VITALS_OK);
  auto ws = connect(host);
  REQUIRE(ws->texts().size() == 1);
  CHECK(ws->texts()[0] == R"({"type":"hello","protocol":1,"frame_interval_ms":0})");
  ws->receive(R"({"subscribe":["cpu_*","temp{room=\"lab\"}"]})");
  REQUIRE(ws->texts().size() == 2);
  CHECK(ws->texts()[1] == R"({"type":"subscribed","subscriptions":["cpu_*","temp{room=\"lab\"}"]})");
  CHECK(inst.consume({{"cpu_usage", 1000, 12.5},
                      {"mem_used", 1000, 7},
                      {"temp{room=\"lab\"}", 1000, 21.5},
                      {"temp{room=\"attic\"}", 1000, 30}}) == VITALS_OK);
  auto got = since(*ws, 2);
  REQUIRE(got.size() == 1);
  CHECK(got[0] == R"({"type":"samples","samples":[{"series":"cpu_usage","ts":1000,"value":12.5},)"
                  R"({"series":"temp{room=\"lab\"}","ts":1000,"value":21.5}],"coalesced":false})");
  // Samples that match nothing the client holds send nothing.
  CHECK(inst.consume({{"mem_used", 2000, 8}}) == VITALS_OK);
  CHECK(since(*ws, 3).empty());
}

TEST_CASE("subscribing sends the current value of each newly matching series") {
  vitals::testing::Host host;
  auto inst = host.create(vitals_plugin(), instant);
  REQUIRE(inst.start() == VITALS_OK);
  CHECK(inst.consume({{"cpu_usage", 1000, 1}, {"cpu_usage", 3000, 3}, {"disk_free", 1000, 50}}) == VITALS_OK);
  CHECK(inst.consume({{"cpu_usage", 2000, 2}}) == VITALS_OK);  // late: not the current value
  auto ws = connect(host);
  ws->receive(R"({"subscribe":"cpu_*"})");
  auto got = since(*ws, 1);
  REQUIRE(got.size() == 2);
  CHECK(got[1] == R"({"type":"snapshot","samples":[{"series":"cpu_usage","ts":3000,"value":3}]})");
  // A second subscription snapshots only what it adds.
  ws->receive(R"({"subscribe":["disk_*","cpu_usage"]})");
  got = since(*ws, 3);
  REQUIRE(got.size() == 2);
  CHECK(got[0] == R"({"type":"subscribed","subscriptions":["cpu_*","disk_*","cpu_usage"]})");
  CHECK(got[1] == R"({"type":"snapshot","samples":[{"series":"disk_free","ts":1000,"value":50}]})");
}

TEST_CASE("unsubscribe stops a selector; bad requests get an error and change nothing") {
  vitals::testing::Host host;
  auto inst = host.create(vitals_plugin(), instant);
  REQUIRE(inst.start() == VITALS_OK);
  auto ws = connect(host);
  ws->receive(R"({"subscribe":["cpu_*","mem_*"]})");
  ws->receive(R"({"unsubscribe":["mem_*"]})");
  CHECK(ws->texts().back() == R"({"type":"subscribed","subscriptions":["cpu_*"]})");
  size_t before = ws->texts().size();
  ws->receive(R"({"subscribe":["temp{room=~\"(\"}"]})");
  ws->receive("not json");
  ws->receive(R"({"subscribe":[1,2]})");
  ws->receive(R"({"subscrbe":["x"]})");
  ws->receive("binary", VITALS_WS_BINARY);
  auto errors = since(*ws, before);
  REQUIRE(errors.size() == 5);
  for (const auto &e : errors) CHECK(e.rfind(R"({"type":"error","error":)", 0) == 0);
  CHECK(errors[0].find("subscribe: \\\"temp{room=~") != std::string::npos);
  CHECK(errors[3].find("unknown key \\\"subscrbe\\\"") != std::string::npos);
  CHECK(errors[4].find("expected a JSON text message") != std::string::npos);
  CHECK(inst.consume({{"mem_used", 1000, 1}, {"cpu_usage", 1000, 2}}) == VITALS_OK);
  CHECK(ws->texts().back() ==
        R"({"type":"samples","samples":[{"series":"cpu_usage","ts":1000,"value":2}],"coalesced":false})");
  // Unsubscribing from everything stops the stream.
  ws->receive(R"({"unsubscribe":"cpu_*"})");
  CHECK(ws->texts().back() == R"({"type":"subscribed","subscriptions":[]})");
  size_t n = ws->texts().size();
  CHECK(inst.consume({{"cpu_usage", 2000, 3}}) == VITALS_OK);
  CHECK(ws->texts().size() == n);
}

TEST_CASE("a message is encoded once per distinct subscription set, whatever the number of clients") {
  vitals::testing::Host host;
  auto inst = host.create(vitals_plugin(), instant);
  REQUIRE(inst.start() == VITALS_OK);
  std::vector<std::shared_ptr<TestWebSocket>> a, b;
  for (int i = 0; i < 20; ++i) {
    a.push_back(connect(host));
    a.back()->receive(R"({"subscribe":["cpu_*","mem_*"]})");
    b.push_back(connect(host));
    b.back()->receive(R"({"subscribe":["mem_*"]})");
  }
  a[0]->receive(R"({"subscribe":["mem_*","cpu_*"]})");  // the same set in another order
  size_t frames_before = host.ws_frames_created();
  CHECK(inst.consume({{"cpu_usage", 1000, 1}, {"mem_used", 1000, 2}}) == VITALS_OK);
  CHECK(host.ws_frames_created() - frames_before == 2);
  for (auto &ws : a) CHECK(ws->texts().back().find("cpu_usage") != std::string::npos);
  for (auto &ws : b) CHECK(ws->texts().back().find("cpu_usage") == std::string::npos);
  CHECK(host.metric("vitals_websocket_frames_encoded_total") == 2);
  CHECK(host.metric("vitals_websocket_clients") == 40);
}

TEST_CASE("samples within frame_interval share one message; the first after a pause goes at once") {
  vitals::testing::Host host;
  auto inst = host.create(vitals_plugin(), "frame_interval = \"50ms\"\n");
  REQUIRE(inst.start() == VITALS_OK);
  auto ws = connect(host);
  ws->receive(R"({"subscribe":"*"})");
  size_t base = ws->texts().size();
  CHECK(inst.consume({{"a", 1, 1}}) == VITALS_OK);
  CHECK(ws->texts().size() == base + 1);  // at once
  CHECK(inst.consume({{"b", 2, 2}}) == VITALS_OK);
  CHECK(inst.consume({{"c", 3, 3}}) == VITALS_OK);
  CHECK(ws->texts().size() == base + 1);  // held for the window
  host.run_for_ms(120);
  auto got = since(*ws, base + 1);
  REQUIRE(got.size() == 1);
  CHECK(got[0] == R"({"type":"samples","samples":[{"series":"b","ts":2,"value":2},{"series":"c","ts":3,"value":3}],)"
                  R"("coalesced":false})");
}

TEST_CASE("events go to every client") {
  vitals::testing::Host host;
  auto inst = host.create(vitals_plugin(), instant);
  REQUIRE(inst.start() == VITALS_OK);
  auto subscribed = connect(host);
  subscribed->receive(R"({"subscribe":"cpu_*"})");
  auto idle = connect(host);
  vitals::Batch batch;
  batch.add_event(5000, VITALS_SEVERITY_WARNING, "alerting", "temperature \"high\"", {{"room", "attic"}});
  CHECK(inst.plugin()->consume(inst.raw(), &batch.view(), nullptr) == VITALS_OK);
  const char *expected =
      R"({"type":"event","ts":5000,"severity":"warning","source":"alerting","message":"temperature \"high\"",)"
      R"("labels":{"room":"attic"}})";
  CHECK(subscribed->texts().back() == expected);
  CHECK(idle->texts().back() == expected);
}

TEST_CASE(
    "a slow client gets coalesced updates, catches up with the latest values, and is dropped if it stays behind") {
  vitals::testing::Host host;
  auto inst = host.create(vitals_plugin(),
                          "frame_interval = \"0s\"\nmax_client_buffer = \"1KiB\"\n"
                          "slow_client_timeout = \"100ms\"\n");
  REQUIRE(inst.start() == VITALS_OK);
  auto slow = connect(host);
  auto fast = connect(host);
  slow->receive(R"({"subscribe":"*"})");
  fast->receive(R"({"subscribe":"*"})");
  size_t slow_base = slow->texts().size(), fast_base = fast->texts().size();
  slow->buffered_bytes = 4096;  // not reading
  for (int i = 1; i <= 5; ++i) CHECK(inst.consume({{"x", i, double(i)}, {"y", i, double(-i)}}) == VITALS_OK);
  CHECK(slow->texts().size() == slow_base);      // nothing piles up behind it
  CHECK(fast->texts().size() == fast_base + 5);  // the fast one never waits
  CHECK(host.metric("vitals_websocket_clients_coalesced_total") == 1);
  slow->buffered_bytes = 0;  // it caught up
  CHECK(inst.consume({{"z", 6, 6}}) == VITALS_OK);
  auto got = since(*slow, slow_base);
  // One message with the latest value of each series it missed, z included
  // (it arrived while the client was still marked behind).
  // They come in series id order, and ids are the agent's (a hash of the
  // series text, as the test host gives them too): any order of the three.
  REQUIRE(got.size() == 1);
  const std::string head = R"({"type":"samples","samples":[)", tail = R"(],"coalesced":true})";
  const std::vector<std::string> latest = {R"({"series":"x","ts":5,"value":5})", R"({"series":"y","ts":5,"value":-5})",
                                           R"({"series":"z","ts":6,"value":6})"};
  CHECK(got[0].starts_with(head));
  CHECK(got[0].ends_with(tail));
  CHECK(got[0].size() == head.size() + latest[0].size() + latest[1].size() + latest[2].size() + 2 + tail.size());
  for (const auto &sample : latest) CHECK_MESSAGE(got[0].find(sample) != std::string::npos, sample);
  CHECK(inst.consume({{"z", 7, 7}}) == VITALS_OK);  // and then live again
  CHECK(slow->texts().back() == R"({"type":"samples","samples":[{"series":"z","ts":7,"value":7}],"coalesced":false})");
  // Behind again, and for longer than slow_client_timeout: dropped.
  slow->buffered_bytes = 4096;
  CHECK(inst.consume({{"x", 8, 8}}) == VITALS_OK);
  host.run_for_ms(250);
  CHECK(slow->closed_by_plugin);
  CHECK(slow->close_code == 1008);
  CHECK(host.metric("vitals_websocket_clients_dropped_slow_total") == 1);
  CHECK(fast->open());
  CHECK(host.metric("vitals_websocket_clients") == 1);
}

TEST_CASE("limits: max_clients answers 503, max_subscriptions refuses more selectors") {
  vitals::testing::Host host;
  auto inst = host.create(vitals_plugin(), "max_clients = 2\nmax_subscriptions = 2\n");
  REQUIRE(inst.start() == VITALS_OK);
  auto one = connect(host);
  auto two = connect(host);
  auto three = host.http("GET", "/api/stream");
  CHECK(three->status == 503);
  CHECK(three->body.find("max_clients") != std::string::npos);
  CHECK(host.metric("vitals_websocket_clients_rejected_total") == 1);
  one->receive(R"({"subscribe":["a","b","c"]})");
  CHECK(one->texts().back().find("at most 2 selectors") != std::string::npos);
  // A client that leaves frees its slot.
  two->disconnect();
  CHECK(host.http("GET", "/api/stream")->status == 101);
}

TEST_CASE("stop closes every connection as going away") {
  vitals::testing::Host host;
  auto inst = host.create(vitals_plugin(), "");
  REQUIRE(inst.start() == VITALS_OK);
  auto ws = connect(host);
  CHECK(inst.stop() == VITALS_OK);
  CHECK(ws->closed_by_plugin);
  CHECK(ws->close_code == 1001);
}

TEST_CASE("bad configuration is refused with the key named") {
  vitals::testing::Host host;
  for (const char *bad :
       {"path = \"api\"", "max_clients = 0", "max_client_buffer = 0", "slow_client_timeout = \"0s\"",
        "max_subscriptions = 0", "max_subscription_sets = 0", "match_cache_entries = 0", "max_series = -1"}) {
    CAPTURE(bad);
    std::string key = std::string(bad).substr(0, std::string(bad).find(' '));
    CHECK_THROWS_WITH_AS(host.create(vitals_plugin(), bad), doctest::Contains(key.c_str()), std::runtime_error);
  }
  // Ranges are the schema's, so the host refuses them before create() (as `vitals check` does), with the line.
  CHECK_THROWS_WITH_AS(vitals::testing::Host::check_config(vitals_plugin(), "\nmax_clients = 0"),
                       "line 2: 'max_clients' must be at least 1 (got 0)", std::runtime_error);
  // The old name of the limit is refused, not ignored.
  CHECK_THROWS_WITH_AS(host.create(vitals_plugin(), "max_connections = 5"), doctest::Contains("unknown key"),
                       std::runtime_error);
}

namespace {
// The samples of every message of `type` among `texts`, counted by series.
size_t count_samples(const std::vector<std::string> &texts, const std::string &type) {
  size_t n = 0;
  for (const auto &t : texts) {
    if (t.find("\"type\":\"" + type + "\"") == std::string::npos) continue;
    for (size_t at = t.find("\"series\":"); at != std::string::npos; at = t.find("\"series\":", at + 1)) ++n;
  }
  return n;
}
}  // namespace

TEST_CASE("a snapshot of many series goes out in slices over several loop turns") {
  vitals::testing::Host host;
  auto inst = host.create(vitals_plugin(), instant);
  REQUIRE(inst.start() == VITALS_OK);
  std::vector<vitals::testing::Sample> samples;
  for (int i = 0; i < 20'000; ++i) samples.push_back({"m{i=\"" + std::to_string(i) + "\"}", 1000, double(i)});
  REQUIRE(inst.consume(samples) == VITALS_OK);
  auto ws = connect(host);
  ws->receive(R"({"subscribe":"m"})");
  // The subscribe handler scans a bounded slice of the series, not all of them.
  size_t first_turn = count_samples(ws->texts(), "snapshot");
  CHECK(first_turn > 0);
  CHECK(first_turn <= 4096);
  // The rest follows on later turns (a few ms each; generous under sanitizers).
  for (int i = 0; i < 100 && count_samples(ws->texts(), "snapshot") < 20'000; ++i) host.run_for_ms(50);
  CHECK(count_samples(ws->texts(), "snapshot") == 20'000);
}

TEST_CASE("limits: max_subscription_sets bounds the distinct selector sets, with a refusal to the client") {
  vitals::testing::Host host;
  auto inst = host.create(vitals_plugin(), std::string(instant) + "max_subscription_sets = 2\n");
  REQUIRE(inst.start() == VITALS_OK);
  auto a = connect(host), b = connect(host), c = connect(host);
  a->receive(R"({"subscribe":"a"})");
  b->receive(R"({"subscribe":"b"})");
  c->receive(R"({"subscribe":"c"})");
  CHECK(c->texts().back().find("\"type\":\"error\"") != std::string::npos);
  CHECK(c->texts().back().find("max_subscription_sets") != std::string::npos);
  c->receive(R"({"subscribe":"a"})");  // a set in use costs nothing more
  CHECK(c->texts().back() == R"({"type":"subscribed","subscriptions":["a"]})");
  b->disconnect();
  CHECK(inst.consume({{"a", 1, 1}}) == VITALS_OK);
  c->receive(R"({"subscribe":"d"})");  // b's set is gone: room again
  CHECK(c->texts().back() == R"({"type":"subscribed","subscriptions":["a","d"]})");
}

TEST_CASE("limits: a subscription set's match cache holds at most match_cache_entries series") {
  vitals::testing::Host host;
  auto inst = host.create(vitals_plugin(), std::string(instant) + "match_cache_entries = 256\n");
  REQUIRE(inst.start() == VITALS_OK);
  std::vector<std::shared_ptr<TestWebSocket>> clients;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(connect(host));
    clients.back()->receive(R"({"subscribe":"m{i=~\".*)" + std::to_string(i) + R"(\"}"})");
  }
  std::vector<vitals::testing::Sample> samples;
  for (int i = 0; i < 10'000; ++i) samples.push_back({"m{i=\"" + std::to_string(i) + "\"}", 2000, double(i)});
  REQUIRE(inst.consume(samples) == VITALS_OK);
  // Matching is still right past the cache's size...
  for (int i = 0; i < 4; ++i) CHECK(count_samples(clients[i]->texts(), "samples") == 1000);
  // ...and the caches of the four sets stay within their bound.
  double bytes = host.metric("vitals_websocket_match_cache_bytes");
  CHECK(bytes > 0);
  CHECK(bytes <= 4 * 256 * 16);
}

TEST_CASE(
    "a client that does not read gets no more snapshot than max_client_buffer and a slice, however often it "
    "subscribes") {
  vitals::testing::Host host;
  auto inst = host.create(vitals_plugin(), std::string(instant) + "max_client_buffer = \"64KiB\"\n");
  REQUIRE(inst.start() == VITALS_OK);
  std::vector<vitals::testing::Sample> samples;
  for (int i = 0; i < 20'000; ++i) samples.push_back({"m{i=\"" + std::to_string(i) + "\"}", 1000, double(i)});
  REQUIRE(inst.consume(samples) == VITALS_OK);  // a full snapshot is ~700 KB
  auto ws = connect(host);
  ws->writes_stay_buffered = true;
  // 30 subscribes to everything, each given time to send its snapshot:
  // 20 MB if every one were queued.
  size_t most = 0;
  for (int i = 0; i < 30; ++i) {
    ws->receive(R"({"unsubscribe":["*"]})");
    ws->receive(R"({"subscribe":["*"]})");
    host.run_for_ms(10);
    most = std::max(most, ws->buffered_bytes);
  }
  INFO("queued for the client: " << most << " bytes");
  // max_client_buffer, one slice of 4096 series (~170 KB) and the replies.
  CHECK(most < 64 * 1024 + 256 * 1024);
  CHECK(inst.stats()["buffered_bytes"] == double(ws->buffered_bytes));
  // Once it reads, the snapshot of its last subscription completes.
  size_t since_subscribed = ws->texts().size();
  while (since_subscribed > 0 && ws->texts()[since_subscribed - 1].find("\"subscribed\"") == std::string::npos)
    --since_subscribed;
  ws->writes_stay_buffered = false;
  ws->buffered_bytes = 0;
  auto snapshot = [&] { return count_samples(since(*ws, since_subscribed), "snapshot"); };
  for (int i = 0; i < 100 && snapshot() < 20'000; ++i) host.run_for_ms(50);
  CHECK(snapshot() == 20'000);
  CHECK(ws->open());
}

TEST_CASE("a client stuck behind its snapshot is dropped after slow_client_timeout, even with no live samples") {
  vitals::testing::Host host;
  auto inst = host.create(vitals_plugin(),
                          std::string(instant) + "max_client_buffer = \"1KiB\"\nslow_client_timeout = \"100ms\"\n");
  REQUIRE(inst.start() == VITALS_OK);
  std::vector<vitals::testing::Sample> samples;
  for (int i = 0; i < 10'000; ++i) samples.push_back({"m{i=\"" + std::to_string(i) + "\"}", 1000, double(i)});
  REQUIRE(inst.consume(samples) == VITALS_OK);
  auto ws = connect(host);
  ws->writes_stay_buffered = true;
  ws->receive(R"({"subscribe":"*"})");
  for (int i = 0; i < 100 && ws->open(); ++i) host.run_for_ms(20);
  CHECK(ws->closed_by_plugin);
  CHECK(ws->close_code == 1008);
  CHECK(host.metric("vitals_websocket_clients_dropped_slow_total") == 1);
  CHECK(count_samples(ws->texts(), "snapshot") < 10'000);
}
