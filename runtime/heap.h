/*
** heap.h - the private, persistent jemalloc instance.
*/
#ifndef PERM_HEAP_H
#define PERM_HEAP_H

#include <stddef.h>
#include <stdint.h>

#include "perm_internal.h"
#include "state.h"

/* The instance's entry points, renamed by runtime/jemalloc/mkprivate.sh. */
void *permje_malloc(size_t);
void *permje_calloc(size_t, size_t);
void *permje_realloc(void *, size_t);
void permje_free(void *);
int permje_posix_memalign(void **, size_t, size_t);
void *permje_aligned_alloc(size_t, size_t);
void *permje_memalign(size_t, size_t);
void *permje_valloc(size_t);
size_t permje_malloc_usable_size(const void *);
void permje_sdallocx(void *, size_t, int);
int permje_mallctl(const char *, void *, size_t *, void *, size_t);

/* Dispatch state read on every malloc: plain globals, set under api.c's lock. */
typedef struct perm_dispatch_s {
  uint64_t lo, hi;     /* [lo, hi): the region, 0/0 when there is none */
  int persistent;      /* plain malloc goes to the private heap */
} perm_dispatch_t;
PERM_HIDDEN extern perm_dispatch_t perm__dispatch;

static inline int perm__in_region(const void *p) {
  return (uint64_t)p - perm__dispatch.lo < perm__dispatch.hi - perm__dispatch.lo;
}

/* Learns where ld.so's code is (its allocations stay transient). */
PERM_HIDDEN void perm__interpose_init(void);

/* A new, empty heap in a region at [base, base+capacity). */
PERM_HIDDEN int perm__heap_create(uint64_t base, uint64_t capacity);
/* The instance's state was just loaded from an image: make it live. */
PERM_HIDDEN int perm__heap_rearm(void);
PERM_HIDDEN int perm__heap_ready(void);
/* jemalloc's version string. */
PERM_HIDDEN const char *perm__heap_version(void);
PERM_HIDDEN int perm__heap_stats(uint64_t *allocated, uint64_t *active,
                                 uint64_t *resident, uint64_t *mapped);

/* Fork protocol (checkpoint.c): mark the next fork as a checkpoint's. */
PERM_HIDDEN void perm__heap_set_checkpoint_fork(int on);
/* In the checkpoint child: flush the last tcache, purge, forget the thread. */
PERM_HIDDEN void perm__heap_child_quiesce(void);
/* Rollback (perm_rollback): threads other than the caller with a tsd. */
PERM_HIDDEN int perm__heap_other_threads(void);
PERM_HIDDEN void perm__heap_rollback_begin(void);
PERM_HIDDEN int perm__heap_rollback_end(void);
/* Installs the fork handlers (once per process). */
PERM_HIDDEN void perm__heap_install_atfork(void);

#endif /* PERM_HEAP_H */
