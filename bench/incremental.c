/*
** incremental.c - incremental checkpoints (perm_open mode letter i): what a
** delta writes against what the program dirtied, its pause (the fork,
** including the PAGEMAP_SCAN that lists and write-protects the written
** pages in the fork handler) and its duration, against full checkpoints of
** the same heap after the same writes; the pause of a full checkpoint taken
** after the deltas' scattered writes against one on the fresh heap; and the
** restore of a chain of deltas (the same binary restores it, before and
** after `perm compact`, in fresh processes run by bench/run).
**
**   perm-bench-incremental --dir D [--set heap_mib=M] [--set obj_max=B]
**                          [--set chain_n=N] [--set chain_pct=P]
**                          [--reps N] [--quick] [benchmark...]
**   perm-bench-incremental --image F restore
**
** The heap: objects of 32 B to B bytes (default 512; log-uniform) up to M
** MiB of requested bytes (default 64; --quick 64), every byte written
** (pseudo-random, non-zero).  Objects are written "at random, spread over
** the heap": each object is chosen independently with probability f, and
** all its bytes are rewritten.
**
** Benchmarks:
**   deltas  perm_open(D/inc.img, "w+i"), a first (full) checkpoint, then N
**           times (--reps; bench/run passes 1 and runs one process per
**           round): for f = 0.1 %, 1 %, 10 % of the objects, write them,
**           perm_checkpoint(); then one more checkpoint with no writes,
**           which is a full image (PERM_CHAIN_MAX=4: the chain would be 5
**           images long).  Reported for each (metric names "d0.1", "d1",
**           "d10", "fresh" for the first and "after" for the last
**           checkpoint): pause (last_pause_ns), duration (the
**           perm_checkpoint() call, until durable), dirtied
**           (last_bytes_dirtied), data (last_data_bytes), file
**           (last_bytes_written) and on_disk (st_blocks of NAME), pages
**           (distinct 4 KiB pages the program wrote, counted by the
**           program), written (bytes the program wrote), incremental
**           (last_incremental), chain (chain_length), thp_pre and thp
**           (AnonHugePages, MiB, before and after the checkpoint), raw
**           (ms: right after each checkpoint, as many bytes as its file
**           written from outside the heap and committed with the same
**           protocol: tmp, fsync, rename, fsync dir).  Unless already set, the program
**           sets PERM_CHAIN_RATIO=1000 and PERM_CHAIN_MAX=4 before
**           perm_open, so the 10 % delta is not folded into a full image
**           and the "after" checkpoint is.  Run it with PERM_INCREMENTAL=0
**           for the full-image peer: the same heap, writes and checkpoints.
**   chain   (only when named) perm_open(D/chain.img, "w+i"), a full
**           checkpoint, then N deltas (chain_n, default 8), each after
**           writing P % of the objects (chain_pct, default 1; the program
**           sets PERM_CHAIN_RATIO=1000 and PERM_CHAIN_MAX=64 unless set);
**           reports each delta's data and file bytes and a hash of the
**           heap (hash: its low 32 bits, to compare with the restores').
**   series  (only when named) perm_open(D/series.img, "w+i") with the
**           runtime's default PERM_CHAIN_MAX and PERM_CHAIN_RATIO, a full
**           checkpoint, then N checkpoints in a row (series_n, default
**           100), each after writing P % of the objects (series_pct,
**           default 1); reports the deltas' and the folded full images'
**           durations and pauses (the first 64 of each), the total time of
**           the N perm_checkpoint() calls, checkpoints per second, how many
**           were deltas, the final chain length and the heap's hash.
**   restore (only when named, --image F) perm_open(F, "r") timed, the
**           first read of one object, then a read of every byte of every
**           object (the hash); the number of mappings in /proc/self/maps
**           after perm_open; chain_length.  One sample per process
**           (PERM_RESTORE and PERM_VERIFY apply).
** Restores must run this same binary (the image records its build-id).
*/
#define _GNU_SOURCE
#include <fcntl.h>
#include <math.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <perm.h>

#include "bench.h"

BENCHMARK_DECLARE(deltas)
BENCHMARK_DECLARE(chain)
BENCHMARK_DECLARE(series)
BENCHMARK_DECLARE(restore)

BENCHMARK_LIST_START
  BENCHMARK_ENTRY(deltas)
  BENCHMARK_ENTRY_NAMED(chain)
  BENCHMARK_ENTRY_NAMED(series)
  BENCHMARK_ENTRY_NAMED(restore)
BENCHMARK_LIST_END

/* The heap, in PERM globals so that a restore finds it again. */
PERM static uint64_t **ic_obj; /* ic_n objects */
PERM static uint32_t *ic_size; /* their sizes */
PERM static size_t ic_n;
PERM static uint64_t ic_live; /* requested bytes, live */

static char ic_image[4096];
static uint64_t ic_seed = 42;

static double ic_ms(uint64_t ns) { return (double)ns / 1e6; }
static double ic_mib(uint64_t b) { return (double)b / 1048576; }

/* Read with open/read into the stack: fopen would malloc in the heap. */
static double ic_thp_mib(void) {
  char buf[4096];
  int fd = open("/proc/self/smaps_rollup", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0)
    return -1;
  buf[n] = '\0';
  const char *p = strstr(buf, "AnonHugePages:");
  return p ? strtod(p + 14, NULL) / 1024 : -1;
}

static void ic_fill(uint64_t *p, size_t bytes, uint64_t *r) {
  for (size_t k = 0; k < bytes / 8; k++)
    p[k] = bench_rand(r) | 1;
  memset((char *)p + bytes / 8 * 8, 0x5a, bytes % 8);
}

static int ic_build(const char *file, const char *chain_max) {
  if (bench_dir == NULL)
    return bench_fail("setup", "needs --dir");
  if (chain_max != NULL) { /* else the runtime's defaults fold the chain */
    setenv("PERM_CHAIN_RATIO", "1000", 0);
    setenv("PERM_CHAIN_MAX", chain_max, 0);
  }
  long long mib = bench_param_int("heap_mib", 64);
  long long zmax = bench_param_int("obj_max", 512);
  if (mib < 1 || zmax < 32 || zmax > 1 << 20)
    return bench_fail("setup", "heap_mib >= 1, obj_max in 32..1048576");
  snprintf(ic_image, sizeof ic_image, "%s/%s", bench_dir, file);
  if (perm_open(ic_image, "w+i") != 0) {
    fprintf(stderr, "perm_open(%s, w+i): %s\n", ic_image, perm_error());
    return 1;
  }
  uint64_t t0 = bench_now_ns();
  uint64_t want = (uint64_t)mib << 20;
  double ratio = (double)zmax / 32;
  size_t cap = (size_t)(want / ((zmax - 32.0) / log(ratio)) * 1.1) + 16;
  ic_obj = malloc(cap * sizeof *ic_obj);
  ic_size = malloc(cap * sizeof *ic_size);
  if (ic_obj == NULL || ic_size == NULL)
    return bench_fail("setup", "malloc failed");
  uint64_t r = ic_seed;
  ic_live = 0;
  for (ic_n = 0; ic_n < cap && ic_live < want; ic_n++) {
    double u = (double)(bench_rand(&r) >> 11) / 9007199254740992.0;
    size_t z = (size_t)(32 * pow(ratio, u));
    z = z < 32 ? 32 : z > (size_t)zmax ? (size_t)zmax : z;
    uint64_t *p = malloc(z);
    if (p == NULL)
      return bench_fail("setup", "malloc failed");
    ic_fill(p, z, &r);
    ic_obj[ic_n] = p;
    ic_size[ic_n] = (uint32_t)z;
    ic_live += z;
  }
  perm_stats_t st;
  perm_stats(&st);
  fprintf(stderr,
          "perm-bench-incremental: %zu objects of 32-%lld B, %.1f MiB live, "
          "built in %.2f s; jemalloc allocated %.1f MiB; AnonHugePages "
          "%.0f MiB; tracking %d; image %s\n",
          ic_n, zmax, ic_mib(ic_live), (double)(bench_now_ns() - t0) / 1e9,
          ic_mib(st.allocated), ic_thp_mib(), st.tracking, ic_image);
  return 0;
}

/*
** The pages the program wrote, one bit per 4 KiB page of the region, in
** memory outside the persistent heap (an anonymous mapping: zero pages until
** written), so that counting them writes nothing the next delta would hold.
** (malloc here is the persistent heap, and so is qsort's buffer.)
*/
static uint8_t *ic_bits;
static uint64_t ic_bits_base, ic_bits_len;

static int ic_bits_reset(void) {
  perm_stats_t st;
  perm_stats(&st);
  size_t len = (size_t)(st.region_size >> 15) + 1;
  if (ic_bits != NULL)
    munmap(ic_bits, ic_bits_len);
  ic_bits = mmap(NULL, len, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (ic_bits == MAP_FAILED) {
    ic_bits = NULL;
    return bench_fail("write", "cannot map the page bitmap");
  }
  /* Like the raw peer's buffer: not the checkpoint's fork's to copy. */
  madvise(ic_bits, len, MADV_DONTFORK);
  ic_bits_base = st.region_base;
  ic_bits_len = len;
  return 0;
}

/*
** Rewrites each object with probability frac; returns the bytes written
** and, in *pages, the distinct 4 KiB pages they lie on.
*/
static uint64_t ic_write(double frac, uint64_t *r, uint64_t *pages) {
  uint64_t thresh = (uint64_t)(frac * 18446744073709551616.0);
  uint64_t bytes = 0, np = 0;
  if (ic_bits_reset() != 0)
    exit(1);
  for (size_t i = 0; i < ic_n; i++) {
    if (bench_rand(r) >= thresh)
      continue;
    uint64_t *p = ic_obj[i];
    ic_fill(p, ic_size[i], r);
    bytes += ic_size[i];
    uint64_t a = ((uintptr_t)p - ic_bits_base) >> 12;
    uint64_t b = ((uintptr_t)p + ic_size[i] - 1 - ic_bits_base) >> 12;
    for (uint64_t q = a; q <= b; q++) {
      uint8_t bit = (uint8_t)(1u << (q & 7));
      np += !(ic_bits[q >> 3] & bit);
      ic_bits[q >> 3] |= bit;
    }
  }
  *pages = np;
  return bytes;
}

typedef struct ic_sample_s {
  double pause, duration, dirtied, data, file, on_disk, pages, written;
  double incremental, chain, thp_pre, thp, raw;
} ic_sample_t;

/*
** The raw peer of a checkpoint: as many bytes as its file, written from
** memory outside the heap with write() and committed as an image is
** (D/raw.bin.tmp written, fsync'ed, renamed over D/raw.bin, the directory
** fsync'ed), right after it.  The buffer is an anonymous mapping: malloc
** would take it from the persistent heap and change what the next delta
** writes.  It is not inherited by fork (MADV_DONTFORK): as many 4 KiB page
** table entries as the image has pages would otherwise be copied by every
** later checkpoint's fork, and its pause would be the peer's cost (20 ms
** more on a 1 GiB heap, measured).
*/
typedef struct ic_raw_s {
  char *buf;
  size_t len;
} ic_raw_t;

static ic_raw_t ic_raw_buf;
static int ic_raw_off; /* series: its rate is the checkpoints' alone */

static int ic_raw_commit(uint64_t bytes, double *ms) {
  ic_raw_t *rb = &ic_raw_buf;
  if (bytes > rb->len) {
    if (rb->buf != NULL)
      munmap(rb->buf, rb->len);
    rb->len = (bytes + 4095) & ~(size_t)4095;
    rb->buf = mmap(NULL, rb->len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (rb->buf == MAP_FAILED) {
      rb->buf = NULL;
      rb->len = 0;
      return bench_fail("raw", strerror(errno));
    }
    if (madvise(rb->buf, rb->len, MADV_DONTFORK) != 0)
      return bench_fail("raw", strerror(errno));
    uint64_t r = 99;
    ic_fill((uint64_t *)rb->buf, rb->len, &r);
  }
  char path[4200], tmp[4300];
  snprintf(path, sizeof path, "%s/raw.bin", bench_dir);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  uint64_t t0 = bench_now_ns();
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return bench_fail("raw", strerror(errno));
  int rc = bench_write_all(fd, rb->buf, bytes, -1);
  if (rc != 0) {
    close(fd);
    return bench_fail("raw", strerror(rc));
  }
  if ((rc = bench_commit(fd, tmp, path, bench_dir)) != 0)
    return bench_fail("raw", strerror(rc));
  *ms = ic_ms(bench_now_ns() - t0);
  return 0;
}

static int ic_checkpoint(ic_sample_t *s) {
  perm_stats_t st;
  struct stat sb;
  s->thp_pre = ic_thp_mib();
  uint64_t t0 = bench_now_ns();
  if (perm_checkpoint() != 0)
    return bench_fail("checkpoint", perm_error());
  uint64_t t1 = bench_now_ns();
  perm_stats(&st);
  if (stat(ic_image, &sb) != 0)
    return bench_fail("checkpoint", "cannot stat the image");
  s->pause = ic_ms(st.last_pause_ns);
  s->duration = ic_ms(t1 - t0);
  s->dirtied = ic_mib(st.last_bytes_dirtied);
  s->data = ic_mib(st.last_data_bytes);
  s->file = ic_mib(st.last_bytes_written);
  s->on_disk = ic_mib((uint64_t)sb.st_blocks * 512);
  s->incremental = st.last_incremental;
  s->chain = (double)st.chain_length;
  s->thp = ic_thp_mib();
  s->raw = 0;
  return ic_raw_off ? 0 : ic_raw_commit(st.last_bytes_written, &s->raw);
}

static void ic_report(const char *what, const ic_sample_t *v, int n) {
  static const struct {
    const char *name, *unit;
    size_t off;
  } m[] = {
      {"pause", "ms", offsetof(ic_sample_t, pause)},
      {"duration", "ms", offsetof(ic_sample_t, duration)},
      {"dirtied", "MiB", offsetof(ic_sample_t, dirtied)},
      {"data", "MiB", offsetof(ic_sample_t, data)},
      {"file", "MiB", offsetof(ic_sample_t, file)},
      {"on_disk", "MiB", offsetof(ic_sample_t, on_disk)},
      {"pages", "MiB", offsetof(ic_sample_t, pages)},
      {"written", "MiB", offsetof(ic_sample_t, written)},
      {"incremental", "0/1", offsetof(ic_sample_t, incremental)},
      {"chain", "images", offsetof(ic_sample_t, chain)},
      {"thp_pre", "MiB", offsetof(ic_sample_t, thp_pre)},
      {"thp", "MiB", offsetof(ic_sample_t, thp)},
      {"raw", "ms", offsetof(ic_sample_t, raw)},
  };
  double x[BENCH_MAX_SAMPLES];
  char name[64];
  for (size_t k = 0; k < sizeof m / sizeof *m; k++) {
    for (int i = 0; i < n; i++)
      x[i] = *(const double *)((const char *)&v[i] + m[k].off);
    snprintf(name, sizeof name, "%s_%s", what, m[k].name);
    bench_report("deltas", name, m[k].unit, x, n);
  }
}

#define IC_SERIES_MAX 1000

static const double ic_fracs[3] = {0.001, 0.01, 0.1};
static const char *ic_frac_names[3] = {"d0.1", "d1", "d10"};

BENCHMARK_IMPL(deltas) {
  ic_sample_t fresh, d[3][BENCH_MAX_SAMPLES], after[BENCH_MAX_SAMPLES];
  if (ic_build("inc.img", "4") != 0)
    return 1;
  memset(&fresh, 0, sizeof fresh);
  if (ic_checkpoint(&fresh) != 0)
    return 1;
  uint64_t r = 1234;
  for (int rep = 0; rep < bench_reps; rep++) {
    for (int k = 0; k < 3; k++) {
      uint64_t pages;
      ic_sample_t *s = &d[k][rep];
      uint64_t bytes = ic_write(ic_fracs[k], &r, &pages);
      if (ic_checkpoint(s) != 0)
        return 1;
      s->written = ic_mib(bytes);
      s->pages = ic_mib(pages << 12);
    }
    memset(&after[rep], 0, sizeof after[rep]);
    if (ic_checkpoint(&after[rep]) != 0)
      return 1;
  }
  ic_report("fresh", &fresh, 1);
  for (int k = 0; k < 3; k++)
    ic_report(ic_frac_names[k], d[k], bench_reps);
  ic_report("after", after, bench_reps);
  double live = ic_mib(ic_live), objs = (double)ic_n;
  bench_report("deltas", "live", "MiB", &live, 1);
  bench_report("deltas", "objects", "count", &objs, 1);
  return 0;
}

/* A hash of every byte of every object (FNV-style over words). */
static uint64_t ic_hash(void) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < ic_n; i++) {
    const uint64_t *p = ic_obj[i];
    for (size_t k = 0; k < ic_size[i] / 8; k++)
      h = (h ^ p[k]) * 1099511628211ull;
  }
  return h;
}

BENCHMARK_IMPL(series) {
  long long n = bench_param_int("series_n", 100);
  double pct = strtod(bench_param("series_pct", "1"), NULL);
  if (n < 1 || n > IC_SERIES_MAX || !(pct > 0 && pct <= 100))
    return bench_fail("series", "series_n in 1..1000, series_pct in (0, 100]");
  ic_raw_off = 1;
  if (ic_build("series.img", NULL) != 0)
    return 1;
  ic_sample_t s;
  if (ic_checkpoint(&s) != 0)
    return 1;
  /* The first BENCH_MAX_SAMPLES deltas' and full images' figures. */
  double dd[BENCH_MAX_SAMPLES], dp[BENCH_MAX_SAMPLES];
  double fd[BENCH_MAX_SAMPLES], fp[BENCH_MAX_SAMPLES];
  int nd = 0, nf = 0;
  double total = 0;
  uint64_t r = 8765;
  for (long long k = 0; k < n; k++) {
    uint64_t pg;
    ic_write(pct / 100, &r, &pg);
    if (ic_checkpoint(&s) != 0)
      return 1;
    total += s.duration;
    if (s.incremental && nd < BENCH_MAX_SAMPLES) {
      dd[nd] = s.duration;
      dp[nd++] = s.pause;
    } else if (!s.incremental && nf < BENCH_MAX_SAMPLES) {
      fd[nf] = s.duration;
      fp[nf++] = s.pause;
    }
  }
  double rate = (double)n / (total / 1e3), chainlen = s.chain;
  double h = (double)(ic_hash() & 0xffffffffu);
  double deltas = (double)n - nf;
  if (nd > 0) {
    bench_report("series", "delta_duration", "ms", dd, nd);
    bench_report("series", "delta_pause", "ms", dp, nd);
  }
  if (nf > 0) {
    bench_report("series", "full_duration", "ms", fd, nf);
    bench_report("series", "full_pause", "ms", fp, nf);
  }
  bench_report("series", "total", "ms", &total, 1);
  bench_report("series", "rate", "per_s", &rate, 1);
  bench_report("series", "deltas", "count", &deltas, 1);
  bench_report("series", "chain", "images", &chainlen, 1);
  bench_report("series", "hash", "low32", &h, 1);
  return 0;
}

BENCHMARK_IMPL(chain) {
  long long n = bench_param_int("chain_n", 8);
  double pct = strtod(bench_param("chain_pct", "1"), NULL);
  if (n < 1 || n > 60 || !(pct > 0 && pct <= 100))
    return bench_fail("chain", "chain_n in 1..60, chain_pct in (0, 100]");
  if (ic_build("chain.img", "64") != 0)
    return 1;
  ic_sample_t s;
  if (ic_checkpoint(&s) != 0)
    return 1;
  double data[64], file[64], pages[64], inc[64];
  uint64_t r = 4321;
  for (long long k = 0; k < n; k++) {
    uint64_t pg;
    ic_write(pct / 100, &r, &pg);
    if (ic_checkpoint(&s) != 0)
      return 1;
    data[k] = s.data;
    file[k] = s.file;
    pages[k] = ic_mib(pg << 12);
    inc[k] = s.incremental;
  }
  double chainlen = s.chain, h = (double)(ic_hash() & 0xffffffffu);
  bench_report("chain", "data", "MiB", data, (int)n);
  bench_report("chain", "file", "MiB", file, (int)n);
  bench_report("chain", "pages", "MiB", pages, (int)n);
  bench_report("chain", "incremental", "0/1", inc, (int)n);
  bench_report("chain", "chain", "images", &chainlen, 1);
  bench_report("chain", "hash", "low32", &h, 1);
  return 0;
}

static double ic_maps(void) {
  char buf[65536];
  int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  double n = 0;
  ssize_t got;
  if (fd < 0)
    return -1;
  while ((got = read(fd, buf, sizeof buf)) > 0)
    for (ssize_t k = 0; k < got; k++)
      n += buf[k] == '\n';
  close(fd);
  return n;
}

BENCHMARK_IMPL(restore) {
  if (bench_image == NULL)
    return bench_fail("restore", "needs --image");
  uint64_t t0 = bench_now_ns();
  if (perm_open(bench_image, "r") != 0)
    return bench_fail("restore", perm_error());
  uint64_t t1 = bench_now_ns();
  if (!perm_restored() || ic_obj == NULL || ic_n == 0)
    return bench_fail("restore", "the image holds no incremental heap");
  volatile uint64_t first = *ic_obj[ic_n / 2];
  (void)first;
  uint64_t t2 = bench_now_ns();
  double maps = ic_maps();
  uint64_t h = ic_hash();
  uint64_t t3 = bench_now_ns();
  perm_stats_t st;
  perm_stats(&st);
  double v[6] = {ic_ms(t1 - t0), ic_ms(t2 - t0), ic_ms(t3 - t0), maps,
                 (double)st.chain_length, (double)(h & 0xffffffffu)};
  bench_report("restore", "perm_open", "ms", &v[0], 1);
  bench_report("restore", "first_access", "ms", &v[1], 1);
  bench_report("restore", "read_all", "ms", &v[2], 1);
  bench_report("restore", "maps", "count", &v[3], 1);
  bench_report("restore", "chain", "images", &v[4], 1);
  bench_report("restore", "hash", "low32", &v[5], 1);
  perm_close();
  return 0;
}

int main(int argc, char **argv) {
  bench_label = "perm";
  return bench_main(argc, argv, bench_list);
}
