/*
** envprog.c - a program that never calls perm_open: PERM_FNAME does it.
**   envprog            add a node, print the state, exit (at-exit checkpoint)
**   envprog signal     send itself PERM_CHECKPOINT_SIGNAL, wait for the image
**   envprog checkpoint also call perm_checkpoint() before exiting
**   envprog fork       a forked child exits normally (it must not checkpoint)
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
  if (argc > 1 && strcmp(argv[1], "checkpoint") == 0 && perm_checkpoint() != 0) {
    printf("checkpoint failed: %s\n", perm_error());
    return 1;
  }
  if (argc > 1 && strcmp(argv[1], "fork") == 0) {
    /* The child exits after the parent, so an image it wrote would win. */
    int p[2];
    if (pipe(p) != 0)
      return 1;
    if (fork() == 0) {
      close(p[1]);
      char c;
      while (read(p[0], &c, 1) > 0)
        ;
      runs += 1000;
      exit(0);
    }
    close(p[0]);
    printf("forked\n");
  }
  return 0;
}
