/*
** threads.h - every thread that may be inside the private allocator.
**
** A fork asks each of them whether it is (safepoint.c); the table they are
** kept in can be joined from anywhere, inside jemalloc or in a signal
** handler: a slot is claimed with one compare-and-swap, and the table only
** grows.
*/
#ifndef PERM_THREADS_H
#define PERM_THREADS_H

#include <sys/types.h>

#include "perm_internal.h"

typedef struct perm_thread_s {
  int tid;   /* its owner's thread id; 0: a free slot */
  int depth; /* calls into, or out of, the allocator under way */
  int answer; /* the safepoint's: question << 1 | inside (its handler's) */
  int asked;  /* the question awaiting an answer (the forking thread's) */
  int waits;  /* passes the forking thread has waited for that answer */
  int seen_inside; /* found inside at this fork (the forking thread's) */
  void *tsd;  /* jemalloc's tsd of this thread, if it has one */
} __attribute__((aligned(64))) perm_thread_t; /* one owner per cache line */

/* The calling thread's slot, NULL before it joins. */
PERM_HIDDEN extern __thread perm_thread_t *perm__me
    __attribute__((tls_model("initial-exec")));

/*
** Claims a slot for the calling thread (and frees slots of threads that
** had its id and are gone).  Safe inside jemalloc and in signal handlers:
** no lock, no allocation but mmap(2) of a new part of the table.
*/
PERM_HIDDEN perm_thread_t *perm__thread_join(void);

static inline __attribute__((always_inline)) perm_thread_t *
perm__thread_self(void) {
  perm_thread_t *t = perm__me;
  return __builtin_expect(t != NULL, 1) ? t : perm__thread_join();
}

/* The slot with thread id tid, or NULL. */
PERM_HIDDEN perm_thread_t *perm__thread_find(int tid);
/* Gives t's slot back (its thread is gone, or leaving). */
PERM_HIDDEN void perm__thread_free(perm_thread_t *t);
/* In a fork child: the calling thread's slot takes its new id. */
PERM_HIDDEN void perm__thread_forked(void);

/* Walks the slots in use: it = {0}, then perm__threads_each until NULL. */
typedef struct perm_threads_iter_s {
  void *chunk;
  int i;
} perm_threads_iter_t;
PERM_HIDDEN perm_thread_t *perm__threads_each(perm_threads_iter_t *it);

#endif /* PERM_THREADS_H */
