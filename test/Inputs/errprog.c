/*
** errprog.c - drives perm_open/perm_checkpoint into their error paths.
**   errprog IMAGE MODE create   new heap with data, checkpoint
**   errprog IMAGE MODE open     open only
**   errprog IMAGE MODE ckpt     open, then checkpoint
**   errprog IMAGE MODE map      map the region's address first, then open
** Prints "ok" or "error errno=NAME: message" and exits 0 or 1.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <perm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static long *data;
#ifdef OTHER_BUILD
/* Another build: different code, so a different build-id. */
volatile int other_build = OTHER_BUILD;
#endif

static int report(int rc, const char *what) {
  if (rc == 0)
    return 0;
  printf("%s: error errno=%s: %s\n", what, strerrorname_np(errno), perm_error());
  exit(1);
}

int main(int argc, char **argv) {
  if (argc != 4)
    return 2;
  const char *img = argv[1], *mode = argv[2], *act = argv[3];
  perm_register(&data, sizeof data, "data");
  if (strcmp(act, "map") == 0) {
    void *p = mmap((void *)0x7e0000200000, 1 << 20, PROT_READ,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (p == MAP_FAILED)
      return 3;
  }
  report(perm_open(img, mode), "perm_open");
  if (strcmp(act, "create") == 0) {
    data = malloc(1 << 16);
    for (int i = 0; i < (1 << 13); i++)
      data[i] = i;
  }
  if (strcmp(act, "create") == 0 || strcmp(act, "ckpt") == 0)
    report(perm_checkpoint(), "perm_checkpoint");
  if (perm_restored() && data != NULL)
    for (int i = 0; i < (1 << 13); i++)
      if (data[i] != i)
        return 4;
  printf("ok\n");
  return 0;
}
