// proc_file.hpp must compile on its own.
#include "vitals/proc_file.hpp"

int main() {
  std::vector<char> buffer;
  return vitals::read_proc_file("/proc/self/stat", buffer).empty() ? 1 : 0;
}
