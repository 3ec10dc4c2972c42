/*
** region.h - one contiguous reservation at a fixed address from which the
** private jemalloc gets all its memory.
*/
#ifndef PERM_REGION_H
#define PERM_REGION_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "perm_internal.h"

#define PERM_REGION_DEFAULT_BASE 0x7e0000000000ull
#define PERM_REGION_DEFAULT_CAPACITY (64ull << 30)
#define PERM_REGION_MAX_FREE 1024
#define PERM_REGION_HUGE (2ull << 20) /* runs this big are 2 MiB-aligned */

typedef struct perm_region_run_s {
  uint64_t off; /* from base */
  uint64_t len;
} perm_region_run_t;

/*
** The whole region state; it lives in the saved runtime state, so an image
** restores the allocator's view of which runs are handed out.
*/
typedef struct perm_region_s {
  pthread_mutex_t lock; /* Synchronizes everything below. */
  uint64_t base;        /* first byte of the reservation; 0 = none */
  uint64_t capacity;    /* bytes reserved (PROT_NONE until handed out) */
  uint64_t top;         /* bump pointer: bytes from base ever handed out */
  uint32_t file_backed; /* pages are a private file mapping: purge remaps */
  uint32_t nfree;       /* entries used in free[] */
  perm_region_run_t free[PERM_REGION_MAX_FREE]; /* sorted by off, coalesced */
} perm_region_t;

PERM_HIDDEN int perm__region_reserve(perm_region_t *r, uint64_t base,
                                     uint64_t capacity);
PERM_HIDDEN int perm__region_unreserve(perm_region_t *r);
PERM_HIDDEN void *perm__region_alloc(perm_region_t *r, size_t len, void *hint,
                                     int prot);
PERM_HIDDEN int perm__region_release(perm_region_t *r, void *addr, size_t len);
PERM_HIDDEN int perm__region_purge(perm_region_t *r, void *addr, size_t len);
/* Calls fn for each run handed out, in address order; stops on non-zero. */
PERM_HIDDEN int perm__region_foreach_run(const perm_region_t *r,
                                         int (*fn)(void *arg, uint64_t addr,
                                                   uint64_t len),
                                         void *arg);
/* Names the mapping of this process that overlaps [base, base+len). */
PERM_HIDDEN void perm__region_describe_overlap(uint64_t base, uint64_t len,
                                               char *buf, size_t size);
PERM_HIDDEN void perm__region_lock_reinit(perm_region_t *r);

#endif /* PERM_REGION_H */
