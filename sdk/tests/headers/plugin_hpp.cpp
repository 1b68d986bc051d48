// plugin.hpp alone. The plugin below instantiates every template the macro
// expands, so an include the templates need but the header lacks fails here.
#include "vitals/plugin.hpp"

namespace {

class Probe final : public vitals::Storage {
 public:
  static constexpr vitals_config_field_t config_fields[] = {
      vitals::config_field("path", VITALS_CONFIG_STRING, 0, "\"x\"", "a key"),
  };
  static constexpr const char *sample_config = "[storage.probe]\n";
  static constexpr uint64_t flags = VITALS_FLAG_CONSUME_ON_THREAD;

  Probe(vitals::Host host, const vitals::Config &config) : Storage(host), path_(config.string("path")) {}
  vitals::Status consume(const vitals::BatchView &batch, vitals_ack_t *) override {
    return batch.size() ? vitals::Status::ok : vitals::Status::error;
  }
  void query(const std::string &request_json, vitals::Reply reply) override {
    reply.send(200, "application/json", request_json + path_);
  }

 private:
  std::string path_;
};

}  // namespace

VITALS_PLUGIN(Probe, "probe", "1.0.0", "compiles plugin.hpp alone")

int main() { return vitals_plugin()->n_config_fields == 1 ? 0 : 1; }
