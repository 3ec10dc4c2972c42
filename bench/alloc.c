/*
** alloc.c - malloc/free throughput of the PERM persistent heap against
** system allocators, on identical workloads.
**
** One source, two binaries (bench/CMakeLists.txt):
**   perm-bench-alloc       linked with libpermrt; calls perm_open("w+") on an
**                          image in a scratch directory first, so every
**                          malloc of every thread is the private persistent
**                          jemalloc; it never checkpoints.
**   perm-bench-alloc-base  not linked with PERM: glibc as is, or the system
**                          jemalloc with
**                          LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
** Each reports which allocator actually served it (it checks, it does not
** trust the label).  Compiled with -fno-builtin so that no malloc/free pair
** is optimised away.
**
** An "op" is one malloc plus one free.  Every allocation has its first
** min(size, 64) bytes written, as a program would.  Sizes are log-uniform in
** their range and the sequences come from a fixed seed, so all allocators
** see the same requests in the same order.
*/
#define _GNU_SOURCE
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"

#ifdef BENCH_PERM
#include <perm.h>
#endif

BENCHMARK_DECLARE(small64)
BENCHMARK_DECLARE(mixed)
BENCHMARK_DECLARE(large)
BENCHMARK_DECLARE(threads2)

BENCHMARK_LIST_START
  BENCHMARK_ENTRY(small64)
  BENCHMARK_ENTRY(mixed)
  BENCHMARK_ENTRY(large)
  BENCHMARK_ENTRY(threads2)
BENCHMARK_LIST_END

#define ALLOC_SIZE_TABLE 4096

typedef struct alloc_work_s {
  size_t lo, hi;        /* size range, bytes, log-uniform */
  size_t live;          /* objects kept live (the working set) */
  uint64_t ops;         /* replacements timed */
  uint64_t seed;
  size_t sizes[ALLOC_SIZE_TABLE]; /* the size distribution, tabulated */
  void **slot;          /* the working set; mmap'ed, not from the allocator */
  uint64_t ns;          /* timed part */
  pthread_barrier_t *start; /* threads: filled, ready to time */
} alloc_work_t;

static inline void alloc_touch(void *p, size_t size) {
  memset(p, (int)(size & 0xff) | 1, size < 64 ? size : 64);
}

static void alloc_sizes(alloc_work_t *w) {
  uint64_t s = w->seed ^ 0x5151;
  double ratio = (double)w->hi / (double)w->lo;
  for (int i = 0; i < ALLOC_SIZE_TABLE; i++) {
    double u = (double)(bench_rand(&s) >> 11) / 9007199254740992.0;
    double v = (double)w->lo * pow(ratio, u);
    size_t z = (size_t)v;
    w->sizes[i] = z < w->lo ? w->lo : z > w->hi ? w->hi : z;
  }
}

static int alloc_replace_loop(alloc_work_t *w, uint64_t *r, uint64_t ops) {
  for (uint64_t n = 0; n < ops; n++) {
    uint64_t x = bench_rand(r);
    size_t z = w->sizes[x & (ALLOC_SIZE_TABLE - 1)];
    size_t i = (size_t)(((x >> 32) * (uint64_t)w->live) >> 32);
    free(w->slot[i]);
    void *p = malloc(z);
    if (p == NULL)
      return -1;
    alloc_touch(p, z);
    w->slot[i] = p;
  }
  return 0;
}

/*
** Fill the working set, replace random objects ops/10 times (warm-up), then
** `ops` times timed, free all.
*/
static int alloc_replace(alloc_work_t *w) {
  uint64_t r = w->seed;
  size_t bytes = w->live * sizeof(void *);
  w->slot = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (w->slot == MAP_FAILED)
    return -1;
  for (size_t i = 0; i < w->live; i++) {
    size_t z = w->sizes[bench_rand(&r) & (ALLOC_SIZE_TABLE - 1)];
    if ((w->slot[i] = malloc(z)) == NULL)
      return -1;
    alloc_touch(w->slot[i], z);
  }
  if (alloc_replace_loop(w, &r, w->ops / 10) != 0) /* warm-up, untimed */
    return -1;
  if (w->start)
    pthread_barrier_wait(w->start);
  uint64_t t0 = bench_now_ns();
  if (alloc_replace_loop(w, &r, w->ops) != 0)
    return -1;
  w->ns = bench_now_ns() - t0;
  for (size_t i = 0; i < w->live; i++)
    free(w->slot[i]);
  munmap(w->slot, bytes);
  return 0;
}

static void *alloc_thread(void *arg) {
  return alloc_replace(arg) == 0 ? NULL : (void *)1;
}

static int alloc_run(const char *name, size_t lo, size_t hi, size_t live,
                     uint64_t ops, int threads) {
  double v[BENCH_MAX_SAMPLES] = {0};
  if (bench_quick)
    ops /= 4;
  alloc_work_t *w = calloc((size_t)threads, sizeof *w);
  if (w == NULL)
    return bench_fail(name, "out of memory");
  for (int rep = 0; rep < bench_reps; rep++) {
    pthread_barrier_t start;
    pthread_t tid[8];
    if (threads > 1)
      pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
    for (int t = 0; t < threads; t++) {
      w[t].lo = lo, w[t].hi = hi, w[t].live = live, w[t].ops = ops;
      w[t].seed = 0x1234 + (uint64_t)t * 7919;
      w[t].start = threads > 1 ? &start : NULL;
      alloc_sizes(&w[t]);
    }
    if (threads == 1) {
      if (alloc_replace(&w[0]) != 0)
        return bench_fail(name, "malloc failed");
      v[rep] = (double)ops / ((double)w[0].ns / 1e9);
      continue;
    }
    for (int t = 0; t < threads; t++)
      if (pthread_create(&tid[t], NULL, alloc_thread, &w[t]) != 0)
        return bench_fail(name, "pthread_create failed");
    pthread_barrier_wait(&start);
    uint64_t slowest = 0;
    int bad = 0;
    for (int t = 0; t < threads; t++) {
      void *res;
      pthread_join(tid[t], &res);
      bad |= res != NULL;
      slowest = w[t].ns > slowest ? w[t].ns : slowest;
    }
    pthread_barrier_destroy(&start);
    if (bad)
      return bench_fail(name, "malloc failed in a thread");
    /* Aggregate: all threads' ops over the slowest thread's timed part. */
    v[rep] = (double)ops * threads / ((double)slowest / 1e9);
  }
  free(w);
  bench_report(name, "throughput", "ops/s", v, bench_reps);
  return 0;
}

/* 64 B malloc immediately freed: the thread-cache fast path. */
BENCHMARK_IMPL(small64) {
  double v[BENCH_MAX_SAMPLES] = {0};
  uint64_t ops = bench_quick ? 5000000 : 20000000;
  for (int rep = -1; rep < bench_reps; rep++) { /* rep -1: warm-up */
    uint64_t n_ops = rep < 0 ? ops / 10 : ops;
    uint64_t t0 = bench_now_ns();
    for (uint64_t n = 0; n < n_ops; n++) {
      void *p = malloc(64);
      if (p == NULL)
        return bench_fail("small64", "malloc failed");
      alloc_touch(p, 64);
      free(p);
    }
    if (rep >= 0)
      v[rep] = (double)ops / ((double)(bench_now_ns() - t0) / 1e9);
  }
  bench_report("small64", "throughput", "ops/s", v, bench_reps);
  return 0;
}

/* 16 B - 4 KiB, 100k live objects, random replacement. */
BENCHMARK_IMPL(mixed) {
  return alloc_run("mixed", 16, 4096, 100000, 4000000, 1);
}

/* 16 KiB - 1 MiB, 1000 live objects, random replacement. */
BENCHMARK_IMPL(large) {
  return alloc_run("large", 16 << 10, 1 << 20, 1000, 400000, 1);
}

/* Two threads, each the mixed workload on its own 100k objects. */
BENCHMARK_IMPL(threads2) {
  return alloc_run("threads2", 16, 4096, 100000, 4000000, 2);
}

/* Which allocator serves this process: checked, not assumed. */
static const char *alloc_identify(void) {
#ifdef BENCH_PERM
  perm_stats_t st;
  void *p = malloc(64);
  int in = perm_stats(&st) == 0 && (uint64_t)p - st.region_base < st.region_size;
  free(p);
  return in ? "perm" : "perm-NOT-IN-REGION";
#else
  return dlsym(RTLD_DEFAULT, "mallctl") != NULL ? "jemalloc" : "glibc";
#endif
}

int main(int argc, char **argv) {
#ifdef BENCH_PERM
  char dir[] = "/tmp/perm-bench-alloc-XXXXXX";
  char image[64];
  if (mkdtemp(dir) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  snprintf(image, sizeof image, "%s/alloc.img", dir);
  if (perm_open(image, "w+") != 0) {
    fprintf(stderr, "perm_open: %s\n", perm_error());
    return 1;
  }
#endif
  bench_label = alloc_identify(); /* --label overrides it */
  fprintf(stderr, "perm-bench-alloc: malloc is served by %s\n", bench_label);
  int rc = bench_main(argc, argv, bench_list);
#ifdef BENCH_PERM
  perm_close();
  unlink(image);
  rmdir(dir);
#endif
  return rc;
}
