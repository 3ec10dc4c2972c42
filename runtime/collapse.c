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
*/
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
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
} collapse_unit_t;

static void collapse_close(collapse_unit_t *u) {
  if (u->addr != 0 && u->small && u->present == PERM_REGION_HUGE &&
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

uint64_t perm__collapse_region(const perm_region_t *r) {
  uint64_t lo = r->base + PERM_REGION_SMALL_PART, hi = r->base + r->top;
  hi &= ~(PERM_REGION_HUGE - 1);
  if (r->base == 0 || lo >= hi)
    return 0;
  int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 0;
  static struct page_region vec[COLLAPSE_VEC];
  collapse_unit_t u = {0};
  while (lo < hi) {
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
