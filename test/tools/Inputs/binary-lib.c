/* binary-lib.c - a shared library with a PERM global, for info-binary.test. */
#include <perm.h>

PERM long lib_counter;

long lib_bump(void) { return ++lib_counter; }
