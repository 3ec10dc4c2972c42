/*
** objects.h - the executable and shared objects of this process, with their
** build-ids and load addresses: heap objects may point into any of them, so
** a restore needs the same ones at the same addresses.
*/
#ifndef PERM_OBJECTS_H
#define PERM_OBJECTS_H

#include <stddef.h>

#include "perm_internal.h"

/* An OBJECTS block describing this process. */
PERM_HIDDEN int perm__objects_serialize(void **out, size_t *len);
/* Compares an image's OBJECTS block with this process; explains mismatches. */
PERM_HIDDEN int perm__objects_check(const void *block, size_t len,
                                    const char *path, int allow_rebuild);

#endif /* PERM_OBJECTS_H */
