// What may be PERM: file-scope and static local variables, declarations and
// definitions, arrays, structs, pointers to data.  No diagnostics, not even
// -Wunused for unreferenced static ones (the registry uses them).
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
  extern PERM int declared_in_block;
  return ++calls + declared_elsewhere;
}
