/*
** pause.c - how long a checkpoint stops the program (perm_stats()
** .last_pause_ns: the fork, with the gate and jemalloc's prefork locks), on
** heaps of small objects or of 1 MiB chunks, with and without threads
** allocating while the checkpoint starts; and what the heap costs in memory
** and on disk against its live bytes.
**
**   perm-bench-pause --dir D --set heap_mib=M --set kind=small|chunks
**                    [--reps N] [--quick] [benchmark...]
**
** The heap: kind=small, objects of 32 B-4 KiB (log-uniform) up to M MiB of
** requested bytes; kind=chunks, M chunks of 1 MiB.  Every byte is written
** (pseudo-random, non-zero).  The image is D/pause-KIND-M.img.
**
** Benchmarks (each checkpoint is perm_checkpoint_async() + perm_wait(); the
** pause is last_pause_ns, "call" the time perm_checkpoint_async took):
**   single      no other thread exists (the gate is off), N checkpoints;
**   capacity    live bytes, RSS, jemalloc's allocated/resident, the image's
**               size on disk and its length (one sample);
**   threads1, threads2, threads4
**               T threads allocate and free (16 B-1 KiB, 10k objects each)
**               without pause while the main thread checkpoints every
**               20-40 ms, N times;
**   frees       (only when named) a random half of the objects freed, then
**               N checkpoints;
**   writes      (only when named) N times: an async checkpoint during which
**               one word of every 4 KiB page of the heap is written (which
**               copies the page for the child and splits the huge pages),
**               perm_wait (timed: "wait"; with PERM_COLLAPSE=sync it
**               collapses them), S ms of the program doing nothing
**               (--set settle_ms=S, default 0: the background collapse of
**               PERM_COLLAPSE=1 runs then), then a timed checkpoint;
**   restore     (only when named, --image F) perm_open(F, "r+") timed, then
**               the first access to one object, then a read of every page;
**               one sample per process (PERM_VERIFY and PERM_RESTORE apply);
**   restored    (only when named, --image F) after a lazy restore:
**               checkpoint pause at once, after reading every page, and
**               after writing one word of every page;
**   read_file   (only when named, --image F) the peer of restore: one read()
**               of the whole file F into fresh anonymous memory.
** Run single, capacity and threadsN in one process in that order: once a
** thread exists the gate stays on.  Restores must run this same binary (the
** image records its build-id).
*/
#define _GNU_SOURCE
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <perm.h>

#include "bench.h"

BENCHMARK_DECLARE(single)
BENCHMARK_DECLARE(capacity)
BENCHMARK_DECLARE(threads1)
BENCHMARK_DECLARE(threads2)
BENCHMARK_DECLARE(threads4)
BENCHMARK_DECLARE(frees)
BENCHMARK_DECLARE(writes)
BENCHMARK_DECLARE(restore)
BENCHMARK_DECLARE(restored)
BENCHMARK_DECLARE(read_file)

BENCHMARK_LIST_START
  BENCHMARK_ENTRY(single)
  BENCHMARK_ENTRY(capacity)
  BENCHMARK_ENTRY(threads1)
  BENCHMARK_ENTRY(threads2)
  BENCHMARK_ENTRY(threads4)
  BENCHMARK_ENTRY_NAMED(frees)
  BENCHMARK_ENTRY_NAMED(writes)
  BENCHMARK_ENTRY_NAMED(restore)
  BENCHMARK_ENTRY_NAMED(restored)
  BENCHMARK_ENTRY_NAMED(read_file)
BENCHMARK_LIST_END

/* The heap, in PERM globals so that a restore finds it again. */
PERM static uint64_t **pz_obj; /* pz_n objects */
PERM static uint32_t *pz_size; /* their sizes */
PERM static size_t pz_n;
PERM static uint64_t pz_live; /* requested bytes, live */

static char pz_image[4096];
static int pz_ready;

static double pz_ms(uint64_t ns) { return (double)ns / 1e6; }

/* A field of /proc/self/status or smaps_rollup, in MiB. */
static double pz_proc_mib(const char *file, const char *field) {
  FILE *f = fopen(file, "r");
  char line[256];
  double kib = -1;
  size_t n = strlen(field);
  if (f == NULL)
    return -1;
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, field, n) && line[n] == ':') {
      kib = strtod(line + n + 1, NULL);
      break;
    }
  fclose(f);
  return kib / 1024;
}

static double pz_thp_mib(void) {
  return pz_proc_mib("/proc/self/smaps_rollup", "AnonHugePages");
}

static void pz_fill(uint64_t *p, size_t bytes, uint64_t *r) {
  for (size_t k = 0; k < bytes / 8; k++)
    p[k] = bench_rand(r) | 1;
  memset((char *)p + bytes / 8 * 8, 0x5a, bytes % 8);
}

static int pz_setup(void) {
  if (pz_ready)
    return 0;
  if (bench_dir == NULL)
    return bench_fail("setup", "needs --dir");
  const char *kind = bench_param("kind", "small");
  long long mib = bench_param_int("heap_mib", 64);
  int small = !strcmp(kind, "small");
  if (!small && strcmp(kind, "chunks"))
    return bench_fail("setup", "kind is small or chunks");
  snprintf(pz_image, sizeof pz_image, "%s/pause-%s-%lld.img", bench_dir, kind,
           mib);
  if (perm_open(pz_image, "w+") != 0) {
    fprintf(stderr, "perm_open(%s, w+): %s\n", pz_image, perm_error());
    return 1;
  }
  uint64_t t0 = bench_now_ns();
  uint64_t want = (uint64_t)mib << 20;
  /* Log-uniform over [32, 4096]: the mean is (4096 - 32) / ln 128. */
  size_t cap = small ? (size_t)(want / ((4096.0 - 32) / log(128.0)) * 1.1) + 16
                     : (size_t)mib;
  pz_obj = malloc(cap * sizeof *pz_obj);
  pz_size = malloc(cap * sizeof *pz_size);
  if (pz_obj == NULL || pz_size == NULL)
    return bench_fail("setup", "malloc failed");
  uint64_t r = 42;
  pz_live = 0;
  for (pz_n = 0; pz_n < cap && pz_live < want; pz_n++) {
    size_t z = 1u << 20;
    if (small) {
      double u = (double)(bench_rand(&r) >> 11) / 9007199254740992.0;
      z = (size_t)(32 * pow(128.0, u));
      z = z < 32 ? 32 : z > 4096 ? 4096 : z;
    }
    uint64_t *p = malloc(z);
    if (p == NULL)
      return bench_fail("setup", "malloc failed");
    pz_fill(p, z, &r);
    pz_obj[pz_n] = p;
    pz_size[pz_n] = (uint32_t)z;
    pz_live += z;
  }
  perm_stats_t st;
  perm_stats(&st);
  fprintf(stderr,
          "perm-bench-pause: %s heap, %zu objects, %.1f MiB live, built in "
          "%.2f s; jemalloc allocated %.1f MiB, resident %.1f MiB; "
          "AnonHugePages %.0f MiB; image %s\n",
          kind, pz_n, (double)pz_live / 1048576,
          (double)(bench_now_ns() - t0) / 1e9, (double)st.allocated / 1048576,
          (double)st.resident / 1048576, pz_thp_mib(), pz_image);
  pz_ready = 1;
  return 0;
}

/* One async checkpoint, waited for; pause and call time in ms. */
static int pz_checkpoint(double *pause, double *call) {
  perm_stats_t st;
  uint64_t t0 = bench_now_ns();
  if (perm_checkpoint_async() != 0)
    return bench_fail("checkpoint", perm_error());
  uint64_t t1 = bench_now_ns();
  if (perm_wait() != 0)
    return bench_fail("checkpoint", perm_error());
  perm_stats(&st);
  *pause = pz_ms(st.last_pause_ns);
  if (call)
    *call = pz_ms(t1 - t0);
  return 0;
}

static void pz_sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
  nanosleep(&ts, NULL);
}

static int pz_series(const char *name, double thp_before) {
  double pause[BENCH_MAX_SAMPLES], call[BENCH_MAX_SAMPLES];
  for (int rep = 0; rep < bench_reps; rep++) {
    pz_sleep_ms(20 + rep * 5);
    if (pz_checkpoint(&pause[rep], &call[rep]) != 0)
      return 1;
  }
  double thp[2] = {thp_before, pz_thp_mib()};
  bench_report(name, "pause", "ms", pause, bench_reps);
  bench_report(name, "call", "ms", call, bench_reps);
  bench_report(name, "thp_before", "MiB", &thp[0], 1);
  bench_report(name, "thp_after", "MiB", &thp[1], 1);
  return 0;
}

BENCHMARK_IMPL(single) {
  if (pz_setup() != 0)
    return 1;
  return pz_series("single", pz_thp_mib());
}

BENCHMARK_IMPL(capacity) {
  if (pz_setup() != 0)
    return 1;
  double pause, call;
  if (pz_checkpoint(&pause, &call) != 0)
    return 1;
  perm_stats_t st;
  struct stat sb;
  perm_stats(&st);
  if (stat(pz_image, &sb) != 0)
    return bench_fail("capacity", "cannot stat the image");
  double v[8] = {(double)pz_live / 1048576,
                 pz_proc_mib("/proc/self/status", "VmRSS"),
                 (double)st.allocated / 1048576,
                 (double)st.resident / 1048576,
                 (double)sb.st_blocks * 512 / 1048576,
                 (double)sb.st_size / 1048576,
                 (double)st.last_bytes_written / 1048576};
  bench_report("capacity", "live", "MiB", &v[0], 1);
  bench_report("capacity", "rss", "MiB", &v[1], 1);
  bench_report("capacity", "allocated", "MiB", &v[2], 1);
  bench_report("capacity", "resident", "MiB", &v[3], 1);
  bench_report("capacity", "image_on_disk", "MiB", &v[4], 1);
  bench_report("capacity", "image_length", "MiB", &v[5], 1);
  return 0;
}

/*---------------------------------------------------- allocating threads ---*/

typedef struct pz_worker_s {
  pthread_t tid;
  uint64_t seed;
  uint64_t ops;
} pz_worker_t;

static volatile int pz_stop;

static void *pz_worker(void *arg) {
  pz_worker_t *w = arg;
  enum { LIVE = 10000 };
  void **slot = calloc(LIVE, sizeof *slot);
  uint64_t r = w->seed;
  if (slot == NULL)
    return (void *)1;
  while (!__atomic_load_n(&pz_stop, __ATOMIC_RELAXED)) {
    for (int k = 0; k < 256; k++) {
      uint64_t x = bench_rand(&r);
      size_t i = (size_t)(x % LIVE);
      size_t z = 16 + (size_t)((x >> 20) % 1009);
      free(slot[i]);
      slot[i] = malloc(z);
      if (slot[i] == NULL)
        return (void *)1;
      memset(slot[i], 1, z < 64 ? z : 64);
    }
    w->ops += 256;
  }
  for (int i = 0; i < LIVE; i++)
    free(slot[i]);
  free(slot);
  return NULL;
}

static int pz_threads(const char *name, int n) {
  pz_worker_t w[8];
  if (pz_setup() != 0)
    return 1;
  double thp = pz_thp_mib();
  pz_stop = 0;
  for (int i = 0; i < n; i++) {
    w[i].seed = 77 + (uint64_t)i;
    w[i].ops = 0;
    if (pthread_create(&w[i].tid, NULL, pz_worker, &w[i]) != 0)
      return bench_fail(name, "pthread_create failed");
  }
  pz_sleep_ms(50); /* the workers are in their loops */
  int rc = pz_series(name, thp);
  pz_stop = 1;
  int bad = 0;
  for (int i = 0; i < n; i++) {
    void *res;
    pthread_join(w[i].tid, &res);
    bad |= res != NULL;
  }
  return rc ? rc : bad ? bench_fail(name, "a worker's malloc failed") : 0;
}

BENCHMARK_IMPL(threads1) { return pz_threads("threads1", 1); }
BENCHMARK_IMPL(threads2) { return pz_threads("threads2", 2); }
BENCHMARK_IMPL(threads4) { return pz_threads("threads4", 4); }

BENCHMARK_IMPL(frees) {
  if (pz_setup() != 0)
    return 1;
  uint64_t r = 99;
  for (size_t i = 0; i < pz_n; i++)
    if (bench_rand(&r) & 1) {
      pz_live -= pz_size[i];
      free(pz_obj[i]);
      pz_obj[i] = NULL;
      pz_size[i] = 0;
    }
  return pz_series("frees", pz_thp_mib());
}

/* One word of every 4 KiB page of every object. */
static void pz_scatter(uint64_t salt) {
  for (size_t i = 0; i < pz_n; i++) {
    if (pz_obj[i] == NULL)
      continue;
    char *p = (char *)pz_obj[i];
    for (size_t off = 0; off + 8 <= pz_size[i]; off += 4096)
      *(uint64_t *)(p + off) ^= salt << 1;
  }
}

BENCHMARK_IMPL(writes) {
  double pause[BENCH_MAX_SAMPLES], wr[BENCH_MAX_SAMPLES];
  double wait[BENCH_MAX_SAMPLES], settled[BENCH_MAX_SAMPLES];
  if (pz_setup() != 0)
    return 1;
  long long settle_ms = bench_param_int("settle_ms", 0);
  double thp = pz_thp_mib();
  for (int rep = 0; rep < bench_reps; rep++) {
    if (perm_checkpoint_async() != 0)
      return bench_fail("writes", perm_error());
    uint64_t t0 = bench_now_ns();
    pz_scatter((uint64_t)rep + 1); /* while the child writes the image */
    uint64_t t1 = bench_now_ns();
    wr[rep] = pz_ms(t1 - t0);
    if (perm_wait() != 0)
      return bench_fail("writes", perm_error());
    wait[rep] = pz_ms(bench_now_ns() - t1);
    if (settle_ms > 0) {
      struct timespec ts = {settle_ms / 1000, (settle_ms % 1000) * 1000000};
      nanosleep(&ts, NULL);
    }
    settled[rep] = pz_thp_mib();
    if (pz_checkpoint(&pause[rep], NULL) != 0)
      return 1;
  }
  double thp_after = pz_thp_mib();
  bench_report("writes", "pause", "ms", pause, bench_reps);
  bench_report("writes", "wait", "ms", wait, bench_reps);
  bench_report("writes", "thp_settled", "MiB", settled, bench_reps);
  bench_report("writes", "scatter_during_ckpt", "ms", wr, bench_reps);
  bench_report("writes", "thp_before", "MiB", &thp, 1);
  bench_report("writes", "thp_after", "MiB", &thp_after, 1);
  return 0;
}

/*---------------------------------------------------------------- restore ---*/

static uint64_t pz_read_all(void) {
  uint64_t h = 0;
  for (size_t i = 0; i < pz_n; i++) {
    if (pz_obj[i] == NULL)
      continue;
    const char *p = (const char *)pz_obj[i];
    for (size_t off = 0; off < pz_size[i]; off += 4096)
      h += *(const volatile uint64_t *)(p + off);
  }
  return h;
}

static int pz_open_image(const char *name, double *open_ms, double *first_ms) {
  if (bench_image == NULL)
    return bench_fail(name, "needs --image");
  uint64_t t0 = bench_now_ns();
  if (perm_open(bench_image, "r+") != 0)
    return bench_fail(name, perm_error());
  uint64_t t1 = bench_now_ns();
  if (!perm_restored() || pz_obj == NULL || pz_n == 0)
    return bench_fail(name, "the image holds no pause heap");
  volatile uint64_t first = *pz_obj[pz_n / 2];
  (void)first;
  uint64_t t2 = bench_now_ns();
  *open_ms = pz_ms(t1 - t0);
  *first_ms = pz_ms(t2 - t0);
  return 0;
}

BENCHMARK_IMPL(restore) {
  double open_ms, first_ms;
  if (pz_open_image("restore", &open_ms, &first_ms) != 0)
    return 1;
  uint64_t t0 = bench_now_ns();
  uint64_t h = pz_read_all();
  double all = pz_ms(bench_now_ns() - t0) + first_ms;
  bench_report("restore", "perm_open", "ms", &open_ms, 1);
  bench_report("restore", "first_access", "ms", &first_ms, 1);
  bench_report("restore", "read_all", "ms", &all, 1);
  if (h == 1) /* keeps the reads */
    fprintf(stderr, "!\n");
  perm_close();
  return 0;
}

BENCHMARK_IMPL(restored) {
  double open_ms, first_ms, p[3];
  if (pz_open_image("restored", &open_ms, &first_ms) != 0)
    return 1;
  if (pz_checkpoint(&p[0], NULL) != 0)
    return 1;
  if (pz_read_all() == 1)
    fprintf(stderr, "!\n");
  if (pz_checkpoint(&p[1], NULL) != 0)
    return 1;
  pz_scatter(7);
  if (pz_checkpoint(&p[2], NULL) != 0)
    return 1;
  bench_report("restored", "pause_untouched", "ms", &p[0], 1);
  bench_report("restored", "pause_after_read", "ms", &p[1], 1);
  bench_report("restored", "pause_after_write", "ms", &p[2], 1);
  return 0;
}

BENCHMARK_IMPL(read_file) {
  if (bench_image == NULL)
    return bench_fail("read_file", "needs --image");
  uint64_t t0 = bench_now_ns();
  int fd = open(bench_image, O_RDONLY | O_CLOEXEC);
  struct stat sb;
  if (fd < 0 || fstat(fd, &sb) != 0)
    return bench_fail("read_file", strerror(errno));
  size_t len = (size_t)sb.st_size;
  char *buf = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (buf == MAP_FAILED)
    return bench_fail("read_file", strerror(errno));
  size_t done = 0;
  while (done < len) {
    ssize_t n = read(fd, buf + done, len - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return bench_fail("read_file", n == 0 ? "short read" : strerror(errno));
    done += (size_t)n;
  }
  close(fd);
  double ms = pz_ms(bench_now_ns() - t0);
  munmap(buf, len);
  bench_report("read_file", "read", "ms", &ms, 1);
  return 0;
}

int main(int argc, char **argv) {
  bench_label = "perm";
  return bench_main(argc, argv, bench_list);
}
