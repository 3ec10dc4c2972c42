/*
** safepoint.h - is a thread inside the private allocator?  Asked of every
** thread only when a fork needs the answer, so that the allocator's calls
** themselves pay nothing to be asked (heap.h, "The gate").
*/
#ifndef PERM_SAFEPOINT_H
#define PERM_SAFEPOINT_H

#include "perm_internal.h"

struct perm_thread_s;

/* Answers of perm__safepoint_ask. */
#define PERM_SAFEPOINT_OUTSIDE 0 /* not inside, and will not enter */
#define PERM_SAFEPOINT_INSIDE 1  /* inside: ask again later */
#define PERM_SAFEPOINT_ASKED 2   /* the question is on its way */

/*
** Installs the signal the question travels by, once per process.  Fails
** (-errno, message) where it cannot be used; then threads publish their
** state on every call instead (heap.h, PERM_GATE_TLS).
*/
PERM_HIDDEN int perm__safepoint_init(void);
/* A new round of questions: answers of earlier rounds no longer count. */
PERM_HIDDEN void perm__safepoint_round(void);
/*
** Asks thread t (not the caller) whether it is inside the allocator, from
** /proc when it is blocked (its instruction pointer is there), else by the
** signal.  The gate's pending bit must be set already.
*/
PERM_HIDDEN int perm__safepoint_ask(struct perm_thread_s *t);
/* The signal PERM keeps for itself (README.PERM, section 13). */
PERM_HIDDEN int perm__safepoint_signal(void);

#endif /* PERM_SAFEPOINT_H */
