// A delta after objects the checkpoint's child gave back to the allocator
// (they sat in this thread's cache) were taken again from that cache: the
// allocator metadata the child changed in its copy must be in the delta,
// or a restored process hands out a live object a second time.
//
// REQUIRES: wp-async
// RUN: %clang %cflags %s %ldflags -o %t.exe
// RUN: rm -rf %t.d && mkdir -p %t.d
// RUN: env PERM_READBACK=1 %t.exe %t.d/img write | FileCheck --check-prefix=WRITE %s
// RUN: %t.exe %t.d/img reuse | FileCheck --check-prefix=REUSE %s
// WRITE: generation 2: delta
// REUSE: 4000 new objects, none of them a live one
#include "../Inputs/zdtm.h"
#include <perm.h>

#define N 2000
#define SIZE 48

typedef struct state_s {
  void *live[2 * N]; /* every object the writer left allocated */
} state_t;

static state_t *st;

int main(int argc, char **argv) {
  check(argc == 3, "usage: delta-tcache IMAGE write|reuse");
  perm_register(&st, sizeof st, "st");
  int write = strcmp(argv[2], "write") == 0;
  if (perm_open(argv[1], write ? "w+i" : "r") != 0)
    fail("perm_open: %s", perm_error());
  if (write) {
    st = calloc(1, sizeof *st);
    void *tmp[N];
    for (int i = 0; i < N; i++)
      st->live[i] = malloc(SIZE);
    for (int i = 0; i < N; i++)
      tmp[i] = malloc(SIZE);
    for (int i = 0; i < N; i++)
      free(tmp[i]); /* into this thread's cache */
    if (perm_checkpoint() != 0) /* the child gives them back */
      fail("checkpoint: %s", perm_error());
    for (int i = 0; i < N; i++)
      st->live[N + i] = malloc(SIZE); /* from the cache: no metadata write */
    if (perm_checkpoint() != 0)
      fail("checkpoint: %s", perm_error());
    perm_stats_t s;
    perm_stats(&s);
    printf("generation %llu: %s\n", (unsigned long long)s.generation,
           s.last_incremental ? "delta" : "full");
    return 0;
  }
  for (int i = 0; i < 2 * N; i++) {
    void *p = malloc(SIZE);
    for (int k = 0; k < 2 * N; k++)
      check(p != st->live[k], "malloc returned the live object %d (%p)", k, p);
  }
  printf("%d new objects, none of them a live one\n", 2 * N);
  return 0;
}
