#include <perm.h>
PERM int lib_value; /* a global of a shared library */
int lib_counter(void) { return lib_value += 3; }
