// The engine with in-process plugins: fan-out, processors, overflow policies,
// failures and end-to-end acknowledgement, on a real libuv loop.
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "config_check.hpp"
#include "pipeline.hpp"
#include "scheduler.hpp"
#include "vitals/plugin.hpp"

using namespace vitals::core;

namespace {

// A push input the test drives directly.
class Source;
Source *g_source = nullptr;
class Source final : public vitals::PushInput {
 public:
  Source(vitals::Host host, const vitals::Config &) : PushInput(host) { g_source = this; }
  ~Source() override { g_source = nullptr; }
  // Emits one batch of `n` samples of series `name`; on_ack records the outcome.
  int send(const std::string &name, int n, std::function<void(int, std::string_view)> on_ack = {}) {
    vitals::Batch b;
    auto id = host().intern(name);
    for (int i = 0; i < n; ++i) b.add(id, i, i);
    return host().emit(b, std::move(on_ack));
  }
  void start() override {}
};

// A sink whose behaviour the config picks: ok, fail or pending.
struct SinkLog {
  std::vector<std::string> series;
  std::vector<vitals_ack_t *> pending;
  const vitals_host_t *host = nullptr;
};
std::map<std::string, SinkLog> g_sinks;

class Sink : public vitals::Output {
 public:
  static constexpr vitals_config_field_t config_fields[] = {
      {"mode", VITALS_CONFIG_STRING, 0, "\"ok\"", "ok, fail or pending", {}},
  };
  Sink(vitals::Host host, const vitals::Config &config) : Output(host), mode_(config.string("mode")) {
    g_sinks[host.instance_id()].host = host.raw();
  }
  vitals::Status consume(const vitals::BatchView &batch, vitals_ack_t *ack) override {
    auto &log = g_sinks[host().instance_id()];
    for (size_t i = 0; i < batch.size(); ++i) log.series.push_back(host().series(batch.series(i))->text);
    if (mode_ == "fail") throw std::runtime_error("sink told to fail");
    if (mode_ == "pending") {
      log.pending.push_back(ack);
      return vitals::Status::pending;
    }
    return vitals::Status::ok;
  }

 private:
  std::string mode_;
};

class ThreadSink final : public Sink {
 public:
  using Sink::Sink;
  static constexpr uint64_t flags = VITALS_FLAG_CONSUME_ON_THREAD;
};

// Splits every batch into one batch per sample (a processor that fans out).
class Splitter final : public vitals::Processor {
 public:
  Splitter(vitals::Host host, const vitals::Config &) : Processor(host) {}
  vitals::Status consume(const vitals::BatchView &batch, vitals_ack_t *) override {
    for (size_t i = 0; i < batch.size(); ++i) {
      vitals::Batch one;
      one.add(batch.series(i), batch.ts_ns(i), batch.value(i));
      host().emit(one);
    }
    return vitals::Status::ok;
  }
};

template <typename T>
std::shared_ptr<LoadedPlugin> in_process(const char *name) {
  auto p = std::make_shared<LoadedPlugin>();
  p->descriptor = vitals::detail::make_descriptor<T>(name, "1", "test");
  p->name = name;
  p->path = std::string("(in-process)/") + name;
  return p;
}

struct Harness {
  uv_loop_t loop{};
  SeriesRegistry series;
  MetricsRegistry metrics;
  std::unique_ptr<Pipeline> pipeline;
  PluginCatalog catalog;

  Harness() {
    uv_loop_init(&loop);
    g_sinks.clear();
    catalog.add(in_process<Source>("source"));
    catalog.add(in_process<Sink>("sink"));
    catalog.add(in_process<ThreadSink>("thread_sink"));
    catalog.add(in_process<Splitter>("splitter"));
  }
  ~Harness() {
    if (pipeline && pipeline->ready()) {
      bool done = false;
      pipeline->shutdown(1'000'000'000, [&](bool) { done = true; });
      run_until([&] { return done; });
    }
    pipeline.reset();
    uv_run(&loop, UV_RUN_NOWAIT);
    uv_loop_close(&loop);
  }

  void start(const std::string &toml) {
    Config config;
    Diagnostics diags;
    load_config_text(toml, "test.toml", config, diags);
    CheckedConfig checked = check_config(std::move(config), catalog, diags);
    std::string all;
    for (const auto &d : diags.items()) all += d.to_string() + "\n";
    INFO(all);
    REQUIRE_FALSE(diags.has_errors());
    pipeline = std::make_unique<Pipeline>(&loop, series, metrics, "/tmp");
    REQUIRE(pipeline->start(checked, diags));
  }

  template <typename Pred>
  bool run_until(Pred done, int max_ms = 2000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(max_ms);
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      uv_run(&loop, UV_RUN_NOWAIT);
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return done();
  }

  double metric(const std::string &name, const std::string &component) {
    double v = -1;
    metrics.for_each([&](const SelfMetric &m) {
      for (const auto &[k, val] : m.labels())
        if (k == "component" && val == component && m.name() == name) v = m.value();
    });
    return v;
  }
};

struct AckResult {
  int calls = 0;
  int status = 12345;
  std::string error;
  std::function<void(int, std::string_view)> fn() {
    return [this](int s, std::string_view e) {
      ++calls;
      status = s;
      error = e;
    };
  }
};

}  // namespace

TEST_CASE("fan-out: the ack fires once, after every sink committed") {
  Harness h;
  h.start(R"(
[input.src]
plugin = "source"
[output.a]
plugin = "sink"
inputs = ["src"]
[output.b]
plugin = "thread_sink"
inputs = ["src"]
)");
  AckResult ack;
  REQUIRE(g_source->send("m", 3, ack.fn()) == VITALS_OK);
  CHECK(ack.calls == 0);  // nothing is committed synchronously
  REQUIRE(h.run_until([&] { return ack.calls > 0; }));
  h.run_until([] { return false; }, 20);
  CHECK(ack.calls == 1);
  CHECK(ack.status == VITALS_OK);
  CHECK(g_sinks["a"].series.size() == 3);
  CHECK(g_sinks["b"].series.size() == 3);
}

TEST_CASE("a failing sink fails the ack with its reason, and is counted") {
  Harness h;
  h.start(R"(
[input.src]
plugin = "source"
[output.good]
plugin = "sink"
inputs = ["src"]
[output.bad]
plugin = "sink"
inputs = ["src"]
mode = "fail"
)");
  AckResult ack;
  g_source->send("m", 1, ack.fn());
  REQUIRE(h.run_until([&] { return ack.calls > 0; }));
  CHECK(ack.status == VITALS_ERROR);
  CHECK(ack.error.find("sink told to fail") != std::string::npos);
  CHECK(h.metric("vitals_component_errors_total", "bad") == 1);
  CHECK(g_sinks["good"].series.size() == 1);
}

TEST_CASE("a pending sink holds the ack until it completes") {
  Harness h;
  h.start(R"(
[input.src]
plugin = "source"
[output.slow]
plugin = "sink"
inputs = ["src"]
mode = "pending"
)");
  AckResult ack;
  g_source->send("m", 2, ack.fn());
  REQUIRE(h.run_until([&] { return !g_sinks["slow"].pending.empty(); }));
  h.run_until([] { return false; }, 20);
  CHECK(ack.calls == 0);
  auto &sink = g_sinks["slow"];
  sink.host->complete(sink.host->ctx, sink.pending[0], VITALS_OK, nullptr);
  REQUIRE(h.run_until([&] { return ack.calls > 0; }));
  CHECK(ack.status == VITALS_OK);
}

TEST_CASE("acks follow data through a processor that splits batches") {
  Harness h;
  h.start(R"(
[input.src]
plugin = "source"
[processor.split]
plugin = "splitter"
inputs = ["src"]
[output.slow]
plugin = "sink"
inputs = ["split"]
mode = "pending"
)");
  AckResult ack;
  g_source->send("m", 3, ack.fn());
  auto &sink = g_sinks["slow"];
  REQUIRE(h.run_until([&] { return sink.pending.size() == 3; }));
  sink.host->complete(sink.host->ctx, sink.pending[0], VITALS_OK, nullptr);
  sink.host->complete(sink.host->ctx, sink.pending[1], VITALS_OK, nullptr);
  h.run_until([] { return false; }, 20);
  CHECK(ack.calls == 0);  // one split batch is still uncommitted
  sink.host->complete(sink.host->ctx, sink.pending[2], VITALS_OK, nullptr);
  REQUIRE(h.run_until([&] { return ack.calls > 0; }));
  CHECK(ack.status == VITALS_OK);
  CHECK(ack.calls == 1);
}

TEST_CASE("drop_oldest evicts, counts the drops and fails their acks") {
  Harness h;
  h.start(R"(
[input.src]
plugin = "source"
[output.small]
plugin = "sink"
inputs = ["src"]
queue = { capacity = 4, overflow = "drop_oldest" }
)");
  std::vector<AckResult> acks(5);
  // No loop turn between sends: the queue cannot drain.
  for (auto &a : acks) REQUIRE(g_source->send("m", 2, a.fn()) == VITALS_OK);
  REQUIRE(h.run_until([&] { return acks.back().calls > 0; }));
  h.run_until([] { return false; }, 20);
  CHECK(h.metric("vitals_component_dropped_samples_total", "small") == 6);
  for (int i = 0; i < 3; ++i) CHECK(acks[i].status == VITALS_ERROR);
  CHECK(acks[3].status == VITALS_OK);
  CHECK(acks[4].status == VITALS_OK);
  CHECK(g_sinks["small"].series.size() == 4);
}

TEST_CASE("drop_newest keeps the queue and drops what arrives") {
  Harness h;
  h.start(R"(
[input.src]
plugin = "source"
[output.small]
plugin = "sink"
inputs = ["src"]
queue = { capacity = 4, overflow = "drop_newest" }
)");
  std::vector<AckResult> acks(3);
  for (auto &a : acks) g_source->send("m", 2, a.fn());
  REQUIRE(h.run_until([&] { return acks[0].calls && acks[1].calls && acks[2].calls; }));
  CHECK(acks[0].status == VITALS_OK);
  CHECK(acks[1].status == VITALS_OK);
  CHECK(acks[2].status == VITALS_ERROR);
  CHECK(h.metric("vitals_component_dropped_samples_total", "small") == 2);
}

TEST_CASE("block refuses a push emit with AGAIN and loses nothing") {
  Harness h;
  h.start(R"(
[input.src]
plugin = "source"
[output.small]
plugin = "sink"
inputs = ["src"]
queue = { capacity = 4, overflow = "block" }
)");
  CHECK(g_source->send("m", 3) == VITALS_OK);
  bool called = false;
  CHECK(g_source->send("m", 3, [&](int, std::string_view) { called = true; }) == VITALS_AGAIN);
  REQUIRE(h.run_until([&] { return g_sinks["small"].series.size() == 3; }));
  CHECK(g_source->send("m", 3) == VITALS_OK);  // room again once drained
  REQUIRE(h.run_until([&] { return g_sinks["small"].series.size() == 6; }));
  CHECK_FALSE(called);  // a refused emit never calls back
  CHECK(h.metric("vitals_component_dropped_samples_total", "small") == 0);
}

TEST_CASE("match filters what a consumer receives") {
  Harness h;
  h.start(R"(
[input.src]
plugin = "source"
[output.temps]
plugin = "sink"
inputs = ["src"]
match = "temp_*"
)");
  AckResult a, b;
  g_source->send("temp_lab", 1, a.fn());
  g_source->send("humidity", 1, b.fn());
  REQUIRE(h.run_until([&] { return a.calls && b.calls; }));
  CHECK(g_sinks["temps"].series == std::vector<std::string>{"temp_lab"});
  CHECK(b.status == VITALS_OK);  // nothing received it: vacuously committed
}

TEST_CASE("shutdown drains queued data into sinks before stopping") {
  Harness h;
  h.start(R"(
[input.src]
plugin = "source"
[output.t]
plugin = "thread_sink"
inputs = ["src"]
)");
  for (int i = 0; i < 100; ++i) g_source->send("m", 10);
  bool done = false, drained = false;
  h.pipeline->shutdown(2'000'000'000, [&](bool d) {
    done = true;
    drained = d;
  });
  REQUIRE(h.run_until([&] { return done; }));
  CHECK(drained);
  CHECK(g_sinks["t"].series.size() == 1000);
}

TEST_CASE("reload keeps unchanged components and restarts changed ones") {
  Harness h;
  std::string base = R"(
[input.src]
plugin = "source"
[output.a]
plugin = "sink"
inputs = ["src"]
[output.b]
plugin = "sink"
inputs = ["src"]
)";
  h.start(base);
  Component *a_before = h.pipeline->find("a");
  Config config;
  Diagnostics diags;
  load_config_text(base + "mode = \"ok\"\n", "test.toml", config, diags);
  CheckedConfig checked = check_config(std::move(config), h.catalog, diags);
  ReloadReport report;
  REQUIRE(h.pipeline->reload(checked, diags, report));
  CHECK(h.pipeline->find("a") == a_before);
  CHECK(report.started == std::vector<std::string>{"b"});
  CHECK(report.stopped == std::vector<std::string>{"b"});
  AckResult ack;
  g_source->send("m", 1, ack.fn());
  REQUIRE(h.run_until([&] { return ack.calls > 0; }));
  CHECK(ack.status == VITALS_OK);
}
