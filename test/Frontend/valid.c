// What may be PERM: file-scope and static local variables, declarations and
// definitions, arrays, structs, pointers to data.  No diagnostics, not even
// -Wunused for unreferenced static ones or -Wunused-but-set for static
// locals only written (the registry, and the next run, use them).
// REQUIRES: plugin
// RUN: %clang -fplugin=%perm_plugin %cflags -Wextra -fsyntax-only -Xclang -verify %s
// expected-no-diagnostics

#include <perm.h>

struct node {
  int value;
  struct node *next;
};

PERM struct node *head;
PERM long generation = 1;
PERM int table[16];
PERM struct node first;
extern PERM int declared_elsewhere;
extern PERM int defined_later;
int defined_later = 3;
static PERM int unreferenced_file_static;
PERM char *heap_string;
PERM char inline_buffer[] = "a copy, not a pointer";

int bump(void) {
  static PERM int calls;
  static PERM int unreferenced_local;
  static PERM long only_incremented; /* not "set but not used" */
  ++only_incremented;
  extern PERM int declared_in_block;
  return ++calls + declared_elsewhere;
}
