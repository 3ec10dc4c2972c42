/*
** collapse.c - the region's huge pages given back after a checkpoint.
**
** While a checkpoint's child lives, its copy and the program share every
** page; the program's first write to a shared huge page splits it and
** copies 4 KiB.  After the child is gone those units stay split, and every
** later fork copies 512 page-table entries for each of them instead of one:
** a 1 GiB heap written all over during one checkpoint paused 20-25 ms at
** every checkpoint after, instead of about 1 ms.  khugepaged merges them
** again at its own slow pace; MADV_COLLAPSE (Linux 6.1) does it at once.
**
** Only units whose 512 pages are all in memory are collapsed: collapsing a
** unit with holes fills them, memory the program does not use (jemalloc
** purges pages of free extents).  PAGEMAP_SCAN (Linux 6.7) lists present
** pages and which are mapped huge in one pass; without it nothing is done.
** The kernel does not collapse pages write-protected for tracking (PERM's
** incremental mode protects every page it reports), so there this mostly
** finds nothing to do: the measured trade-off is in README.PERM, section 6.
**
** The copy costs 0.4-5 ms per unit (measured), so it is done by a thread of
** the runtime's own while the program runs (PERM_COLLAPSE=1), or on the
** thread that waited for the checkpoint (PERM_COLLAPSE=sync).  The worker
** never calls the allocator and stops between units when a checkpoint
** forks: a pass copying pages the new child shares would double them.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "collapse.h"
#include "uffd_wp.h"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

#define COLLAPSE_VEC 1024 /* page_region entries per PAGEMAP_SCAN */

/* The unit being gathered: its present bytes, and whether some are small. */
typedef struct collapse_unit_s {
  uint64_t addr;    /* 2 MiB-aligned; 0 = none */
  uint64_t present; /* bytes in memory */
  int small;        /* some of them not mapped huge */
  uint64_t done;    /* units collapsed so far */
  int *stop;        /* when set (the worker's), no more units */
} collapse_unit_t;

static int collapse_stopped(const collapse_unit_t *u) {
  return u->stop != NULL && __atomic_load_n(u->stop, __ATOMIC_ACQUIRE);
}

static void collapse_close(collapse_unit_t *u) {
  if (u->addr != 0 && u->small && u->present == PERM_REGION_HUGE &&
      !collapse_stopped(u) &&
      madvise((void *)(uintptr_t)u->addr, PERM_REGION_HUGE, MADV_COLLAPSE) == 0)
    u->done++;
  u->addr = 0;
  u->present = 0;
  u->small = 0;
}

/* [start, end) present, huge or not, in address order. */
static void collapse_add(collapse_unit_t *u, uint64_t start, uint64_t end,
                         int huge) {
  while (start < end) {
    uint64_t unit = start & ~(PERM_REGION_HUGE - 1);
    uint64_t stop =
        unit + PERM_REGION_HUGE < end ? unit + PERM_REGION_HUGE : end;
    if (u->addr != unit) {
      collapse_close(u);
      u->addr = unit;
    }
    u->present += stop - start;
    u->small |= !huge;
    start = stop;
  }
}

/* The range perm__collapse_region covers, or 0 when there is none. */
static int collapse_bounds(const perm_region_t *r, uint64_t *lo, uint64_t *hi) {
  *lo = r->base + PERM_REGION_SMALL_PART;
  *hi = (r->base + r->top) & ~(PERM_REGION_HUGE - 1);
  return r->base != 0 && *lo < *hi;
}

/*
** Collapses [lo, hi) until *STOP (if STOP) is set.  VEC is the caller's:
** the worker's pass runs without api.lock, a synchronous one under it.
*/
static uint64_t collapse_range(uint64_t lo, uint64_t hi, int *stop,
                               struct page_region *vec) {
  int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 0;
  collapse_unit_t u = {.stop = stop};
  while (lo < hi && !collapse_stopped(&u)) {
    struct pm_scan_arg a = {.size = sizeof a,
                            .start = lo,
                            .end = hi,
                            .vec = (uint64_t)(uintptr_t)vec,
                            .vec_len = COLLAPSE_VEC,
                            .category_mask = PAGE_IS_PRESENT,
                            .return_mask = PAGE_IS_PRESENT | PAGE_IS_HUGE};
    int n = ioctl(fd, PAGEMAP_SCAN, &a);
    if (n < 0 || a.walk_end <= lo)
      break; /* no PAGEMAP_SCAN, or no progress: leave the rest */
    for (int i = 0; i < n; i++)
      collapse_add(&u, vec[i].start, vec[i].end,
                   (vec[i].categories & PAGE_IS_HUGE) != 0);
    lo = a.walk_end;
  }
  collapse_close(&u);
  close(fd);
  return u.done;
}

uint64_t perm__collapse_region(const perm_region_t *r) {
  static struct page_region vec[COLLAPSE_VEC]; /* callers hold api.lock */
  uint64_t lo, hi;
  return collapse_bounds(r, &lo, &hi) ? collapse_range(lo, hi, NULL, vec) : 0;
}

/*------------------------------------------------------------- the worker ---*/

static void *collapse_worker(void *arg) {
  static struct page_region vec[COLLAPSE_VEC]; /* 24 KiB: not on its stack */
  perm_collapser_t *c = arg;
  pthread_mutex_lock(&c->lock);
  __atomic_store_n(&c->tid, (int)syscall(SYS_gettid), __ATOMIC_RELEASE);
  pthread_cond_broadcast(&c->cond);
  for (;;) {
    while (!c->quit && c->hi == 0)
      pthread_cond_wait(&c->cond, &c->lock);
    if (c->quit)
      break;
    uint64_t lo = c->lo, hi = c->hi;
    c->lo = c->hi = 0;
    c->busy = 1;
    pthread_mutex_unlock(&c->lock);
    uint64_t t0 = perm__now_ns();
    uint64_t n = collapse_range(lo, hi, &c->stop, vec);
    uint64_t t1 = perm__now_ns();
    pthread_mutex_lock(&c->lock);
    c->busy = 0;
    c->units = n;
    c->ns = t1 - t0;
    pthread_cond_broadcast(&c->cond);
  }
  __atomic_store_n(&c->tid, 0, __ATOMIC_RELEASE);
  pthread_mutex_unlock(&c->lock);
  return NULL;
}

/*
** In a child forked by the program the worker does not exist, and its lock
** may have been copied held: the child starts with none.
*/
static void collapse_adopt(perm_collapser_t *c) {
  if (c->owner == 0 || c->owner == (int)getpid())
    return;
  pthread_mutex_init(&c->lock, NULL);
  pthread_cond_init(&c->cond, NULL);
  c->owner = c->tid = c->busy = c->stop = c->quit = 0;
  c->lo = c->hi = 0;
}

int perm__collapse_request(perm_collapser_t *c, const perm_region_t *r) {
  uint64_t lo, hi;
  collapse_adopt(c);
  if (!collapse_bounds(r, &lo, &hi))
    return 0;
  pthread_mutex_lock(&c->lock);
  if (c->owner == 0) {
    c->quit = c->stop = 0;
    int rc = perm__own_thread_create(&c->thread, collapse_worker, c);
    if (rc != 0) {
      pthread_mutex_unlock(&c->lock);
      return -rc;
    }
    c->owner = (int)getpid();
    while (c->tid == 0)
      pthread_cond_wait(&c->cond, &c->lock);
  }
  /* A pass under way has seen its stop; the new one starts clear. */
  __atomic_store_n(&c->stop, 1, __ATOMIC_RELEASE);
  while (c->busy)
    pthread_cond_wait(&c->cond, &c->lock);
  __atomic_store_n(&c->stop, 0, __ATOMIC_RELEASE);
  c->lo = lo;
  c->hi = hi;
  pthread_cond_broadcast(&c->cond);
  pthread_mutex_unlock(&c->lock);
  return 0;
}

void perm__collapse_hold(perm_collapser_t *c, uint64_t *units, uint64_t *ns) {
  collapse_adopt(c);
  if (units != NULL)
    *units = 0;
  if (ns != NULL)
    *ns = 0;
  if (c->owner == 0)
    return;
  pthread_mutex_lock(&c->lock);
  c->lo = c->hi = 0; /* a pass not yet begun is not begun */
  __atomic_store_n(&c->stop, 1, __ATOMIC_RELEASE);
  while (c->busy)
    pthread_cond_wait(&c->cond, &c->lock);
  __atomic_store_n(&c->stop, 0, __ATOMIC_RELEASE);
  if (units != NULL)
    *units = c->units;
  if (ns != NULL)
    *ns = c->ns;
  c->units = c->ns = 0; /* each pass is told once */
  pthread_mutex_unlock(&c->lock);
}

void perm__collapse_quit(perm_collapser_t *c) {
  collapse_adopt(c);
  if (c->owner == 0)
    return;
  pthread_mutex_lock(&c->lock);
  c->quit = 1;
  __atomic_store_n(&c->stop, 1, __ATOMIC_RELEASE);
  pthread_cond_broadcast(&c->cond);
  pthread_mutex_unlock(&c->lock);
  pthread_join(c->thread, NULL);
  c->owner = 0;
  c->quit = c->stop = c->busy = 0;
  c->lo = c->hi = 0;
}

int perm__collapse_is_worker(perm_collapser_t *c, int tid) {
  return c->owner == (int)getpid() && tid != 0 &&
         tid == __atomic_load_n(&c->tid, __ATOMIC_ACQUIRE);
}
