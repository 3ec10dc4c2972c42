/*
** registry.h - the persistent globals of the running program: entries of
** the plugin's registry sections, raw "persistent" sections, and ranges
** given to perm_register().
*/
#ifndef PERM_RUNTIME_REGISTRY_H
#define PERM_RUNTIME_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "../include/perm_registry.h"
#include "perm_internal.h"

typedef struct perm_restore_counts_s {
  uint64_t restored; /* matched by name and copied */
  uint64_t fresh;    /* in this build, not in the image */
  uint64_t dropped;  /* in the image, not in this build */
} perm_restore_counts_t;

/* Serialises every live entry and its current bytes (a REGISTRY block). */
PERM_HIDDEN int perm__registry_serialize(void **out, size_t *len);
/*
** Checks an image's REGISTRY block against the live entries: a type or size
** mismatch fails naming the variable.  With apply, copies the bytes.
*/
PERM_HIDDEN int perm__registry_restore(const void *block, size_t len, int apply,
                                       perm_restore_counts_t *counts);
/* Keep the image's block so modules registered later (dlopen) are restored. */
PERM_HIDDEN void perm__registry_keep_image(void *block, size_t len);
PERM_HIDDEN void perm__registry_forget_image(void);
PERM_HIDDEN void perm__registry_counts(perm_restore_counts_t *counts);
/* Is there any raw "persistent" section among the registered modules? */
PERM_HIDDEN int perm__registry_has_raw(void);

#endif /* PERM_RUNTIME_REGISTRY_H */
