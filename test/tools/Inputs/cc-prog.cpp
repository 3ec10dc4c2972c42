// cc-prog.cpp - built by perm c++ in test/tools/cc.test: a std::vector on
// the persistent heap, its root a PERM pointer in a namespace.
#include <perm.h>
#include <cstdio>
#include <vector>

namespace app {
PERM std::vector<long> *values;
}

int main(int argc, char **argv) {
  if (argc != 2 || perm_open(argv[1], "a+") != 0)
    return 1;
  if (app::values == nullptr)
    app::values = new std::vector<long>;
  app::values->push_back(static_cast<long>(app::values->size()) + 1);
  long sum = 0;
  for (long v : *app::values)
    sum += v;
  std::printf("c++ size %zu, restored %d, sum %ld\n", app::values->size(),
              perm_restored(), sum);
  return perm_checkpoint() == 0 ? 0 : 1;
}
