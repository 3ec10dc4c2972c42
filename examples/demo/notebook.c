/*
** notebook - the PERM demo: a notebook that remembers every run.
**
** Each run appends a note to a linked list in the persistent heap and bumps
** a PERM counter; nothing is saved to a file by the program itself.  The
** next run finds the list and the counter where it left them, at the same
** addresses.  Test: test/examples/notebook.test.
**
**   notebook IMAGE [TEXT]    add a note (default: "run N") and list them all
**   notebook IMAGE --forget  drop the oldest note (free in a restored heap)
*/
#include <perm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct note_s {
  struct note_s *next;
  long run;
  time_t when;
  char text[]; /* flexible: each note is one malloc */
} note_t;

PERM long runs;            /* how many times the notebook was opened */
PERM note_t *first, *last; /* the notes, oldest first */

static void add(const char *text) {
  note_t *n = malloc(sizeof *n + strlen(text) + 1);
  n->next = NULL;
  n->run = runs;
  n->when = time(NULL);
  strcpy(n->text, text);
  if (last != NULL)
    last->next = n;
  else
    first = n;
  last = n;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: notebook IMAGE [TEXT | --forget]\n");
    return 2;
  }
  if (perm_open(argv[1], "a+") != 0) {
    fprintf(stderr, "notebook: %s\n", perm_error());
    return 1;
  }
  runs++;
  if (argc > 2 && strcmp(argv[2], "--forget") == 0) {
    note_t *old = first;
    if (old != NULL) {
      first = old->next;
      if (first == NULL)
        last = NULL;
      free(old);
    }
  } else {
    char buf[64];
    snprintf(buf, sizeof buf, "run %ld", runs);
    add(argc > 2 ? argv[2] : buf);
  }
  printf("%s notebook, run %ld:\n", perm_restored() ? "restored" : "new", runs);
  for (note_t *n = first; n != NULL; n = n->next) {
    char stamp[32];
    strftime(stamp, sizeof stamp, "%H:%M:%S", localtime(&n->when));
    printf("  [run %ld, %s, at %p] %s\n", n->run, stamp, (void *)n, n->text);
  }
  perm_stats_t st;
  perm_stats(&st);
  printf("heap: %llu bytes allocated; image generation %llu\n",
         (unsigned long long)st.allocated,
         (unsigned long long)st.generation + 1);
  if (perm_checkpoint() != 0) {
    fprintf(stderr, "notebook: %s\n", perm_error());
    return 1;
  }
  return 0;
}
