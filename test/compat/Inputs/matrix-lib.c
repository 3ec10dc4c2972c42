/* A shared library's persistent global (matrix.test). */
#include "matrix.h"

PERM struct node *lib_list;

struct node **matrix_lib_list(void) { return &lib_list; }
