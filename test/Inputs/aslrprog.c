/* aslrprog.c - a PIE program whose heap points at a global, a string literal
** and a function: restoring it needs everything at the same address. */
#include <perm.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct rec_s {
  const char *literal;
  int (*fn)(const char *, ...);
  long *global;
} rec_t;

static long counter;
static rec_t *rec;

int main(int argc, char **argv) {
  perm_register(&rec, sizeof rec, "rec");
  perm_register(&counter, sizeof counter, "counter");
  if (perm_open(argv[1], "a+") != 0) {
    printf("error: %s\n", perm_error());
    return 1;
  }
  if (!perm_restored()) {
    rec = malloc(sizeof *rec);
    rec->literal = "a string literal";
    rec->fn = printf;
    rec->global = &counter;
  }
  (*rec->global)++;
  rec->fn("counter=%ld %s argv:", counter, rec->literal);
  for (int i = 2; i < argc; i++)
    printf(" %s", argv[i]);
  printf("\n");
  fflush(stdout);
  dprintf(3, "fd 3 survived the re-exec\n");
  return perm_checkpoint() == 0 ? 0 : 1;
}
