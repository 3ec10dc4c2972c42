/* The second translation unit that sees the inline variable (matrix.test). */
#include "matrix-inline.h"

struct node **matrix::inline_list_from_other() { return &inline_list; }
