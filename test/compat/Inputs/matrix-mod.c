/* A persistent global of a module loaded with dlopen (matrix.test). */
#include "matrix.h"

PERM struct node *mod_list;

struct node **matrix_mod_list(void) { return &mod_list; }
