/*
** dlclose-main.c - a module's PERM global outlives dlclose: loaded, used
** and unloaded before the checkpoint, it comes back in the next run (and
** when loaded again in the same run, it finds the value it left).
*/
#include <dlfcn.h>
#include <perm.h>
#include <stdio.h>

static int call(const char *module) {
  void *m = dlopen(module, RTLD_NOW);
  if (m == NULL) {
    printf("FAIL dlopen: %s\n", dlerror());
    return -1;
  }
  int (*counter)(void) = (int (*)(void))dlsym(m, "mod_counter");
  int v = counter();
  dlclose(m);
  return v;
}

int main(int argc, char **argv) {
  if (argc != 3 || perm_open(argv[1], "a+") != 0) {
    printf("FAIL %s\n", perm_error());
    return 1;
  }
  int a = call(argv[2]);
  int b = call(argv[2]);
  printf("mod=%d,%d\n", a, b);
  return perm_checkpoint() == 0 ? 0 : 1;
}
