// sqlite keeps the storage contract: the SDK's conformance suite, with both
// rollup tiers checked exact under late writes.
#include <doctest/doctest.h>

#include <string>

#include "vitals/testing/storage_conformance.hpp"

namespace {

// Runs the suite on instances made with `extra` before their retention.
void check_conformance(const std::string &extra) {
  vitals::testing::StorageConformance suite;
  suite.plugin = vitals_plugin();
  suite.config = [extra](const std::string &retention) { return extra + "retention = " + retention + "\n"; };
  suite.tiers = {vitals::storage::Tier::minute, vitals::storage::Tier::hour};
  auto failures = suite.run();
  for (const auto &f : failures) FAIL_CHECK(f);
  CHECK(failures.empty());
}

}  // namespace

TEST_CASE("sqlite passes the storage conformance suite") { check_conformance("layout = \"v2\"\n"); }

// The same contract in layout v3: head rows, the in-memory head, chunks
// sealed between commits and rollup chunks.
TEST_CASE("sqlite in layout v3 passes the storage conformance suite") {
  check_conformance("layout = \"v3\"\nseal_after = \"0s\"\n");
}

// Layout v3 with sealing left to its default delay: within a case's few
// seconds every sample stays in the head, so the suite reads the head alone.
TEST_CASE("sqlite in layout v3, answering from the head, passes the storage conformance suite") {
  check_conformance("layout = \"v3\"\n");
}
