// Allocations made before perm_open stay usable and can be freed after it;
// in "x" mode plain malloc stays transient and only perm_malloc persists;
// after perm_close, malloc is transient again and persistent objects can
// still be freed.
//
// RUN: %clang %cflags %s %ldflags -o %t.exe
// RUN: rm -rf %t.d && mkdir -p %t.d
// RUN: %t.exe %t.d/a.img a+ | FileCheck --check-prefix=PLAIN %s
// RUN: %t.exe %t.d/x.img a+x | FileCheck --check-prefix=EXPLICIT %s
// RUN: %t.exe %t.d/x.img a+x | FileCheck --check-prefix=EXPLICIT2 %s
// PLAIN: before open: transient
// PLAIN-NEXT: after open: persistent
// PLAIN-NEXT: old block still readable and freed
// PLAIN-NEXT: after close: transient
// EXPLICIT: after open: transient
// EXPLICIT-NEXT: perm_malloc: persistent
// EXPLICIT-NEXT: old block still readable and freed
// EXPLICIT2: restored explicit object: kept in x mode
#include "../Inputs/zdtm.h"
#include <malloc.h>
#include <perm.h>

static char *kept;

static const char *where(void *p) {
  perm_stats_t st;
  perm_stats(&st);
  uint64_t a = (uint64_t)p;
  return st.region_base && a >= st.region_base && a < st.region_base + st.region_size
             ? "persistent"
             : "transient";
}

int main(int argc, char **argv) {
  check(argc == 3, "usage: transient IMAGE MODE");
  perm_register(&kept, sizeof kept, "kept");
  char *early = malloc(100);
  strcpy(early, "allocated before perm_open");
  int explicit_mode = strchr(argv[2], 'x') != NULL;
  if (!explicit_mode)
    printf("before open: %s\n", where(early));
  if (perm_open(argv[1], argv[2]) != 0)
    fail("perm_open: %s", perm_error());
  if (perm_restored()) {
    check(kept != NULL && strcmp(kept, "kept in x mode") == 0, "kept lost");
    printf("restored explicit object: %s\n", kept);
    return 0;
  }
  void *p = malloc(64);
  printf("after open: %s\n", where(p));
  if (explicit_mode) {
    kept = perm_malloc(32);
    strcpy(kept, "kept in x mode");
    printf("perm_malloc: %s\n", where(kept));
  }
  /* The early block: readable, usable-size known, freed by its owner. */
  check(strcmp(early, "allocated before perm_open") == 0, "early block changed");
  check(malloc_usable_size(early) >= 100, "usable size of the early block");
  early = realloc(early, 4000);
  check(early != NULL && strcmp(early, "allocated before perm_open") == 0,
        "realloc of the early block");
  free(early);
  printf("old block still readable and freed\n");
  free(p);
  if (perm_checkpoint() != 0)
    fail("perm_checkpoint: %s", perm_error());
  if (!explicit_mode) {
    void *q = malloc(32);
    if (perm_close() != 0)
      fail("perm_close: %s", perm_error());
    void *r = malloc(32);
    printf("after close: %s\n", where(r));
    free(q); /* persistent, freed after close */
    free(r);
  }
  return 0;
}
