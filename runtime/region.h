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
#define PERM_REGION_HUGE (2ull << 20) /* the THP size; runs of whole ones align */
/*
** The region's first bytes use small pages: a small heap is not inflated to
** whole huge pages (the allocator's metadata touches a few KiB of each 2 MiB
** it maps), and the fork copies few entries for it anyway.
*/
#define PERM_REGION_SMALL_PART (32ull << 20)
/* Free runs the region state holds itself; beyond, the list moves into a run. */
#define PERM_REGION_INLINE_FREE 256

typedef struct perm_region_run_s {
  uint64_t off; /* from base */
  uint64_t len;
} perm_region_run_t;

/*
** The whole region state; it lives in the saved runtime state, so an image
** restores the allocator's view of which runs are handed out.
**
** Layout: [0, top) holds the runs handed out and the free runs between them;
** [0, committed) is readable and writable, the rest PROT_NONE.  Every free
** byte reads as zero, which is what jemalloc assumes of memory it maps.
*/
typedef struct perm_region_s {
  pthread_mutex_t lock; /* Synchronizes everything below. */
  uint64_t base;        /* first byte of the reservation; 0 = none */
  uint64_t capacity;    /* bytes reserved */
  uint64_t top;         /* bump pointer: bytes from base ever handed out */
  uint64_t committed;   /* PROT_READ|PROT_WRITE below; 2 MiB-aligned, >= top */
  uint64_t file_top;    /* below, pages may map an image file (lazy restore) */
  uint32_t file_backed; /* set by a lazy restore: file_top = top at rearm */
  uint32_t nfree;       /* entries used in free[] */
  uint32_t free_cap;    /* entries free[] can hold */
  uint32_t odd_prot;    /* a run was made other than writable: free fixes */
  perm_region_run_t *free;  /* sorted by off, coalesced: free_inline or a run */
  uint64_t free_run_len;    /* bytes of the run holding free[], 0 = inline */
  uint64_t lost;            /* bytes no list could hold (reported, never 0'd) */
  perm_region_run_t free_inline[PERM_REGION_INLINE_FREE];
} perm_region_t;

PERM_HIDDEN int perm__region_reserve(perm_region_t *r, uint64_t base,
                                     uint64_t capacity);
PERM_HIDDEN int perm__region_unreserve(perm_region_t *r);
/*
** A run of at least len bytes, zero, at hint if that is free, else anywhere;
** NULL with errno set (silently: jemalloc copes with refusals).
*/
PERM_HIDDEN void *perm__region_alloc(perm_region_t *r, size_t len, void *hint,
                                     int prot);
/* Gives back [addr, addr+len), part or all of a run (jemalloc's munmap). */
PERM_HIDDEN int perm__region_release(perm_region_t *r, void *addr, size_t len);
/* Drops the pages of [addr, addr+len), a part of a run: they read as zero. */
PERM_HIDDEN int perm__region_purge(perm_region_t *r, void *addr, size_t len);
/*
** jemalloc's commit (prot != PROT_NONE) or decommit of a part of a run, or a
** protection change; decommitted pages read as zero when committed again.
*/
PERM_HIDDEN int perm__region_protect(perm_region_t *r, void *addr, size_t len,
                                     int prot);
/* After a restore loaded this state: protections and huge pages again. */
PERM_HIDDEN int perm__region_rearm(perm_region_t *r);
/* Bytes not handed out: free runs, and everything above top. */
PERM_HIDDEN uint64_t perm__region_available(perm_region_t *r);
/* The longest run the region could hand out now, in bytes. */
PERM_HIDDEN uint64_t perm__region_largest(perm_region_t *r);
/* Calls fn for each run handed out, in address order; stops on non-zero. */
PERM_HIDDEN int perm__region_foreach_run(const perm_region_t *r,
                                         int (*fn)(void *arg, uint64_t addr,
                                                   uint64_t len),
                                         void *arg);
/* Names the mapping of this process that overlaps [base, base+len). */
PERM_HIDDEN void perm__region_describe_overlap(uint64_t base, uint64_t len,
                                               char *buf, size_t size);
PERM_HIDDEN void perm__region_lock_reinit(perm_region_t *r);
/*
** Advises [addr, addr+len) of the region at base: small pages in its first
** PERM_REGION_SMALL_PART bytes, transparent huge pages above.
*/
PERM_HIDDEN void perm__region_advise(uint64_t base, uint64_t addr,
                                     uint64_t len);

#endif /* PERM_REGION_H */
