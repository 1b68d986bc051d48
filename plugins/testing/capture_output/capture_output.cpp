// Test-only output: appends "<series> <ts_ns> <value>" per sample (and
// "event <source> <message> key=value..." per event) to `path`, flushed per batch, so an
// integration test can read exactly what reached a sink. Knobs make it slow
// or failing to exercise queues and acknowledgements, or answer pending and
// complete in flush() as a storage's group commit does.
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "vitals/plugin.hpp"
#include "vitals/settings.hpp"

namespace {

class CaptureOutput final : public vitals::Output {
 public:
  struct Settings {
    std::string path;
    std::chrono::nanoseconds consume_delay{};
    bool fail = false;
    bool complete_in_flush = false;
  };
  static constexpr auto schema = vitals::settings<Settings>(
      vitals::key("path", &Settings::path, nullptr, "file to append to (relative: under the data dir)"),
      vitals::key("consume_delay", &Settings::consume_delay, "\"0s\"", "sleep per batch (a slow sink)"),
      vitals::key("fail", &Settings::fail, "false", "fail every batch"),
      vitals::key("complete_in_flush", &Settings::complete_in_flush, "false",
                  "answer pending and complete every batch in flush() (group commit)"));
  static constexpr uint64_t flags = VITALS_FLAG_CONSUME_ON_THREAD;

  CaptureOutput(vitals::Host host, const vitals::Config &config) : Output(host), settings_(schema.read(config)) {
    std::string path = settings_.path;
    if (!path.empty() && path[0] != '/') path = host.data_dir() + "/" + path;
    file_ = std::fopen(path.c_str(), "ae");
    if (!file_) throw std::runtime_error("cannot open " + path);
  }
  ~CaptureOutput() override {
    if (file_) std::fclose(file_);
  }

  vitals::Status consume(const vitals::BatchView &batch, vitals_ack_t *ack) override {
    if (settings_.consume_delay.count()) std::this_thread::sleep_for(settings_.consume_delay);
    if (settings_.fail) throw std::runtime_error("capture_output told to fail");
    for (size_t i = 0; i < batch.size(); ++i) {
      const vitals_series_t *s = host().series(batch.series(i));
      std::fprintf(file_, "%s %lld %.17g\n", s ? s->text : "?", static_cast<long long>(batch.ts_ns(i)), batch.value(i));
    }
    for (size_t i = 0; i < batch.event_count(); ++i) {
      const vitals_event_t &e = batch.event(i);
      std::fprintf(file_, "event %s %s", e.source, e.message);
      for (uint32_t k = 0; k < e.n_labels; ++k) std::fprintf(file_, " %s=%s", e.labels[k].key, e.labels[k].value);
      std::fputc('\n', file_);
    }
    if (settings_.complete_in_flush) {
      owed_.push_back(ack);
      return vitals::Status::pending;
    }
    std::fflush(file_);
    return vitals::Status::ok;
  }

  void flush() override {
    std::fflush(file_);
    for (vitals_ack_t *ack : owed_) host().complete(ack, vitals::Status::ok);
    owed_.clear();
  }

 private:
  Settings settings_;
  FILE *file_ = nullptr;
  std::vector<vitals_ack_t *> owed_;  // complete_in_flush: batches answered pending
};

}  // namespace

VITALS_PLUGIN(CaptureOutput, "capture_output", "1.0.0", "Test-only sink that appends samples to a file")
