/*
** heap.h - the private, persistent jemalloc instance.
*/
#ifndef PERM_HEAP_H
#define PERM_HEAP_H

#include <stddef.h>
#include <stdint.h>

#include "perm_internal.h"
#include "state.h"
#include "threads.h"

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
** The gate.  A fork must not copy a thread half-way through a call into the
** private jemalloc: its thread caches are changed without locks, and a
** snapshot taken in the middle of a free would hold a stale pointer that
** the child, flushing that cache, would free a second time.  Before a fork
** the forking thread sets PERM_GATE_PENDING, then waits until no other
** thread is inside; threads arriving meanwhile wait at the gate.
**
** How it knows who is inside (safepoint.c): the wrappers (interpose.c) read
** the gate word once and call jemalloc; nothing else.  A thread's
** instruction pointer in jemalloc's code or in a wrapper (section
** permrt_gated, PERM_GATED) says it is inside; perm_thread_t.depth counts
** what the pointer cannot show: the runtime's own calls into jemalloc
** (perm__heap_enter) and jemalloc's calls out of itself (heap_calls.c, the
** shims of heap.c).  The forking thread reads a blocked thread's pointer in
** /proc and asks a running one by a signal.  Where that signal cannot be
** had, PERM_GATE_TLS makes every call publish its depth instead, and the
** forking thread reads the depths (with membarrier(2) for the ordering).
*/
#define PERM_GATE_PENDING 1 /* a fork is being prepared or done */
#define PERM_GATE_STRICT 2  /* TLS mode without membarrier: threads fence */
#define PERM_GATE_MULTI 4   /* the process has created a thread */
#define PERM_GATE_TLS 8     /* no safepoint signal: calls publish depth */

typedef struct perm_gate_s {
  int word; /* PERM_GATE_* bits */
} perm_gate_t;

PERM_HIDDEN extern perm_gate_t perm__gate;

/*
** Code whose instruction pointer counts as inside the allocator.  Only
** gated functions may call (and so inline) gated functions.
*/
#define PERM_GATED __attribute__((section("permrt_gated")))

/* Waits while a fork is pending (fencing first in strict mode). */
PERM_HIDDEN void perm__heap_gate_slow(perm_thread_t *t);
/* A second thread exists: the gate starts asking (or, failing that, TLS). */
PERM_HIDDEN void perm__heap_threads_begin(void);

/* The wrappers' test: nothing to do but call. */
static inline __attribute__((always_inline)) int perm__gate_open_fast(void) {
  return (__atomic_load_n(&perm__gate.word, __ATOMIC_RELAXED) &
          (PERM_GATE_PENDING | PERM_GATE_TLS)) == 0;
}

/* No other thread was ever created (nor is a fork pending). */
static inline __attribute__((always_inline)) int perm__gate_alone(void) {
  return (__atomic_load_n(&perm__gate.word, __ATOMIC_RELAXED) &
          (PERM_GATE_PENDING | PERM_GATE_MULTI)) == 0;
}

/*
** Inside by depth.  The signal that asks runs on this thread, so a signal
** fence orders depth before the gate word for it; in TLS mode the forking
** thread's membarrier (or, strict, the fence in gate_slow) does.
*/
static inline __attribute__((always_inline)) perm_thread_t *
perm__heap_enter(void) {
  perm_thread_t *t = perm__thread_self();
  __atomic_store_n(&t->depth, t->depth + 1, __ATOMIC_RELAXED);
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  if (__builtin_expect(__atomic_load_n(&perm__gate.word, __ATOMIC_RELAXED) &
                           (PERM_GATE_PENDING | PERM_GATE_STRICT),
                       0))
    perm__heap_gate_slow(t);
  return t;
}

static inline __attribute__((always_inline)) void
perm__heap_leave(perm_thread_t *t) {
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  __atomic_store_n(&t->depth, t->depth - 1, __ATOMIC_RELEASE);
}

/* A call jemalloc makes out of itself: inside, and no gate to wait at. */
static inline __attribute__((always_inline)) perm_thread_t *
perm__heap_call_enter(void) {
  perm_thread_t *t = perm__thread_self();
  __atomic_store_n(&t->depth, t->depth + 1, __ATOMIC_RELAXED);
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  return t;
}

#define perm__heap_call_leave perm__heap_leave

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
** allocator and its locks are held, and at_child(arg) first thing in the
** child, before it changes anything (NULL: nothing to call).
*/
PERM_HIDDEN void perm__heap_set_checkpoint_fork(int on, void (*at_fork)(void *),
                                                void (*at_child)(void *),
                                                void *arg);
/*
** The thread the last fork had to go ahead without after waiting 2 s (its
** copy may be torn), or 0; *silent: it never answered, rather than being
** inside.
*/
PERM_HIDDEN int perm__heap_fork_stuck(int *silent);
/*
** When the parent of the last fork let the other threads into the allocator
** again (perm__now_ns), or 0: there was no gate to open.
*/
PERM_HIDDEN uint64_t perm__heap_fork_opened_ns(void);
/* Threads the last fork found inside the allocator, and waited for. */
PERM_HIDDEN int perm__heap_fork_waited(void);
/* In the checkpoint child: flush the last tcache, purge, forget the thread. */
PERM_HIDDEN void perm__heap_child_quiesce(void);
/* Rollback (perm_rollback): threads other than the caller with a tsd. */
PERM_HIDDEN int perm__heap_other_threads(void);
PERM_HIDDEN void perm__heap_rollback_begin(void);
PERM_HIDDEN int perm__heap_rollback_end(void);
/* Installs the fork handlers (once per process). */
PERM_HIDDEN void perm__heap_install_atfork(void);

#endif /* PERM_HEAP_H */
