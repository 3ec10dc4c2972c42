/* Globals of every kind, over two translation units, a shared library and a
** dlopen'ed module. */
#include <dlfcn.h>
#include <perm.h>
#include <stdio.h>
#include <stdlib.h>

struct item {
  struct item *next;
  int n;
};
struct box {
  double ratio;
  struct item *items; /* heap pointer inside a struct */
  char tag[8];
};

PERM long scalar = 100;        /* initialised: the image overrides it */
PERM int array[5];
PERM struct box box;
static PERM int count;         /* file-static: "kinds-main.c:count" */

int other_count(void);         /* kinds-other.c, with its own static count */
int lib_counter(void);         /* libkinds.so */

static int local_counter(void) {
  static PERM int calls;       /* static local: "local_counter:calls" */
  return ++calls;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: kinds IMAGE MODULE\n");
    return 2;
  }
  if (perm_open(argv[1], "a+") != 0) {
    printf("FAIL %s\n", perm_error());
    return 1;
  }
  scalar++;
  array[scalar % 5] += 1;
  count += 10;
  struct item *it = malloc(sizeof *it);
  it->n = (int)scalar;
  it->next = box.items;
  box.items = it;
  box.ratio += 0.5;
  snprintf(box.tag, sizeof box.tag, "r%ld", scalar);
  int items = 0;
  for (struct item *p = box.items; p; p = p->next)
    items++;
  void *mod = dlopen(argv[2], RTLD_NOW);
  if (mod == NULL) {
    printf("FAIL dlopen: %s\n", dlerror());
    return 1;
  }
  int (*mod_counter)(void) = (int (*)(void))dlsym(mod, "mod_counter");
  printf("scalar=%ld array=%d,%d,%d,%d,%d count=%d other=%d local=%d lib=%d "
         "mod=%d items=%d ratio=%.1f tag=%s\n",
         scalar, array[0], array[1], array[2], array[3], array[4], count,
         other_count(), local_counter(), lib_counter(), mod_counter(), items,
         box.ratio, box.tag);
  perm_stats_t st;
  perm_stats(&st);
  printf("globals restored=%llu new=%llu dropped=%llu\n",
         (unsigned long long)st.globals_restored,
         (unsigned long long)st.globals_new,
         (unsigned long long)st.globals_dropped);
  return perm_checkpoint() == 0 ? 0 : 1;
}
