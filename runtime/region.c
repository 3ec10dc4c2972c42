/*
** region.c - the fixed-address reservation behind the persistent heap.
**
** The region is reserved PROT_NONE with MAP_NORESERVE, so a 64 GiB region
** costs no memory, and advised MADV_HUGEPAGE once (but for its first 32 MiB,
** perm__region_advise).  Runs are handed to
** jemalloc first-fit from a sorted free list, else from a bump pointer, at
** page granularity: nothing is lost to alignment, so a region holds what its
** size says.  Only runs of whole 2 MiB units (jemalloc's metadata blocks,
** which it wants 2 MiB-aligned) are aligned; the gap before one stays on the
** free list for smaller runs.
**
** Huge pages do not need aligned runs: transparent huge pages can back any
** aligned 2 MiB range that lies inside one mapping with VM_HUGEPAGE.  So the
** region never replaces its mapping for a run: it makes pages writable with
** mprotect, 2 MiB at a time ahead of the bump pointer (committed), and the
** kernel merges them into one mapping whose every whole 2 MiB range gets a
** huge page at its first touch.  The checkpoint's fork then copies one
** page-table entry per 2 MiB.  Freed runs stay writable; their pages are
** dropped (MADV_DONTNEED), so they read as zero, as jemalloc assumes of what
** it maps.  Only below file_top, after a lazy restore, can a page still be a
** private mapping of the image file, where MADV_DONTNEED would bring back the
** file's bytes: there a fresh anonymous mapping replaces it.
**
** The free list starts in the state itself (PERM_REGION_INLINE_FREE entries)
** and moves into a run of the region, doubling, when it needs more; a run
** being freed can hold the list itself when nothing else can.  Bytes no list
** can hold are counted in lost and reported, never forgotten silently.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "region.h"
#include "sys.h"
#include "track.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define REGION_NONE UINT64_MAX /* no offset */

static uint64_t align_up(uint64_t v, uint64_t a) {
  return (v + a - 1) & ~(a - 1);
}

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

void perm__region_lock_reinit(perm_region_t *r) {
  pthread_mutex_init(&r->lock, NULL);
}

void perm__region_describe_overlap(uint64_t base, uint64_t len, char *buf,
                                   size_t size) {
  snprintf(buf, size, "an unknown mapping");
  FILE *f = fopen("/proc/self/maps", "re");
  if (f == NULL)
    return;
  char line[512];
  while (fgets(line, sizeof line, f) != NULL) {
    uint64_t lo, hi;
    if (sscanf(line, "%" SCNx64 "-%" SCNx64, &lo, &hi) != 2)
      continue;
    if (lo < base + len && hi > base) {
      line[strcspn(line, "\n")] = '\0';
      snprintf(buf, size, "the mapping '%s'", line);
      break;
    }
  }
  fclose(f);
}

int perm__region_reserve(perm_region_t *r, uint64_t base, uint64_t capacity) {
  size_t page = perm__page_size();
  if (base == 0 || base % PERM_REGION_HUGE != 0 || capacity == 0 ||
      capacity % page != 0)
    return perm__errorf(EINVAL,
                        "region 0x%" PRIx64 "+%" PRIu64
                        ": the address must be 2 MiB-aligned and the size a "
                        "multiple of the page size (PERM_ADDRESS, PERM_SIZE)",
                        base, capacity);
  void *p = perm__sys_mmap(
      (void *)base, capacity, PROT_NONE,
      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
  if (p == MAP_FAILED || p != (void *)base) {
    int err = p == MAP_FAILED ? errno : EEXIST;
    if (p != MAP_FAILED)
      perm__sys_munmap(p, capacity); /* an old kernel ignored NOREPLACE */
    char who[600];
    perm__region_describe_overlap(base, capacity, who, sizeof who);
    if (err == EEXIST)
      return perm__errorf(EEXIST,
                          "cannot reserve the persistent region "
                          "0x%" PRIx64 "-0x%" PRIx64 ": it overlaps %s; choose "
                          "another address with PERM_ADDRESS (new heaps only) "
                          "or a smaller PERM_SIZE",
                          base, base + capacity, who);
    return perm__errorf_errno(err,
                              "cannot reserve the persistent region "
                              "0x%" PRIx64 "-0x%" PRIx64,
                              base, base + capacity);
  }
  /* Every mapping split from this one inherits the advice. */
  perm__region_advise(base, base, capacity);
  memset(r, 0, sizeof *r);
  pthread_mutex_init(&r->lock, NULL);
  r->base = base;
  r->capacity = capacity;
  r->free = r->free_inline;
  r->free_cap = PERM_REGION_INLINE_FREE;
  return 0;
}

int perm__region_unreserve(perm_region_t *r) {
  if (r->base != 0)
    perm__sys_munmap((void *)r->base, r->capacity);
  r->base = 0;
  return 0;
}

/*---------------------------------------------------------------- pages ---*/

/* Makes [0, end) writable, in whole 2 MiB units; lock held. */
static int region_commit(perm_region_t *r, uint64_t end) {
  if (end <= r->committed)
    return 0;
  uint64_t to = min_u64(align_up(end, PERM_REGION_HUGE), r->capacity);
  if (mprotect((void *)(r->base + r->committed), to - r->committed,
               PROT_READ | PROT_WRITE) != 0)
    return -errno;
  r->committed = to;
  return 0;
}

/*
** Pages of [off, off+len) read as zero afterwards, and use no memory.  An
** incremental delta must record them as zero, whether the kernel's write
** tracking counts a drop as a write or not: noted (track.c), and a fresh
** mapping registered for tracking.
*/
static int region_zero(perm_region_t *r, uint64_t off, uint64_t len) {
  uint64_t end = off + len;
  if (off < r->file_top) {
    uint64_t fend = min_u64(end, r->file_top);
    void *p = (void *)(r->base + off);
    if (perm__sys_mmap(p, fend - off, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE,
                       -1, 0) == MAP_FAILED)
      return -errno;
    perm__region_advise(r->base, (uint64_t)p, fend - off); /* a new mapping */
    perm__track_note(r->base + off, fend - off, 1);
    off = fend;
  }
  if (end > off &&
      madvise((void *)(r->base + off), end - off, MADV_DONTNEED) != 0)
    return -errno;
  if (end > off)
    perm__track_note(r->base + off, end - off, 0);
  return 0;
}

/*------------------------------------------------------------ free list ---*/

/* Removes [off, off+len) from entry i, which contains it; room for a split. */
static void free_take(perm_region_t *r, uint32_t i, uint64_t off,
                      uint64_t len) {
  perm_region_run_t *f = &r->free[i];
  uint64_t f_end = f->off + f->len, end = off + len;
  if (off == f->off && end == f_end) {
    memmove(&r->free[i], &r->free[i + 1], (r->nfree - i - 1) * sizeof *f);
    r->nfree--;
  } else if (off == f->off) {
    f->off = end;
    f->len = f_end - end;
  } else if (end == f_end) {
    f->len = off - f->off;
  } else {
    memmove(&r->free[i + 2], &r->free[i + 1], (r->nfree - i - 1) * sizeof *f);
    r->nfree++;
    r->free[i + 1].off = end;
    r->free[i + 1].len = f_end - end;
    f->len = off - f->off;
  }
}

/* The first entry whose offset is above off. */
static uint32_t free_find(const perm_region_t *r, uint64_t off) {
  uint32_t lo = 0, hi = r->nfree;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (r->free[mid].off <= off)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/* Whether freeing [off, off+len) would need an entry of its own. */
static int free_needs_entry(const perm_region_t *r, uint64_t off,
                            uint64_t len) {
  if (off + len == r->top)
    return 0;
  uint32_t i = free_find(r, off);
  if (i > 0 && r->free[i - 1].off + r->free[i - 1].len == off)
    return 0;
  return !(i < r->nfree && off + len == r->free[i].off);
}

/*
** Adds the zero run [off, off+len) to the free list, coalescing; lock held,
** and room for one entry unless free_needs_entry says none is needed.
*/
static void free_insert(perm_region_t *r, uint64_t off, uint64_t len) {
  if (len == 0)
    return;
  uint32_t i = free_find(r, off);
  int prev = i > 0 && r->free[i - 1].off + r->free[i - 1].len == off;
  int next = i < r->nfree && off + len == r->free[i].off;
  if (prev && next) {
    r->free[i - 1].len += len + r->free[i].len;
    memmove(&r->free[i], &r->free[i + 1],
            (r->nfree - i - 1) * sizeof r->free[0]);
    r->nfree--;
  } else if (prev) {
    r->free[i - 1].len += len;
  } else if (next) {
    r->free[i].off = off;
    r->free[i].len += len;
  } else if (off + len == r->top) {
    r->top = off;
  } else {
    memmove(&r->free[i + 1], &r->free[i], (r->nfree - i) * sizeof r->free[0]);
    r->free[i].off = off;
    r->free[i].len = len;
    r->nfree++;
  }
  /* A free run at the top lowers the bump pointer. */
  while (r->nfree > 0 &&
         r->free[r->nfree - 1].off + r->free[r->nfree - 1].len == r->top) {
    r->top = r->free[r->nfree - 1].off;
    r->nfree--;
  }
}

/*
** len bytes for the region's own use: the start of a free run (never a
** split, so the list needs no room) or the bump pointer; REGION_NONE if
** neither has them.  Lock held.
*/
static uint64_t region_take_plain(perm_region_t *r, uint64_t len) {
  for (uint32_t i = 0; i < r->nfree; i++)
    if (r->free[i].len >= len) {
      uint64_t off = r->free[i].off;
      free_take(r, i, off, len);
      return off;
    }
  if (len > r->capacity - r->top)
    return REGION_NONE;
  r->top += len;
  return r->top - len;
}

/*
** Moves the free list to a run with room for need more entries.  donor, if
** not NULL, is a zero run being freed that may hold the list when nothing
** else can: what the list does not use of it is left in *donor.  Lock held.
*/
static int free_grow(perm_region_t *r, uint32_t need, perm_region_run_t *donor) {
  uint64_t cap = r->free_cap;
  while (cap < (uint64_t)r->nfree + need)
    cap *= 2;
  if (cap > UINT32_MAX / 2)
    return -ENOMEM;
  uint64_t bytes = align_up(cap * sizeof(perm_region_run_t), perm__page_size());
  cap = bytes / sizeof(perm_region_run_t);
  uint64_t off = region_take_plain(r, bytes);
  if (off != REGION_NONE) {
    int rc = region_commit(r, off + bytes);
    if (rc != 0) {
      free_insert(r, off, bytes); /* only ever the start of a run: no room */
      return rc;
    }
  } else if (donor != NULL && donor->len >= bytes) {
    off = donor->off;
    donor->off += bytes;
    donor->len -= bytes;
  } else {
    return -ENOMEM;
  }
  perm_region_run_t *list = (perm_region_run_t *)(r->base + off);
  memcpy(list, r->free, r->nfree * sizeof *list);
  uint64_t old_off = (uint64_t)r->free - r->base, old_len = r->free_run_len;
  r->free = list;
  r->free_cap = (uint32_t)cap;
  r->free_run_len = bytes;
  /* The old list's run is freed like any other (the new list has room). */
  if (old_len != 0 && region_zero(r, old_off, old_len) == 0)
    free_insert(r, old_off, old_len);
  else if (old_len != 0)
    r->lost += old_len;
  return 0;
}

/* Room for one more entry, growing the list if need be; lock held. */
static int free_room(perm_region_t *r) {
  return r->nfree < r->free_cap ? 0 : free_grow(r, 1, NULL);
}

/*------------------------------------------------------------ placement ---*/

/*
** First-fit for len bytes at the given alignment, else at the top; without
** room in the list, only places that split nothing.  Lock held.
*/
static uint64_t region_search(perm_region_t *r, uint64_t len, uint64_t align,
                              int can_split) {
  for (uint32_t i = 0; i < r->nfree; i++) {
    perm_region_run_t *f = &r->free[i];
    uint64_t off = align_up(f->off, align), end = f->off + f->len;
    if (off >= end || len > end - off)
      continue;
    if (off != f->off && off + len != end && !can_split)
      continue;
    free_take(r, i, off, len);
    return off;
  }
  uint64_t off = align_up(r->top, align);
  if ((off > r->top && !can_split) || off > r->capacity ||
      len > r->capacity - off)
    return REGION_NONE;
  if (off > r->top) {
    r->free[r->nfree].off = r->top; /* above every other entry */
    r->free[r->nfree].len = off - r->top;
    r->nfree++;
  }
  r->top = off + len;
  return off;
}

/*
** Finds a place for len bytes at hint_off if that is free, else first-fit;
** returns its offset or REGION_NONE.  Lock held.
*/
static uint64_t region_place(perm_region_t *r, uint64_t len,
                             uint64_t hint_off) {
  /* A full list grows now, not in the middle of a search. */
  int can_split = free_room(r) == 0;
  if (hint_off != REGION_NONE) {
    uint32_t i = free_find(r, hint_off);
    if (i > 0) {
      perm_region_run_t *f = &r->free[i - 1];
      uint64_t end = f->off + f->len;
      if (hint_off < end && len <= end - hint_off &&
          (can_split || hint_off == f->off || hint_off + len == end)) {
        free_take(r, i - 1, hint_off, len);
        return hint_off;
      }
    }
    if (hint_off == r->top && len <= r->capacity - r->top) {
      r->top += len;
      return hint_off;
    }
  }
  /*
  ** Whole 2 MiB units are jemalloc's metadata blocks, which it wants
  ** 2 MiB-aligned (it would map more and trim otherwise); unaligned only when
  ** no aligned place is left.
  */
  size_t page = perm__page_size();
  uint64_t off = REGION_NONE;
  if (len % PERM_REGION_HUGE == 0)
    off = region_search(r, len, PERM_REGION_HUGE, can_split);
  if (off == REGION_NONE)
    off = region_search(r, len, page, can_split);
  return off;
}

void *perm__region_alloc(perm_region_t *r, size_t len, void *hint, int prot) {
  size_t page = perm__page_size();
  len = align_up(len, page);
  uint64_t hint_off = REGION_NONE;
  if (hint != NULL && (uint64_t)hint >= r->base &&
      (uint64_t)hint - r->base <= r->capacity &&
      len <= r->capacity - ((uint64_t)hint - r->base) &&
      (uint64_t)hint % page == 0)
    hint_off = (uint64_t)hint - r->base;
  pthread_mutex_lock(&r->lock);
  uint64_t off = len == 0 ? REGION_NONE : region_place(r, len, hint_off);
  int rc = off == REGION_NONE ? -ENOMEM : region_commit(r, off + len);
  if (rc != 0 && off != REGION_NONE) {
    if (free_needs_entry(r, off, len) && free_room(r) != 0)
      r->lost += len;
    else
      free_insert(r, off, len); /* still zero: never handed out */
  }
  pthread_mutex_unlock(&r->lock);
  /*
  ** No message: jemalloc asks for more than it needs and copes with a
  ** refusal.  A request that truly does not fit is reported by the malloc
  ** wrappers when they return NULL (perm__heap_out_of_memory).
  */
  if (rc != 0) {
    errno = -rc;
    return NULL;
  }
  void *p = (void *)(r->base + off);
  if (prot != (PROT_READ | PROT_WRITE) &&
      (rc = perm__region_protect(r, p, len, prot)) != 0) {
    perm__region_release(r, p, len);
    errno = -rc;
    return NULL;
  }
  return p;
}

int perm__region_release(perm_region_t *r, void *addr, size_t len) {
  size_t page = perm__page_size();
  uint64_t off = (uint64_t)addr - r->base;
  len = align_up(len, page);
  if (len == 0 || off > r->capacity || len > r->capacity - off)
    return -EINVAL;
  /* Zero before the run can be handed out again; writable, as free runs are. */
  int rc = region_zero(r, off, len);
  if (rc == 0 && __atomic_load_n(&r->odd_prot, __ATOMIC_RELAXED) &&
      mprotect(addr, len, PROT_READ | PROT_WRITE) != 0)
    rc = -errno;
  pthread_mutex_lock(&r->lock);
  perm_region_run_t run = {off, len};
  if (rc == 0 && free_needs_entry(r, off, len) && r->nfree == r->free_cap)
    rc = free_grow(r, 1, &run);
  if (rc == 0)
    free_insert(r, run.off, run.len);
  else
    r->lost += len;
  uint64_t lost = r->lost;
  pthread_mutex_unlock(&r->lock);
  if (rc != 0)
    perm__verbose("the persistent region cannot reuse %zu bytes at %p (%s): "
                  "%" PRIu64 " bytes lost so far; this heap holds less than "
                  "PERM_SIZE says",
                  len, addr, strerror(-rc), lost);
  return 0; /* jemalloc forgets the run either way */
}

int perm__region_purge(perm_region_t *r, void *addr, size_t len) {
  uint64_t off = (uint64_t)addr - r->base;
  return region_zero(r, off, align_up(len, perm__page_size()));
}

int perm__region_protect(perm_region_t *r, void *addr, size_t len,
                         int prot) {
  uint64_t off = (uint64_t)addr - r->base;
  len = align_up(len, perm__page_size());
  __atomic_store_n(&r->odd_prot, 1, __ATOMIC_RELAXED);
  int rc = prot == PROT_NONE ? region_zero(r, off, len) : 0;
  if (rc == 0 && mprotect(addr, len, prot) != 0)
    rc = -errno;
  return rc;
}

int perm__region_rearm(perm_region_t *r) {
  pthread_mutex_init(&r->lock, NULL);
  /*
  ** The restore mapped the runs, and left the gaps between them PROT_NONE;
  ** pages below top may be the image file's until rewritten.
  */
  r->file_top = r->file_backed ? r->top : 0;
  r->odd_prot = 0;
  r->committed = min_u64(align_up(r->top, PERM_REGION_HUGE), r->capacity);
  if (r->committed != 0 &&
      mprotect((void *)r->base, r->committed, PROT_READ | PROT_WRITE) != 0)
    return perm__errorf_errno(errno,
                              "cannot make the persistent region writable "
                              "at 0x%" PRIx64,
                              r->base);
  perm__region_advise(r->base, r->base, r->capacity);
  return 0;
}

uint64_t perm__region_available(perm_region_t *r) {
  pthread_mutex_lock(&r->lock);
  uint64_t n = r->capacity - r->top;
  for (uint32_t i = 0; i < r->nfree; i++)
    n += r->free[i].len;
  pthread_mutex_unlock(&r->lock);
  return n;
}

uint64_t perm__region_largest(perm_region_t *r) {
  pthread_mutex_lock(&r->lock);
  uint64_t n = r->capacity - r->top;
  for (uint32_t i = 0; i < r->nfree; i++)
    if (r->free[i].len > n)
      n = r->free[i].len;
  pthread_mutex_unlock(&r->lock);
  return n;
}

int perm__region_foreach_run(const perm_region_t *r,
                             int (*fn)(void *arg, uint64_t addr, uint64_t len),
                             void *arg) {
  uint64_t off = 0;
  for (uint32_t i = 0; i <= r->nfree; i++) {
    uint64_t end = i < r->nfree ? r->free[i].off : r->top;
    if (end > off) {
      int rc = fn(arg, r->base + off, end - off);
      if (rc != 0)
        return rc;
    }
    if (i < r->nfree)
      off = r->free[i].off + r->free[i].len;
  }
  return 0;
}

void perm__region_advise(uint64_t base, uint64_t addr, uint64_t len) {
  uint64_t split = base + PERM_REGION_SMALL_PART, end = addr + len;
  if (addr < split)
    madvise((void *)addr, min_u64(end, split) - addr, MADV_NOHUGEPAGE);
  if (end > split) {
    uint64_t from = addr > split ? addr : split;
    madvise((void *)from, end - from, MADV_HUGEPAGE);
  }
}
