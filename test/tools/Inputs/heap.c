/*
** heap.c - a small PERM program whose image the tool tests inspect.
** Globals: gen (8 bytes), head (8), table (100); a list of 1000 nodes and a
** 1 MiB buffer on the persistent heap, so the image has several extents.
** Each run restores, checks the list, adds to it and checkpoints.
*/
#include <perm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct node {
  struct node *next;
  long value;
};

static long gen;
static struct node *head;
static char table[100];

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: heap IMAGE\n");
    return 2;
  }
  perm_register(&gen, sizeof gen, "gen");
  perm_register(&head, sizeof head, "head");
  perm_register(table, sizeof table, "table");
  if (perm_open(argv[1], "a+") != 0) {
    fprintf(stderr, "perm_open: %s\n", perm_error());
    return 1;
  }
  long n = 0;
  for (struct node *p = head; p != NULL; p = p->next)
    n++;
  if (n != gen * 1000) {
    fprintf(stderr, "FAIL: %ld nodes after %ld generations\n", n, gen);
    return 1;
  }
  for (int i = 0; i < 1000; i++) {
    struct node *p = malloc(sizeof *p);
    p->next = head;
    p->value = i;
    head = p;
  }
  char *big = malloc(1 << 20);
  memset(big, 0xab, 1 << 20);
  snprintf(table, sizeof table, "generation %ld", ++gen);
  if (perm_checkpoint() != 0) {
    fprintf(stderr, "perm_checkpoint: %s\n", perm_error());
    return 1;
  }
  printf("generation %ld: %ld nodes\n", gen, n + 1000);
  return 0;
}
