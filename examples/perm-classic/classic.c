/*
** classic.c - LLNL PERM's documented example, ported: the only change is the
** include line.  Without -r it creates the heap; with -r it restores it from
** the last backup; every step backs the heap up.  Test:
** test/examples/perm-classic.test.
**
**   classic [-r] DIR [STEPS [CRASH_AT]]
**
** CRASH_AT makes the run die (abort) after that step, as a crash would.
*/
#include <perm.h> /* was: #include "jemalloc/jemalloc.h" */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MMAP_SIZE ((size_t)1 << 30)

typedef struct node_s {
  struct node_s *next;
  long step, value;
} node_t;

typedef struct {
  long step;     /* the last completed step */
  long sum;      /* of every node's value */
  node_t *nodes; /* one per step, newest first */
} home_st;

PERM home_st *home; /* use PERM to mark home as persistent */

static void application_step(void) {
  node_t *n = malloc(sizeof *n);
  n->step = home->step + 1;
  n->value = n->step * n->step;
  n->next = home->nodes;
  home->nodes = n;
  home->sum += n->value;
  home->step = n->step;
  if (n->step % 4 == 0 && n->next != NULL) { /* realloc and free old data */
    node_t *old = n->next;
    n->next = old->next;
    home->sum -= old->value;
    free(old);
  }
}

int main(int argc, char *argv[]) {
  int do_restore = argc > 1 && strcmp("-r", argv[1]) == 0;
  int arg = 1 + do_restore;
  if (argc <= arg) {
    fprintf(stderr, "usage: classic [-r] DIR [STEPS [CRASH_AT]]\n");
    return 2;
  }
  char mmap_file[4096], back_file[4096];
  snprintf(mmap_file, sizeof mmap_file, "%s/app.mmap", argv[arg]);
  snprintf(back_file, sizeof back_file, "%s/app.back", argv[arg]);
  long steps = argc > arg + 1 ? atol(argv[arg + 1]) : 10;
  long crash_at = argc > arg + 2 ? atol(argv[arg + 2]) : -1;
  const char *mode = do_restore ? "r+" : "w+";

  /* call perm() and mopen() before malloc() */
  perm(PERM_START, PERM_SIZE);
  if (mopen(mmap_file, mode, MMAP_SIZE) != 0 || bopen(back_file, mode) != 0) {
    fprintf(stderr, "classic: %s\n", perm_error());
    return 1;
  }
  if (do_restore) {
    if (restore() != 0) {
      fprintf(stderr, "classic: restore: %s\n", perm_error());
      return 1;
    }
    printf("restored at step %ld\n", home->step);
  } else {
    home = (home_st *)malloc(sizeof(home_st));
    memset(home, 0, sizeof *home);
    mflush();
    backup();
  }
  while (home->step < steps) {
    application_step();
    if (backup() != 0) {
      fprintf(stderr, "classic: backup: %s\n", perm_error());
      return 1;
    }
    if (home->step == crash_at) {
      printf("crashing after step %ld\n", home->step);
      fflush(stdout);
      abort();
    }
  }
  long check = 0;
  for (node_t *n = home->nodes; n != NULL; n = n->next)
    check += n->value;
  printf("done: step %ld, sum %ld, list sum %ld\n", home->step, home->sum,
         check);
  free(home);
  mclose();
  bclose();
  return 0;
}
