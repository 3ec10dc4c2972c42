#include <perm.h>
PERM int mod_value = 1000; /* a global of a dlopen'ed module */
int mod_counter(void) { return ++mod_value; }
