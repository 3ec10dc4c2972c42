/*
** region.c - the fixed-address reservation behind the persistent heap.
**
** The region is reserved PROT_NONE with MAP_NORESERVE, so a 64 GiB region
** costs no memory.  Runs are handed to jemalloc first-fit from a sorted free
** list, else from a bump pointer; runs of 2 MiB or more are 2 MiB-aligned so
** transparent huge pages can back them.  A released run goes back to
** PROT_NONE, which also drops its pages.
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

static uint64_t align_up(uint64_t v, uint64_t a) {
  return (v + a - 1) & ~(a - 1);
}

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
  pthread_mutex_init(&r->lock, NULL);
  r->base = base;
  r->capacity = capacity;
  r->top = 0;
  r->nfree = 0;
  r->file_backed = 0;
  return 0;
}

int perm__region_unreserve(perm_region_t *r) {
  if (r->base != 0)
    perm__sys_munmap((void *)r->base, r->capacity);
  r->base = 0;
  return 0;
}

/* Removes [off, off+len) from free entry i, which contains it. */
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
  } else if (r->nfree < PERM_REGION_MAX_FREE) {
    memmove(&r->free[i + 2], &r->free[i + 1], (r->nfree - i - 1) * sizeof *f);
    r->nfree++;
    r->free[i + 1].off = end;
    r->free[i + 1].len = f_end - end;
    f->len = off - f->off;
  } else {
    f->len = off - f->off; /* table full: forget the tail (leaks VA only) */
  }
}

/* Finds a place for len bytes; returns its offset or UINT64_MAX. */
static uint64_t region_place(perm_region_t *r, uint64_t len,
                             uint64_t hint_off) {
  uint64_t align =
      len >= PERM_REGION_HUGE ? PERM_REGION_HUGE : perm__page_size();
  if (hint_off != UINT64_MAX) {
    for (uint32_t i = 0; i < r->nfree; i++) {
      perm_region_run_t *f = &r->free[i];
      if (hint_off >= f->off && hint_off + len <= f->off + f->len) {
        free_take(r, i, hint_off, len);
        return hint_off;
      }
    }
    if (hint_off == r->top && r->top + len <= r->capacity) {
      r->top += len;
      return hint_off;
    }
  }
  for (uint32_t i = 0; i < r->nfree; i++) {
    perm_region_run_t *f = &r->free[i];
    uint64_t off = align_up(f->off, align);
    if (off + len <= f->off + f->len) {
      free_take(r, i, off, len);
      return off;
    }
  }
  uint64_t off = align_up(r->top, align);
  if (off + len > r->capacity || off + len < off)
    return UINT64_MAX;
  if (off > r->top && r->nfree < PERM_REGION_MAX_FREE) {
    /* Keep the alignment gap reusable. */
    r->free[r->nfree].off = r->top;
    r->free[r->nfree].len = off - r->top;
    r->nfree++;
  }
  r->top = off + len;
  return off;
}

void *perm__region_alloc(perm_region_t *r, size_t len, void *hint, int prot) {
  size_t page = perm__page_size();
  len = align_up(len, page);
  uint64_t hint_off = UINT64_MAX;
  if (hint != NULL && (uint64_t)hint >= r->base &&
      (uint64_t)hint + len <= r->base + r->capacity &&
      (uint64_t)hint % page == 0)
    hint_off = (uint64_t)hint - r->base;
  pthread_mutex_lock(&r->lock);
  uint64_t off = region_place(r, len, hint_off);
  pthread_mutex_unlock(&r->lock);
  if (off == UINT64_MAX) {
    perm__verbose("region full: cannot hand out %zu bytes (capacity %" PRIu64
                  "; raise PERM_SIZE)",
                  len, r->capacity);
    errno = ENOMEM;
    return NULL;
  }
  void *p = (void *)(r->base + off);
  /* A fresh anonymous mapping: the pages are zero whatever was there. */
  if (perm__sys_mmap(p, len, prot,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE,
                     -1, 0) == MAP_FAILED) {
    int err = errno;
    perm__region_release(r, p, len);
    errno = err;
    return NULL;
  }
  perm__track_note((uint64_t)p, len, 1); /* a new mapping, zero again */
  /*
  ** Huge pages make the checkpoint's fork cheap: it copies one page-table
  ** entry per 2 MiB instead of 512 (measured: 26 ms per GiB without, under
  ** 1 ms with).  Only a hint: where THP is off it does nothing.
  */
  if (len >= PERM_REGION_HUGE)
    madvise(p, len, MADV_HUGEPAGE);
  return p;
}

int perm__region_release(perm_region_t *r, void *addr, size_t len) {
  size_t page = perm__page_size();
  uint64_t off = (uint64_t)addr - r->base;
  len = align_up(len, page);
  perm__sys_mmap(addr, len, PROT_NONE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1,
                 0);
  perm__track_note((uint64_t)addr, len, 1);
  pthread_mutex_lock(&r->lock);
  uint32_t i = 0;
  while (i < r->nfree && r->free[i].off < off)
    i++;
  int merged = 0;
  if (i > 0 && r->free[i - 1].off + r->free[i - 1].len == off) {
    r->free[i - 1].len += len;
    merged = 1;
    if (i < r->nfree && off + len == r->free[i].off) {
      r->free[i - 1].len += r->free[i].len;
      memmove(&r->free[i], &r->free[i + 1],
              (r->nfree - i - 1) * sizeof r->free[0]);
      r->nfree--;
    }
  } else if (i < r->nfree && off + len == r->free[i].off) {
    r->free[i].off = off;
    r->free[i].len += len;
    merged = 1;
  }
  if (!merged && r->nfree < PERM_REGION_MAX_FREE) {
    memmove(&r->free[i + 1], &r->free[i], (r->nfree - i) * sizeof r->free[0]);
    r->free[i].off = off;
    r->free[i].len = len;
    r->nfree++;
  }
  /* A free run at the top lowers the bump pointer. */
  if (r->nfree > 0 &&
      r->free[r->nfree - 1].off + r->free[r->nfree - 1].len == r->top) {
    r->top = r->free[r->nfree - 1].off;
    r->nfree--;
  }
  pthread_mutex_unlock(&r->lock);
  return 0;
}

int perm__region_purge(perm_region_t *r, void *addr, size_t len) {
  /*
  ** MADV_DONTNEED on a private file mapping brings back the file's page, not
  ** zeros; jemalloc expects zeros, so a file-backed region gets fresh pages.
  */
  int rc;
  if (r->file_backed)
    rc = perm__sys_mmap(addr, len, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE,
                        -1, 0) == MAP_FAILED
             ? -1
             : 0;
  else
    rc = madvise(addr, len, MADV_DONTNEED);
  /* Zero now, and a delta must say so: the kernel may not count it. */
  if (rc == 0)
    perm__track_note((uint64_t)addr, len, r->file_backed);
  return rc;
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
