#include "cxx-shared.h"
#include <cstdio>
long bump_from_b() { return app::inline_counter += 10; }
int main(int argc, char **argv) {
  if (perm_open(argv[1], "a+") != 0) {
    std::printf("error: %s\n", perm_error());
    return 1;
  }
  auto *&V = app::Holder<std::vector<std::string>>::value;
  if (V == nullptr)
    V = new std::vector<std::string>;
  long A = bump_from_a(), B = bump_from_b();
  V->push_back("run with counter " + std::to_string(B));
  std::printf("a=%ld b=%ld strings=%zu last='%s'\n", A, B, V->size(),
              V->back().c_str());
  return perm_checkpoint() == 0 ? 0 : 1;
}
