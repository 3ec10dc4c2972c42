/*
** objects.h - the executable and shared objects of this process, with their
** build-ids and load addresses: heap objects may point into any of them, so
** a restore needs the same ones at the same addresses.
*/
#ifndef PERM_OBJECTS_H
#define PERM_OBJECTS_H

#include <stddef.h>

#include "perm_internal.h"

/* What an image's executable is to this process. */
typedef enum perm_objects_main_e {
  PERM_MAIN_SAME,    /* the same file and build-id */
  PERM_MAIN_REBUILT, /* the same path, another build-id */
  PERM_MAIN_OTHER    /* another program */
} perm_objects_main_t;

typedef struct perm_objects_verdict_s {
  perm_objects_main_t main;
  char writer[600]; /* "/path (build-id ...)" of the image's executable */
  char reader[600]; /* the same for this process's */
} perm_objects_verdict_t;

/* An OBJECTS block describing this process. */
PERM_HIDDEN int perm__objects_serialize(void **out, size_t *len);
/*
** Compares an image's OBJECTS block, from a validated view (image.h), with
** this process: every shared object
** loaded in both must be the same build at the same address (explained
** when not).  The executables are compared but not judged: the verdict says
** how they differ, and restore decides (PERM_ALLOW_REBUILD, mode s).
*/
PERM_HIDDEN int perm__objects_check(const void *block, size_t len,
                                    const char *path,
                                    perm_objects_verdict_t *verdict);

#endif /* PERM_OBJECTS_H */
