/*
** interpose_none.c - transient memory for code that reads images outside a
** PERM process (tools/): plain malloc.
*/
#include <stdlib.h>
#include <string.h>

#include "perm_internal.h"

void *perm__tmalloc(size_t size) { return malloc(size); }
void *perm__tcalloc(size_t n, size_t size) { return calloc(n, size); }
void *perm__trealloc(void *p, size_t size) { return realloc(p, size); }
void perm__tfree(void *p) { free(p); }
char *perm__tstrdup(const char *s) { return strdup(s); }
