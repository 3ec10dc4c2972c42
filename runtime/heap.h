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

/* Dispatch state read on every malloc: plain globals, set under api.c's lock.
 */
typedef struct perm_dispatch_s {
  uint64_t lo, hi; /* [lo, hi): the region, 0/0 when there is none */
  int persistent;  /* plain malloc goes to the private heap */
} perm_dispatch_t;
PERM_HIDDEN extern perm_dispatch_t perm__dispatch;

static inline int perm__in_region(const void *p) {
  return (uint64_t)p - perm__dispatch.lo <
         perm__dispatch.hi - perm__dispatch.lo;
}

/*
** The gate: every call into the private jemalloc is bracketed by
** perm__heap_enter/perm__heap_leave, which mark the calling thread as inside
** it.  Before a fork, the forking thread closes the gate and waits until no
** other thread is inside: jemalloc's thread caches are changed without locks,
** and a snapshot taken in the middle of a free would hold a stale pointer
** that the child, flushing that cache, would free a second time.  Threads
** arriving at a closed gate wait for the fork to end.  The fast path is two
** thread-local stores and one load; the forking side pays for the ordering
** with membarrier(2).
*/
/* perm_thread_t.state: one word, so the fast path tests it once. */
#define PERM_THREAD_UNKNOWN 0 /* not in the list of threads yet */
#define PERM_THREAD_OUTSIDE 1 /* in the list, not inside jemalloc */
#define PERM_THREAD_INSIDE 2  /* in a call into jemalloc */

typedef struct perm_thread_s {
  int state;       /* PERM_THREAD_*; calls never nest */
  int exit_rounds; /* destructor rounds waited for jemalloc's */
  void *tsd;       /* jemalloc's tsd of this thread, if any */
  struct perm_thread_s *prev, *next; /* guarded by heap.c's threads_lock */
} perm_thread_t;

/* The gate's state, one word so the fast path reads it once. */
#define PERM_GATE_PENDING 1 /* a fork is being prepared or done */
#define PERM_GATE_STRICT 2  /* no membarrier(2): entering threads fence */
#define PERM_GATE_MULTI 4   /* the process has created a thread */

typedef struct perm_gate_s {
  int word; /* PERM_GATE_* bits */
} perm_gate_t;

PERM_HIDDEN extern perm_gate_t perm__gate;
PERM_HIDDEN extern __thread perm_thread_t perm__self
    __attribute__((tls_model("initial-exec")));
PERM_HIDDEN void perm__heap_register_self(void);
/* The gate is closed, or strict: fence, and wait while a fork is pending. */
PERM_HIDDEN void perm__heap_gate_slow(perm_thread_t *t);

/*
** A process that never created a thread has nobody to wait for at a fork:
** its calls skip the gate (and stay tail calls).  pthread_create, which the
** runtime wraps, sets PERM_GATE_MULTI while the creator is the only thread,
** so no call can be half-way inside the allocator when the gate starts.
*/
static inline int perm__gate_open_fast(void) {
  return (__atomic_load_n(&perm__gate.word, __ATOMIC_RELAXED) &
          (PERM_GATE_MULTI | PERM_GATE_PENDING)) == 0;
}

static inline perm_thread_t *perm__heap_enter(void) {
  perm_thread_t *t = &perm__self;
  if (__builtin_expect(t->state != PERM_THREAD_OUTSIDE, 0))
    perm__heap_register_self();
  __atomic_store_n(&t->state, PERM_THREAD_INSIDE, __ATOMIC_RELAXED);
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  if (__builtin_expect(__atomic_load_n(&perm__gate.word, __ATOMIC_RELAXED) &
                           (PERM_GATE_PENDING | PERM_GATE_STRICT),
                       0))
    perm__heap_gate_slow(t);
  return t;
}

static inline void perm__heap_leave(perm_thread_t *t) {
  __atomic_store_n(&t->state, PERM_THREAD_OUTSIDE, __ATOMIC_RELEASE);
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
PERM_HIDDEN void perm__heap_flush_thread_cache(void);
PERM_HIDDEN int perm__heap_stats(uint64_t *allocated, uint64_t *active,
                                 uint64_t *resident, uint64_t *mapped);

/*
** The malloc wrappers got NULL: reclaim gives back the pages arenas hold
** (1: try again), out_of_memory sets ENOMEM and says so under PERM_VERBOSE.
*/
PERM_HIDDEN int perm__heap_reclaim(size_t bytes);
PERM_HIDDEN void perm__heap_out_of_memory(size_t bytes);

/*
** Fork protocol (checkpoint.c): mark the next fork as a checkpoint's, and
** have at_fork(arg) called at its instant, once no thread is inside the
** allocator and its locks are held (NULL: nothing to call).
*/
PERM_HIDDEN void perm__heap_set_checkpoint_fork(int on, void (*at_fork)(void *),
                                                void *arg);
/* In the checkpoint child: flush the last tcache, purge, forget the thread. */
PERM_HIDDEN void perm__heap_child_quiesce(void);
/* Rollback (perm_rollback): threads other than the caller with a tsd. */
PERM_HIDDEN int perm__heap_other_threads(void);
PERM_HIDDEN void perm__heap_rollback_begin(void);
PERM_HIDDEN int perm__heap_rollback_end(void);
/* Installs the fork handlers (once per process). */
PERM_HIDDEN void perm__heap_install_atfork(void);

#endif /* PERM_HEAP_H */
