// testing.hpp alone: the in-process host, with a plugin driven through it.
#include "vitals/testing.hpp"

namespace {

class Probe final : public vitals::Input {
 public:
  Probe(vitals::Host host, const vitals::Config &) : Input(host), series_(host.intern("probe")) {}
  void collect(int64_t now_ns) override {
    vitals::Batch batch;
    batch.add(series_, now_ns, 1);
    host().emit(batch);
  }

 private:
  vitals::SeriesId series_;
};

}  // namespace

VITALS_PLUGIN(Probe, "probe", "1.0.0", "compiles testing.hpp alone")

int main() {
  vitals::testing::Host host;
  auto probe = host.create(vitals_plugin());
  return probe.collect(1) == VITALS_OK && host.samples().size() == 1 ? 0 : 1;
}
