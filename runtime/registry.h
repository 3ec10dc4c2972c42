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

/* How globals are judged against a restored image's, and named in messages. */
typedef struct perm_registry_policy_s {
  int strict;  /* another program wrote the image: every global must match */
  int startup; /* the program has not reached main: late errors are fatal */
  char image[4096]; /* the image's path */
  char writer[600]; /* "/path (build-id ...)" of the program that wrote it */
  char reader[600]; /* the same for this process ("" when they are one) */
} perm_registry_policy_t;

/*
** Serialises every live entry and its current bytes, the values kept for
** unloaded modules, and the restored image's globals this program does not
** declare (flag PERM_REG_KEPT): a REGISTRY block.
*/
PERM_HIDDEN int perm__registry_serialize(void **out, size_t *len);
/*
** Checks an image's REGISTRY block against the live entries: a type or size
** mismatch fails naming the variable (and, under a strict policy, so does a
** global the image lacks).  With apply, copies the bytes.  The policy (NULL:
** unchanged) also judges globals registered later.
*/
PERM_HIDDEN int perm__registry_restore(const void *block, size_t len, int apply,
                                       const perm_registry_policy_t *policy,
                                       perm_restore_counts_t *counts);
/* Keep the image's block so modules registered later (dlopen) are restored. */
PERM_HIDDEN void perm__registry_keep_image(void *block, size_t len);
/* While an image is open, a module that unregisters leaves its values. */
PERM_HIDDEN void perm__registry_set_open(int open);
/*
** main is reached: from now on a late mismatch is a message, not fatal.
** Returns -EINVAL with the first mismatch found while starting in msg.
*/
PERM_HIDDEN int perm__registry_end_startup(char *msg, size_t size);
PERM_HIDDEN void perm__registry_counts(perm_restore_counts_t *counts);
/*
** perm_register() for the runtime's own callers, which may use the names
** reserved for ranges known by address ("[...]").
*/
PERM_HIDDEN int perm__registry_add_range(void *addr, size_t size,
                                         const char *name, uint32_t flags);
/* Is there any raw "persistent" section among the registered modules? */
PERM_HIDDEN int perm__registry_has_raw(void);

#endif /* PERM_RUNTIME_REGISTRY_H */
