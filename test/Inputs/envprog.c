/*
** envprog.c - a program that never calls perm_open: PERM_FNAME does it.
**   envprog            add a node, print the state, exit (at-exit checkpoint)
**   envprog signal     send itself PERM_CHECKPOINT_SIGNAL, wait for the image
*/
#define _GNU_SOURCE
#include <perm.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct node_s {
  struct node_s *next;
  long n;
} node_t;

PERM long runs;
PERM node_t *list;

int main(int argc, char **argv) {
  runs++;
  node_t *x = malloc(sizeof *x);
  x->n = runs;
  x->next = list;
  list = x;
  long count = 0;
  for (node_t *p = list; p; p = p->next)
    count++;
  perm_stats_t st;
  perm_stats(&st);
  printf("runs=%ld nodes=%ld restored=%d node at %p\n", runs, count,
         perm_restored(), (void *)x);
  fflush(stdout);
  if (argc > 1 && strcmp(argv[1], "signal") == 0) {
    const char *img = getenv("IMAGE");
    kill(getpid(), SIGUSR1);
    struct stat sb;
    for (int i = 0; i < 500 && stat(img, &sb) != 0; i++)
      usleep(10000);
    for (int i = 0; i < 100; i++) { /* the rename is the last step */
      perm_stats(&st);
      if (st.generation > 0)
        break;
      usleep(10000);
    }
    printf("image after signal: %s, generation %llu\n",
           stat(img, &sb) == 0 ? "present" : "missing",
           (unsigned long long)st.generation);
    fflush(stdout);
    _exit(0); /* no at-exit checkpoint */
  }
  return 0;
}
