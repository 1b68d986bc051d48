// memory_storage keeps the storage contract: the SDK's conformance suite.
#include <doctest/doctest.h>

#include "vitals/testing/storage_conformance.hpp"

TEST_CASE("memory_storage passes the storage conformance suite") {
  vitals::testing::StorageConformance suite;
  suite.plugin = vitals_plugin();
  suite.config = [](const std::string &retention) { return "retention = " + retention + "\n"; };
  suite.tiers = {};  // raw samples only: forced 1m and 1h must be refused
  auto failures = suite.run();
  for (const auto &f : failures) FAIL_CHECK(f);
  CHECK(failures.empty());
}

TEST_CASE("memory_storage refuses a batch past max_samples and keeps what it held") {
  vitals::testing::Host host;
  auto storage = host.create_started(vitals_plugin(), "max_samples = 2\n");
  int64_t now = vitals::testing::Host::now_ns();
  CHECK(storage.consume({{"a", now, 1}, {"a", now + 1, 2}}) == VITALS_OK);
  CHECK(storage.consume({{"a", now + 2, 3}}) == VITALS_ERROR);
  CHECK(storage.last_error().find("max_samples") != std::string::npos);
  auto [status, body] = host.query(storage, R"({"op":"stats"})");
  CHECK(status == 200);
  CHECK(body.find("\"samples\":2") != std::string::npos);
}
