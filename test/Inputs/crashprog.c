/*
** crashprog.c - a heap whose every generation is self-describing: the list
** holds generation g's nodes 1..g, each filled with a pattern of its number.
**   crashprog IMAGE loop     restore (a+), verify, then add a generation and
**                            checkpoint, forever (the driver kills it)
**   crashprog IMAGE verify   restore read-only, verify, print the generation
*/
#include "zdtm.h"
#include <perm.h>

typedef struct node_s {
  struct node_s *next;
  uint64_t gen;
  size_t n;
  unsigned char *blob;
} node_t;

static node_t *list;
static uint64_t generation;

static void verify(void) {
  uint64_t expect = generation;
  for (node_t *p = list; p; p = p->next, expect--) {
    check(p->gen == expect, "node of generation %llu where %llu was expected",
          (unsigned long long)p->gen, (unsigned long long)expect);
    check(zdtm_verify(p->blob, p->n, p->gen) == (size_t)-1, "blob %llu damaged",
          (unsigned long long)p->gen);
  }
  check(expect == 0, "the list is short: ends at %llu", (unsigned long long)expect);
}

int main(int argc, char **argv) {
  check(argc == 3, "usage: crashprog IMAGE loop|verify");
  perm_register(&list, sizeof list, "list");
  perm_register(&generation, sizeof generation, "generation");
  int loop = strcmp(argv[2], "loop") == 0;
  if (perm_open(argv[1], loop ? "a+" : "r") != 0)
    fail("perm_open: %s", perm_error());
  verify();
  if (!loop) {
    printf("generation %llu\n", (unsigned long long)generation);
    return 0;
  }
  for (;;) {
    node_t *n = malloc(sizeof *n);
    n->gen = generation + 1;
    n->n = 4096 + (size_t)(zdtm_mix(n->gen) % 200000);
    n->blob = malloc(n->n);
    zdtm_fill(n->blob, n->n, n->gen);
    n->next = list;
    list = n;
    generation++;
    if (generation % 7 == 0) { /* free and reallocate some history */
      node_t *old = list->next;
      if (old) {
        unsigned char *b = malloc(old->n);
        memcpy(b, old->blob, old->n);
        free(old->blob);
        old->blob = b;
      }
    }
    if (perm_checkpoint() != 0)
      fail("perm_checkpoint: %s", perm_error());
    printf("committed %llu\n", (unsigned long long)generation);
    fflush(stdout);
  }
}
