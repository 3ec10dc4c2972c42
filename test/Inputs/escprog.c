/*
** escprog.c - an image whose names would drive a terminal: globals
** registered with perm_register() under names holding ESC sequences, a
** bell, a newline and a tab, and whatever the executable's own file name
** holds.  escprog IMAGE: a new heap (w+), checkpointed; prints "ok".
*/
#include <perm.h>
#include <stdio.h>
#include <stdlib.h>

static long red, bell, line;

int main(int argc, char **argv) {
  if (argc != 2 && argc != 3)
    return 2;
  perm_register(&red, sizeof red, "\033[31mred");
  perm_register(&bell, sizeof bell, "bell\a\033]0;title\a");
  perm_register(&line, sizeof line, "new\nline\ttab");
  if (perm_open(argv[1], "w+") != 0 || (red = argc == 3 ? atol(argv[2]) : 1, perm_checkpoint() != 0)) {
    printf("error: %s\n", perm_error());
    return 1;
  }
  printf("ok\n");
  return 0;
}
