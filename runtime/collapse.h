/*
** collapse.h - the region's huge pages given back after a checkpoint.
*/
#ifndef PERM_COLLAPSE_H
#define PERM_COLLAPSE_H

#include <pthread.h>
#include <stdint.h>

#include "perm_internal.h"
#include "region.h"

/*
** Collapses every 2 MiB unit of [base + PERM_REGION_SMALL_PART, base + top)
** whose pages are all in memory but no longer one huge page.  Best effort:
** returns the number of units collapsed, 0 when the kernel cannot say
** (no PAGEMAP_SCAN) or cannot collapse (no MADV_COLLAPSE, pages it will not
** merge).
*/
PERM_HIDDEN uint64_t perm__collapse_region(const perm_region_t *r);

/*
** The background collapser: one thread, started by the first request,
** that collapses the range of the last request while the program runs.
** Every call is made under the caller's own lock (api.c's), so calls never
** race one another; the worker and the caller share the fields below.
*/
typedef struct perm_collapser_s {
  pthread_mutex_t lock; /* Synchronizes everything below. */
  pthread_cond_t cond;  /* work requested, a pass ended, or quit */
  pthread_t thread;
  int owner;            /* pid of the process the worker runs in; 0: none */
  int tid;              /* the worker's thread id */
  int busy;             /* a pass is under way */
  int stop;             /* the pass ends before its next unit */
  int quit;
  uint64_t lo, hi;      /* the range requested; hi == 0: nothing to do */
  uint64_t units;       /* units collapsed by the last one */
  uint64_t ns;          /* and its duration */
} perm_collapser_t;

#define PERM_COLLAPSER_INIT                                                    \
  { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER }

/*
** Asks for a pass over the region (the range of perm__collapse_region);
** a pass under way ends first.  0, or -errno when the worker cannot start
** (then nothing is collapsed; the caller may collapse on its own thread).
*/
PERM_HIDDEN int perm__collapse_request(perm_collapser_t *c,
                                       const perm_region_t *r);
/*
** Ends the pass under way at its next unit and waits for it: before a
** fork (a child would share what the pass copies) and before the region
** is replaced.  What the last pass did goes to *units and *ns if not NULL.
*/
PERM_HIDDEN void perm__collapse_hold(perm_collapser_t *c, uint64_t *units,
                                     uint64_t *ns);
/* Stops the worker and joins it (perm_close). */
PERM_HIDDEN void perm__collapse_quit(perm_collapser_t *c);
/* Whether thread TID is the worker (perm_rollback counts the others). */
PERM_HIDDEN int perm__collapse_is_worker(perm_collapser_t *c, int tid);

#endif /* PERM_COLLAPSE_H */
