/*
** checkpoint.c - a durable checkpoint of a 1 GiB persistent heap next to
** writing the same bytes with plain system calls and the same commit
** protocol.
**
**   perm-bench-checkpoint --dir D [--quick] [--reps N] [benchmark...]
**       builds the heap (1 GiB of 1 MiB chunks of pseudo-random data plus
**       100k small objects; 256 MiB with --quick, or --set heap_mib=M) in
**       the image D/heap.img, then runs the benchmarks named (default:
**       checkpoint checkpoint_async write_big pwrite_mib) in that order.
** With PERM_BENCH_DROP_CACHES=1 (and root) the page cache is dropped before
** every timed write.  Restores are measured by perm-bench-pause.
*/
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <perm.h>

#include "bench.h"

BENCHMARK_DECLARE(checkpoint)
BENCHMARK_DECLARE(checkpoint_async)
BENCHMARK_DECLARE(write_big)
BENCHMARK_DECLARE(pwrite_mib)

BENCHMARK_LIST_START
  BENCHMARK_ENTRY(checkpoint)
  BENCHMARK_ENTRY(checkpoint_async)
  BENCHMARK_ENTRY(write_big)
  BENCHMARK_ENTRY(pwrite_mib)
BENCHMARK_LIST_END

#define CK_CHUNK (1u << 20)
#define CK_SMALL 100000

typedef struct ck_small_s {
  struct ck_small_s *next;
  uint64_t value;
  char pad[]; /* 0 - 240 more bytes */
} ck_small_t;

/* The heap's layout: persistent, so that restore can check it. */
PERM static char **ck_chunks;   /* ck_nchunks chunks of CK_CHUNK bytes */
PERM static size_t ck_nchunks;
PERM static ck_small_t *ck_small; /* CK_SMALL objects, a list */
PERM static uint64_t ck_digest; /* ck_digest_compute() when written */

static int ck_ready;
static char ck_image[4096];

/* A sample of the data: one word per 4 KiB page, and the small objects. */
static uint64_t ck_digest_compute(void) {
  uint64_t h = 0x9e3779b97f4a7c15ull;
  for (size_t i = 0; i < ck_nchunks; i++)
    for (size_t off = 0; off < CK_CHUNK; off += 4096)
      h = (h ^ *(uint64_t *)(ck_chunks[i] + off)) * 0x100000001b3ull;
  for (ck_small_t *s = ck_small; s; s = s->next)
    h = (h ^ s->value) * 0x100000001b3ull;
  return h;
}

/* AnonHugePages of this process, MiB: is the heap backed by huge pages? */
static double ck_thp_mib(void) {
  FILE *f = fopen("/proc/self/smaps_rollup", "r");
  char line[256];
  double kib = 0;
  if (f == NULL)
    return -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "AnonHugePages: %lf kB", &kib) == 1)
      break;
  fclose(f);
  return kib / 1024;
}

static int ck_setup(void) {
  if (ck_ready)
    return 0;
  static char dirbuf[] = "/var/tmp/perm-bench-ckpt-XXXXXX";
  if (bench_dir == NULL) {
    if (mkdtemp(dirbuf) == NULL)
      return bench_fail("setup", "mkdtemp failed");
    bench_dir = dirbuf;
  }
  snprintf(ck_image, sizeof ck_image, "%s/heap.img", bench_dir);
  if (perm_open(ck_image, "w+") != 0) {
    fprintf(stderr, "perm_open(%s, w+): %s\n", ck_image, perm_error());
    return 1;
  }
  uint64_t t0 = bench_now_ns();
  ck_nchunks = (size_t)bench_param_int("heap_mib", bench_quick ? 256 : 1024);
  ck_chunks = malloc(ck_nchunks * sizeof *ck_chunks);
  if (ck_chunks == NULL)
    return bench_fail("setup", "malloc failed");
  uint64_t r = 42;
  for (size_t i = 0; i < ck_nchunks; i++) {
    uint64_t *p = malloc(CK_CHUNK);
    if (p == NULL)
      return bench_fail("setup", "malloc failed");
    for (size_t k = 0; k < CK_CHUNK / 8; k++)
      p[k] = bench_rand(&r) | 1;
    ck_chunks[i] = (char *)p;
  }
  for (int i = 0; i < CK_SMALL; i++) {
    size_t pad = (size_t)(bench_rand(&r) % 241);
    ck_small_t *s = malloc(sizeof *s + pad);
    if (s == NULL)
      return bench_fail("setup", "malloc failed");
    s->value = bench_rand(&r);
    memset(s->pad, (int)s->value | 1, pad);
    s->next = ck_small;
    ck_small = s;
  }
  ck_digest = ck_digest_compute();
  perm_stats_t st;
  perm_stats(&st);
  fprintf(stderr,
          "perm-bench-checkpoint: heap of %zu MiB + %d small objects built in "
          "%.2f s; jemalloc allocated %.1f MiB, resident %.1f MiB; "
          "AnonHugePages %.0f MiB; image %s\n",
          ck_nchunks, CK_SMALL, (double)(bench_now_ns() - t0) / 1e9,
          (double)st.allocated / 1048576, (double)st.resident / 1048576,
          ck_thp_mib(), ck_image);
  ck_ready = 1;
  return 0;
}

/*
** With PERM_BENCH_DROP_CACHES=1, before each timed write: sync and drop the
** page cache, so that every writer starts from the same state (bench/run.sh
** explains why).  Needs root; silently does nothing otherwise.
*/
static void ck_drop_caches(void) {
  const char *v = getenv("PERM_BENCH_DROP_CACHES");
  if (v == NULL || strcmp(v, "1") != 0)
    return;
  sync();
  int fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
  if (fd >= 0) {
    if (write(fd, "3\n", 2) != 2)
      fprintf(stderr, "perm-bench-checkpoint: cannot drop caches\n");
    close(fd);
  }
}

/* Bytes the file really occupies, and its length. */
static void ck_file_size(const char *path, double *alloc_mib, double *len_mib) {
  struct stat sb;
  *alloc_mib = *len_mib = 0;
  if (stat(path, &sb) == 0) {
    *alloc_mib = (double)sb.st_blocks * 512 / 1048576;
    *len_mib = (double)sb.st_size / 1048576;
  }
}

BENCHMARK_IMPL(checkpoint) {
  double pause[BENCH_MAX_SAMPLES] = {0};
  double dur[BENCH_MAX_SAMPLES] = {0};
  double call[BENCH_MAX_SAMPLES] = {0};
  double mib[BENCH_MAX_SAMPLES] = {0};
  double disk[BENCH_MAX_SAMPLES] = {0};
  double rate[BENCH_MAX_SAMPLES] = {0};
  if (ck_setup() != 0)
    return 1;
  for (int rep = 0; rep < bench_reps; rep++) {
    perm_stats_t st;
    ck_drop_caches();
    uint64_t t0 = bench_now_ns();
    if (perm_checkpoint() != 0)
      return bench_fail("checkpoint", perm_error());
    call[rep] = (double)(bench_now_ns() - t0) / 1e6;
    perm_stats(&st);
    pause[rep] = (double)st.last_pause_ns / 1e6;
    dur[rep] = (double)st.last_duration_ns / 1e6;
    mib[rep] = (double)st.last_bytes_written / 1048576;
    rate[rep] = mib[rep] / (dur[rep] / 1e3);
    double len;
    ck_file_size(ck_image, &disk[rep], &len);
  }
  bench_report("checkpoint", "pause", "ms", pause, bench_reps);
  bench_report("checkpoint", "durable", "ms", dur, bench_reps);
  bench_report("checkpoint", "call", "ms", call, bench_reps);
  bench_report("checkpoint", "image", "MiB", mib, bench_reps);
  bench_report("checkpoint", "image_on_disk", "MiB", disk, bench_reps);
  bench_report("checkpoint", "rate", "MiB/s", rate, bench_reps);
  return 0;
}

BENCHMARK_IMPL(checkpoint_async) {
  double call[BENCH_MAX_SAMPLES] = {0};
  double pause[BENCH_MAX_SAMPLES] = {0};
  double dur[BENCH_MAX_SAMPLES] = {0};
  if (ck_setup() != 0)
    return 1;
  for (int rep = 0; rep < bench_reps; rep++) {
    perm_stats_t st;
    ck_drop_caches();
    uint64_t t0 = bench_now_ns();
    if (perm_checkpoint_async() != 0)
      return bench_fail("checkpoint_async", perm_error());
    uint64_t t1 = bench_now_ns();
    if (perm_wait() != 0)
      return bench_fail("checkpoint_async", perm_error());
    uint64_t t2 = bench_now_ns();
    perm_stats(&st);
    call[rep] = (double)(t1 - t0) / 1e6;
    pause[rep] = (double)st.last_pause_ns / 1e6;
    dur[rep] = (double)(t2 - t0) / 1e6;
  }
  bench_report("checkpoint_async", "call", "ms", call, bench_reps);
  bench_report("checkpoint_async", "pause", "ms", pause, bench_reps);
  bench_report("checkpoint_async", "durable", "ms", dur, bench_reps);
  return 0;
}

/*
** The raw writers: the heap's bytes with write() or pwrite() and fsync(),
** committed as a checkpoint commits its image: NAME.tmp written and
** fsync'ed, renamed over NAME (which frees the previous file), the directory
** fsync'ed.  Same bytes, same file life cycle, so the difference to
** "checkpoint" is PERM's own work.
**   write_big   one contiguous copy of the chunks (made once, untimed),
**               written by write() calls as large as the kernel takes;
**   pwrite_mib  one pwrite() per 1 MiB chunk, from the heap, at offset
**               i MiB.
*/
static char *ck_big; /* the chunks, contiguous, outside the heap */

static int ck_raw_commit(const char *name, int big, double *total, double *wr) {
  char path[4200], tmp[4300];
  snprintf(path, sizeof path, "%s/%s.bin", bench_dir, name);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  ck_drop_caches();
  uint64_t t0 = bench_now_ns();
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return bench_fail(name, strerror(errno));
  size_t len = ck_nchunks * (size_t)CK_CHUNK;
  int rc = 0;
  if (big)
    rc = bench_write_all(fd, ck_big, len, -1);
  for (size_t i = 0; !big && rc == 0 && i < ck_nchunks; i++)
    rc = bench_write_all(fd, ck_chunks[i], CK_CHUNK, (off_t)(i * CK_CHUNK));
  if (rc != 0) {
    close(fd);
    return bench_fail(name, strerror(rc));
  }
  uint64_t t1 = bench_now_ns();
  if ((rc = bench_commit(fd, tmp, path, bench_dir)) != 0)
    return bench_fail(name, strerror(rc));
  uint64_t t2 = bench_now_ns();
  *total = (double)(t2 - t0) / 1e6;
  *wr = (double)(t1 - t0) / 1e6;
  return 0;
}

static int ck_raw(const char *name, int big) {
  double total[BENCH_MAX_SAMPLES] = {0};
  double wr[BENCH_MAX_SAMPLES] = {0};
  double rate[BENCH_MAX_SAMPLES] = {0};
  if (ck_setup() != 0)
    return 1;
  if (big && ck_big == NULL) {
    ck_big = mmap(NULL, ck_nchunks * (size_t)CK_CHUNK, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (ck_big == MAP_FAILED)
      return bench_fail(name, "mmap failed");
    for (size_t i = 0; i < ck_nchunks; i++)
      memcpy(ck_big + i * CK_CHUNK, ck_chunks[i], CK_CHUNK);
  }
  for (int rep = 0; rep < bench_reps; rep++) {
    if (ck_raw_commit(name, big, &total[rep], &wr[rep]) != 0)
      return 1;
    rate[rep] = (double)ck_nchunks / (total[rep] / 1e3);
  }
  bench_report(name, "durable", "ms", total, bench_reps);
  bench_report(name, "write_only", "ms", wr, bench_reps);
  bench_report(name, "rate", "MiB/s", rate, bench_reps);
  return 0;
}

BENCHMARK_IMPL(write_big) { return ck_raw("write_big", 1); }
BENCHMARK_IMPL(pwrite_mib) { return ck_raw("pwrite_mib", 0); }

int main(int argc, char **argv) {
  bench_label = "perm";
  return bench_main(argc, argv, bench_list);
}
