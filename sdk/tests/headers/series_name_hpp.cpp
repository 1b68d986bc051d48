// series_name.hpp alone.
#include "vitals/series_name.hpp"

int main() {
  vitals::SeriesLabels labels{{"b", "2"}, {"a", "1"}};
  return vitals::canonicalize_series("m", labels) && vitals::canonical_series_text("m", labels) == "m{a=\"1\",b=\"2\"}"
             ? 0
             : 1;
}
