/*
** restore.h - bringing an image back into this process.
*/
#ifndef PERM_RESTORE_H
#define PERM_RESTORE_H

#include "perm_internal.h"
#include "registry.h"

typedef struct perm_restore_opts_s {
  int verify_full;   /* checksum region data too (PERM_VERIFY=full) */
  int allow_rebuild; /* PERM_ALLOW_REBUILD=1 */
  int eager;         /* read everything now (PERM_RESTORE=eager, mode "e") */
  int rollback;      /* replace this process's live heap (perm_rollback) */
  int shared;        /* mode letter s: another program may have written it */
  int trust;         /* PERM_TRUST_IMAGE=1: restore files others could write */
  int startup;       /* before main: globals still to register are checked
                        then (perm__registry_end_startup) */
  int track;         /* start write tracking once the region is the image's */
} perm_restore_opts_t;

/*
** Validates everything first (the image and its chain, their owners, the
** runtime build, objects, registry types, the region's address range); any
** mismatch is an error and nothing in the process has changed.  Then loads
** the region and the state sections, restores globals by name, and re-arms
** the allocator.
*/
/* What was restored, for the next incremental checkpoint. */
typedef struct perm_restore_info_s {
  uint64_t generation, header_checksum, chain_length;
  uint64_t chain_bytes; /* region data in the chain's deltas */
  uint64_t base_bytes;  /* in its full image */
} perm_restore_info_t;

PERM_HIDDEN int perm__restore(const char *path, const perm_restore_opts_t *opts,
                              perm_restore_counts_t *counts,
                              perm_restore_info_t *info);

#endif /* PERM_RESTORE_H */
