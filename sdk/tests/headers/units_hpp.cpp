// units.hpp alone.
#include "vitals/units.hpp"

int main() { return vitals::parse_duration("1s").value_or(0) == 1'000'000'000 && vitals::parse_size("1KiB") ? 0 : 1; }
