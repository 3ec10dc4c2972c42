/*
** binary-prog.c - the program of test/tools/info-binary.test, in variants
** that perm info --binary must tell apart:
**   (none)          the original
**   -DREBUILT       code changed and one PERM global added: restores with
**                   PERM_ALLOW_REBUILD=1
**   -DCHANGED       a persistent struct gained a field: refused
**   -DRETYPED       a field changed type, not size: refused
**   -DDROPPED       one PERM global removed
**   -DWITH_LIB      also a library's PERM global and a perm_register()ed
**                   one (binary-lib.c)
** Each run adds one to every counter and checkpoints.
**
**   binary-prog IMAGE [MODE]    MODE for perm_open, default "a+"
*/
#include <perm.h>
#include <stdio.h>

struct stats {
  long runs;
#ifdef RETYPED
  double bytes;
#else
  long bytes;
#endif
#ifdef CHANGED
  long errors;
#endif
};

PERM struct stats stats;
#ifndef DROPPED
PERM static long hits;
#endif
#ifdef REBUILT
PERM long added = 100;
#endif

#ifdef WITH_LIB
long lib_bump(void);
static long registered_table[4];
#endif

int main(int argc, char **argv) {
  static PERM int calls;
#ifdef WITH_LIB
  perm_register(registered_table, sizeof registered_table, "registered_table");
  registered_table[0] = lib_bump();
#endif
  if (argc < 2 || argc > 3 ||
      perm_open(argv[1], argc == 3 ? argv[2] : "a+") != 0) {
    fprintf(stderr, "binary-prog: %s\n", argc >= 2 ? perm_error() : "usage");
    return 1;
  }
  stats.runs++;
  calls++;
#ifndef DROPPED
  hits++;
#endif
#ifdef REBUILT
  added++;
  printf("rebuilt: added %ld, ", added);
#endif
  printf("runs %ld, calls %d, restored %d\n", stats.runs, calls,
         perm_restored());
  return perm_checkpoint() == 0 ? 0 : 1;
}
