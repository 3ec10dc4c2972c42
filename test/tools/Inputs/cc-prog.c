/*
** cc-prog.c - built by perm cc in test/tools/cc.test: a PERM counter and a
** list on the persistent heap, checked on every run.
*/
#include <perm.h>
#include <stdio.h>
#include <stdlib.h>

struct node {
  struct node *next;
  long value;
};

PERM long cc_runs;
PERM struct node *cc_head;

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: cc-prog IMAGE\n");
    return 2;
  }
  if (perm_open(argv[1], "a+") != 0) {
    fprintf(stderr, "%s\n", perm_error());
    return 1;
  }
  struct node *n = malloc(sizeof *n);
  n->value = ++cc_runs;
  n->next = cc_head;
  cc_head = n;
  long sum = 0;
  for (struct node *p = cc_head; p != NULL; p = p->next)
    sum += p->value;
  printf("run %ld, restored %d, sum %ld\n", cc_runs, perm_restored(), sum);
  return perm_checkpoint() == 0 ? 0 : 1;
}
