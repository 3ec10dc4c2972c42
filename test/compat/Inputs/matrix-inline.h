/* A C++ inline variable, seen by two translation units (matrix.test). */
#ifndef MATRIX_INLINE_H
#define MATRIX_INLINE_H

#include "matrix.h"

namespace matrix {
inline PERM struct node *inline_list;
struct node **inline_list_from_other(); /* matrix-other.cpp */
} // namespace matrix

#endif
