/*
** guestbook - an out-of-tree program that uses an installed PERM, the way a
** user's project would: built with CMake (find_package(PERM), perm_target)
** or with make and pkg-config (Makefile).  Test:
** test/examples/consumer.test.
**
**   guestbook IMAGE NAME    sign the book and list every signature
*/
#include <perm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry_s {
  struct entry_s *next;
  long visit;
  char name[]; /* one malloc per entry */
} entry_t;

PERM long visits;      /* how many times the book was signed */
PERM entry_t *entries; /* newest first, on the persistent heap */

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: guestbook IMAGE NAME\n");
    return 2;
  }
  if (perm_open(argv[1], "a+") != 0) {
    fprintf(stderr, "guestbook: %s\n", perm_error());
    return 1;
  }
  entry_t *e = malloc(sizeof *e + strlen(argv[2]) + 1);
  if (e == NULL) {
    fprintf(stderr, "guestbook: out of memory\n");
    return 1;
  }
  e->visit = ++visits;
  strcpy(e->name, argv[2]);
  e->next = entries;
  entries = e;
  printf("%s guestbook, %ld visits:\n", perm_restored() ? "restored" : "new",
         visits);
  for (entry_t *p = entries; p != NULL; p = p->next)
    printf("  %ld %s\n", p->visit, p->name);
  if (perm_checkpoint() != 0) {
    fprintf(stderr, "guestbook: %s\n", perm_error());
    return 1;
  }
  return 0;
}
