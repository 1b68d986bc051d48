// testing/storage_conformance.hpp alone.
#include "vitals/testing/storage_conformance.hpp"

int main() {
  vitals::testing::StorageConformance suite;  // no plugin: nothing to run, only to compile
  return suite.plugin == nullptr ? 0 : 1;
}
