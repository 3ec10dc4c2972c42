#include <perm.h>
static PERM int count; /* same name as in kinds-main.c: "kinds-other.c:count" */
int other_count(void) { return ++count; }
