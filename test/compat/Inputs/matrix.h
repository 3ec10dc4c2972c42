/*
** matrix.h - the lists every kind of persistent global of the matrix
** program points to (matrix.test): each run pushes one node on each.
*/
#ifndef MATRIX_H
#define MATRIX_H

#include <perm.h>
#include <stdlib.h>

#ifdef __cplusplus
extern "C" {
#endif

struct node {
  struct node *next;
  long value;
};

/* One more node on *list (heap memory: persistent while the image is open). */
static inline void matrix_push(struct node **list, long value) {
  struct node *n = (struct node *)malloc(sizeof *n);
  n->value = value;
  n->next = *list;
  *list = n;
}

/* "count/sum" of a list, e.g. "3/6". */
static inline long matrix_count(const struct node *list, long *sum) {
  long n = 0;
  *sum = 0;
  for (; list != NULL; list = list->next, n++)
    *sum += list->value;
  return n;
}

struct node **matrix_lib_list(void); /* libmatrix.so */

#ifdef __cplusplus
}
#endif

#endif /* MATRIX_H */
