// downsample.hpp alone.
#include "vitals/downsample.hpp"

int main() {
  std::vector<vitals::storage::Point> points{{0, 1}, {1, 2}, {2, 3}};
  return vitals::storage::lttb(points, 2).size() == 2 ? 0 : 1;
}
