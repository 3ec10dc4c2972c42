/*
** track.c - which pages of the region changed since the last checkpoint.
**
** The kernel tracks writes: the region is registered with a userfaultfd in
** asynchronous write-protect mode (UFFD_FEATURE_WP_ASYNC: a write to a
** protected page just clears its protection, no fault is delivered; with
** UFFD_FEATURE_WP_UNPOPULATED untouched pages count as protected too), and
** PAGEMAP_SCAN with PM_SCAN_WP_MATCHING both reports the pages written
** since the last scan and protects them again, in one pass over the page
** tables.  Only pages present (or swapped) count: a page the scan reports
** but that holds nothing is one never touched since tracking started.
**
** What the kernel does not see as a write goes to a journal: ranges the
** allocator purged (MADV_DONTNEED: they read as zero now, which a delta
** must record) and ranges mapped afresh (a new mapping is not registered:
** it is registered here, and its old bytes are gone).  The journal is a
** fixed array filled under a spin lock, because it is written from inside
** the allocator; when it overflows, the next image is a full one.
**
** A process forked from a tracking one tracks nothing: its mappings are
** not registered, and the descriptors refer to the parent's memory.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sys.h"
#include "track.h"
#include "uffd_wp.h"

#define TRACK_JOURNAL_MAX 8192 /* ranges noted between two checkpoints */
#define TRACK_SCAN_VEC 4096    /* page_region entries per PAGEMAP_SCAN */

typedef struct perm_track_s {
  int uffd;              /* -1 when not tracking */
  int pagemap;           /* /proc/self/pagemap of this process */
  pid_t pid;             /* the process the descriptors belong to */
  uint64_t base, capacity;
  int lock;              /* spin lock: guards the journal */
  int lost;              /* a change was not recorded: next image full */
  uint32_t njournal;
  perm_image_run_t journal[TRACK_JOURNAL_MAX];
} perm_track_t;

static perm_track_t track = {.uffd = -1, .pagemap = -1};

/*------------------------------------------------------------- ranges ---*/

int perm__ranges_add(perm_ranges_t *r, uint64_t addr, uint64_t len) {
  if (len == 0)
    return 0;
  if (r->n > 0 && r->v[r->n - 1].addr + r->v[r->n - 1].length == addr) {
    r->v[r->n - 1].length += len; /* the common case: scans come in order */
    return 0;
  }
  if (r->n == r->cap) {
    size_t ncap = r->cap ? r->cap * 2 : 256;
    void *p = perm__trealloc(r->v, ncap * sizeof *r->v);
    if (p == NULL)
      return -ENOMEM;
    r->v = p;
    r->cap = ncap;
  }
  r->v[r->n++] = (perm_image_run_t){addr, len};
  return 0;
}

int perm__ranges_append(perm_ranges_t *r, const perm_ranges_t *o) {
  for (size_t i = 0; i < o->n; i++)
    if (perm__ranges_add(r, o->v[i].addr, o->v[i].length) != 0)
      return -ENOMEM;
  return 0;
}

static int ranges_cmp(const void *a, const void *b) {
  const perm_image_run_t *x = a, *y = b;
  return x->addr < y->addr ? -1 : x->addr > y->addr;
}

void perm__ranges_normalise(perm_ranges_t *r) {
  if (r->n < 2)
    return;
  qsort(r->v, r->n, sizeof *r->v, ranges_cmp);
  size_t k = 0;
  for (size_t i = 1; i < r->n; i++) {
    perm_image_run_t *last = &r->v[k];
    uint64_t end = last->addr + last->length;
    if (r->v[i].addr <= end) {
      uint64_t e = r->v[i].addr + r->v[i].length;
      if (e > end)
        last->length = e - last->addr;
    } else {
      r->v[++k] = r->v[i];
    }
  }
  r->n = k + 1;
}

int perm__ranges_clip(perm_ranges_t *r, const perm_image_run_t *runs,
                      size_t nruns) {
  perm_ranges_t out = {0};
  size_t j = 0;
  for (size_t i = 0; i < r->n; i++) {
    uint64_t lo = r->v[i].addr, hi = lo + r->v[i].length;
    while (j < nruns && runs[j].addr + runs[j].length <= lo)
      j++;
    for (size_t k = j; k < nruns && runs[k].addr < hi; k++) {
      uint64_t a = runs[k].addr > lo ? runs[k].addr : lo;
      uint64_t b = runs[k].addr + runs[k].length < hi
                       ? runs[k].addr + runs[k].length
                       : hi;
      if (b > a && perm__ranges_add(&out, a, b - a) != 0) {
        perm__ranges_free(&out);
        return -ENOMEM;
      }
    }
  }
  perm__ranges_free(r);
  *r = out;
  return 0;
}

uint64_t perm__ranges_bytes(const perm_ranges_t *r) {
  uint64_t n = 0;
  for (size_t i = 0; i < r->n; i++)
    n += r->v[i].length;
  return n;
}

void perm__ranges_free(perm_ranges_t *r) {
  perm__tfree(r->v);
  memset(r, 0, sizeof *r);
}

/*------------------------------------------------------------ tracking ---*/

static void track_lock(void) {
  while (__atomic_exchange_n(&track.lock, 1, __ATOMIC_ACQUIRE))
    while (__atomic_load_n(&track.lock, __ATOMIC_RELAXED))
      __builtin_ia32_pause();
}

static void track_unlock(void) {
  __atomic_store_n(&track.lock, 0, __ATOMIC_RELEASE);
}

/* Descriptors inherited from a parent describe its memory, not ours. */
static int track_mine(void) { return track.uffd >= 0 && track.pid == getpid(); }

static void track_forget(void) {
  if (track.pid == getpid()) {
    if (track.uffd >= 0)
      close(track.uffd);
    if (track.pagemap >= 0)
      close(track.pagemap);
  }
  track.uffd = track.pagemap = -1;
  track.njournal = 0;
  track.lost = 0;
  track.lock = 0;
}

static int track_register(uint64_t addr, uint64_t len) {
  struct uffdio_register r = {.range = {.start = addr, .len = len},
                              .mode = UFFDIO_REGISTER_MODE_WP};
  return perm__sys_ioctl(track.uffd, UFFDIO_REGISTER, &r) == 0 ? 0 : -errno;
}

/*
** One pass of PAGEMAP_SCAN over [lo, hi): the written pages, protected
** again when wp is set, appended to out when out is non-NULL.
*/
static int track_scan(uint64_t lo, uint64_t hi, int wp, perm_ranges_t *out) {
  static struct page_region vec[TRACK_SCAN_VEC];
  while (lo < hi) {
    struct pm_scan_arg a = {.size = sizeof a,
                            .flags = PM_SCAN_CHECK_WPASYNC |
                                     (wp ? PM_SCAN_WP_MATCHING : 0),
                            .start = lo,
                            .end = hi,
                            .vec = (uint64_t)(uintptr_t)vec,
                            .vec_len = TRACK_SCAN_VEC,
                            .category_mask = PAGE_IS_WRITTEN,
                            .return_mask = PAGE_IS_WRITTEN | PAGE_IS_PRESENT |
                                           PAGE_IS_SWAPPED};
    int n = perm__sys_ioctl(track.pagemap, PAGEMAP_SCAN, &a);
    if (n < 0)
      return -errno;
    for (int i = 0; i < n && out != NULL; i++)
      if ((vec[i].categories & (PAGE_IS_PRESENT | PAGE_IS_SWAPPED)) &&
          perm__ranges_add(out, vec[i].start, vec[i].end - vec[i].start) != 0)
        return -ENOMEM;
    if (a.walk_end <= lo)
      return -EIO; /* no progress: never loop forever on a kernel quirk */
    lo = a.walk_end;
  }
  return 0;
}

int perm__track_start(uint64_t base, uint64_t capacity, uint64_t top) {
  track_forget();
  int fd = perm__sys_userfaultfd(O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
  if (fd < 0)
    return perm__errorf_errno(errno == EINVAL || errno == EPERM ? ENOSYS
                                                                 : errno,
                              "write tracking: no userfaultfd");
  struct uffdio_api api = {.api = UFFD_API,
                           .features = UFFD_FEATURE_WP_ASYNC |
                                       UFFD_FEATURE_WP_UNPOPULATED};
  int rc = 0;
  if (perm__sys_ioctl(fd, UFFDIO_API, &api) != 0 ||
      (api.features & UFFD_FEATURE_WP_ASYNC) == 0)
    rc = perm__errorf(ENOSYS, "write tracking: this kernel has no "
                              "asynchronous write-protect (Linux 6.7+)");
  track.uffd = fd;
  track.pid = getpid();
  track.base = base;
  track.capacity = capacity;
  if (rc == 0) {
    track.pagemap = perm__sys_open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC, 0);
    if (track.pagemap < 0)
      rc = perm__errorf_errno(ENOSYS, "write tracking: no /proc/self/pagemap");
  }
  if (rc == 0 && (rc = track_register(base, capacity)) != 0)
    rc = perm__errorf_errno(-rc == EINVAL ? ENOSYS : -rc,
                            "write tracking: cannot register the region");
  /* Everything is clean from now on: a probe of PAGEMAP_SCAN too. */
  if (rc == 0 && (rc = track_scan(base, base + top, 1, NULL)) != 0)
    rc = perm__errorf_errno(-rc == EINVAL || -rc == ENOTTY ? ENOSYS : -rc,
                            "write tracking: no PAGEMAP_SCAN (Linux 6.7+)");
  if (rc != 0)
    track_forget();
  return rc;
}

void perm__track_stop(void) { track_forget(); }

int perm__track_active(void) { return track_mine(); }

void perm__track_note(uint64_t addr, uint64_t len, int remapped) {
  if (!track_mine() || len == 0)
    return;
  if (remapped && track_register(addr, len) != 0)
    track.lost = 1; /* untracked from now on: only a full image is safe */
  track_lock();
  uint32_t n = track.njournal;
  if (n > 0 && track.journal[n - 1].addr + track.journal[n - 1].length == addr)
    track.journal[n - 1].length += len;
  else if (n < TRACK_JOURNAL_MAX)
    track.journal[track.njournal++] = (perm_image_run_t){addr, len};
  else
    track.lost = 1;
  track_unlock();
}

int perm__track_collect(uint64_t top, perm_ranges_t *out) {
  if (!track_mine())
    return -ESTALE;
  int rc = track_scan(track.base, track.base + top, 1, out);
  track_lock();
  int lost = track.lost;
  for (uint32_t i = 0; i < track.njournal && rc == 0; i++)
    rc = perm__ranges_add(out, track.journal[i].addr, track.journal[i].length);
  track.njournal = 0;
  track.lost = 0;
  track_unlock();
  if (rc == 0 && lost)
    rc = -ESTALE;
  return rc;
}
