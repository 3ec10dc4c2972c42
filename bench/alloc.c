/*
** alloc.c - malloc/free throughput of the PERM persistent heap against
** system allocators, on identical workloads, with 1, 2 and 4 threads.
**
** One source, two binaries (bench/CMakeLists.txt):
**   perm-bench-alloc       linked with libpermrt; calls perm_open("w+") on an
**                          image in a scratch directory first, so every
**                          malloc of every thread is the private persistent
**                          jemalloc; it never checkpoints.
**   perm-bench-alloc-base  not linked with PERM: glibc as is, or a system
**                          allocator under LD_PRELOAD (libjemalloc.so.2,
**                          libmimalloc.so.2, libtcmalloc_minimal.so.4).
** Each reports which allocator actually served it (it checks, it does not
** trust the preload).  Compiled with -fno-builtin so that no malloc/free
** pair is optimised away.
**
**   prog [--quick] [--reps N] [--set threads=T] [--set idle_thread=1] [name...]
**
** --quick divides the operations by 10.  threads=T runs every workload in T threads at once (each on its own
** objects; aggregate ops/s = all ops over the slowest thread's time).
** idle_thread=1 first creates a thread that only sleeps: for PERM this turns
** the fork gate on (runtime/heap.h) in an otherwise single-threaded run.
** A process with threads=1 and no idle thread never calls pthread_create,
** so PERM's gate stays off, as in a single-threaded program.
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

BENCHMARK_LIST_START
  BENCHMARK_ENTRY(small64)
  BENCHMARK_ENTRY(mixed)
  BENCHMARK_ENTRY(large)
BENCHMARK_LIST_END

#define ALLOC_SIZE_TABLE 4096
#define ALLOC_MAX_THREADS 16

typedef struct alloc_work_s {
  size_t lo, hi;        /* size range, bytes, log-uniform; lo == hi: fixed */
  size_t live;          /* objects kept live (the working set); 0: none */
  uint64_t ops;         /* replacements timed */
  uint64_t seed;
  size_t sizes[ALLOC_SIZE_TABLE]; /* the size distribution, tabulated */
  void **slot;          /* the working set; mmap'ed, not from the allocator */
  uint64_t ns;          /* timed part */
  int failed;
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

/* The tight loop: malloc, touch, free at once (the thread-cache fast path). */
static int alloc_pair_loop(size_t size, uint64_t ops) {
  for (uint64_t n = 0; n < ops; n++) {
    void *p = malloc(size);
    if (p == NULL)
      return -1;
    alloc_touch(p, size);
    free(p);
  }
  return 0;
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
** `ops` times timed, free all.  Without a working set: the tight loop.
*/
static int alloc_work(alloc_work_t *w) {
  uint64_t r = w->seed;
  size_t bytes = w->live * sizeof(void *);
  if (w->live == 0) {
    if (alloc_pair_loop(w->lo, w->ops / 10) != 0)
      return -1;
    if (w->start)
      pthread_barrier_wait(w->start);
    uint64_t t0 = bench_now_ns();
    if (alloc_pair_loop(w->lo, w->ops) != 0)
      return -1;
    w->ns = bench_now_ns() - t0;
    return 0;
  }
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
  alloc_work_t *w = arg;
  if (alloc_work(w) != 0) {
    w->failed = 1;
    if (w->start) /* the others must not wait for us forever */
      pthread_barrier_wait(w->start);
  }
  return NULL;
}

static int alloc_run(const char *name, size_t lo, size_t hi, size_t live,
                     uint64_t ops) {
  double v[BENCH_MAX_SAMPLES] = {0};
  int threads = (int)bench_param_int("threads", 1);
  if (threads < 1 || threads > ALLOC_MAX_THREADS)
    return bench_fail(name, "threads must be 1..16");
  if (bench_quick)
    ops /= 10;
  alloc_work_t *w = mmap(NULL, (size_t)threads * sizeof *w,
                         PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                         -1, 0);
  if (w == MAP_FAILED)
    return bench_fail(name, "out of memory");
  for (int rep = 0; rep < bench_reps; rep++) {
    pthread_barrier_t start;
    pthread_t tid[ALLOC_MAX_THREADS];
    for (int t = 0; t < threads; t++) {
      w[t].lo = lo, w[t].hi = hi, w[t].live = live, w[t].ops = ops;
      w[t].seed = 0x1234 + (uint64_t)t * 7919 + (uint64_t)rep * 104729;
      w[t].start = threads > 1 ? &start : NULL;
      w[t].failed = 0;
      alloc_sizes(&w[t]);
    }
    if (threads == 1) { /* in this thread: no pthread_create */
      if (alloc_work(&w[0]) != 0)
        return bench_fail(name, "malloc failed");
      v[rep] = (double)ops / ((double)w[0].ns / 1e9);
      continue;
    }
    pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
    for (int t = 0; t < threads; t++)
      if (pthread_create(&tid[t], NULL, alloc_thread, &w[t]) != 0)
        return bench_fail(name, "pthread_create failed");
    pthread_barrier_wait(&start);
    uint64_t slowest = 0;
    int bad = 0;
    for (int t = 0; t < threads; t++) {
      pthread_join(tid[t], NULL);
      bad |= w[t].failed;
      slowest = w[t].ns > slowest ? w[t].ns : slowest;
    }
    pthread_barrier_destroy(&start);
    if (bad)
      return bench_fail(name, "malloc failed in a thread");
    v[rep] = (double)ops * threads / ((double)slowest / 1e9);
  }
  munmap(w, (size_t)threads * sizeof *w);
  char full[64];
  snprintf(full, sizeof full, "%s/%dt", name, threads);
  bench_report(full, "throughput", "ops/s", v, bench_reps);
  return 0;
}

/* 64 B malloc, touch, free: the thread-cache fast path, nothing live. */
BENCHMARK_IMPL(small64) { return alloc_run("small64", 64, 64, 0, 20000000); }

/* 16 B - 4 KiB, 100k live objects per thread, random replacement. */
BENCHMARK_IMPL(mixed) { return alloc_run("mixed", 16, 4096, 100000, 4000000); }

/*
** 64 KiB - 4 MiB, 64 live objects per thread (about 64 MiB), random
** replacement; only the first 64 bytes of each object are written, so the
** cost is the allocator's handling of large extents (purge and refault of
** pages it gave back, huge pages).
*/
BENCHMARK_IMPL(large) {
  return alloc_run("large", 64 << 10, 4 << 20, 64, 200000);
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
  if (dlsym(RTLD_DEFAULT, "mi_version") != NULL)
    return "mimalloc";
  if (dlsym(RTLD_DEFAULT, "tc_version") != NULL)
    return "tcmalloc";
  if (dlsym(RTLD_DEFAULT, "mallctl") != NULL)
    return "jemalloc";
  return "glibc";
#endif
}

static void *alloc_idle(void *arg) {
  (void)arg;
  for (;;)
    pause();
  return NULL;
}

int main(int argc, char **argv) {
  int rc;
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
  /* bench_main parses --set; look for idle_thread before it runs anything. */
  for (int i = 1; i + 1 < argc; i++)
    if (!strcmp(argv[i], "--set") && !strcmp(argv[i + 1], "idle_thread=1")) {
      pthread_t idle;
      if (pthread_create(&idle, NULL, alloc_idle, NULL) != 0) {
        perror("pthread_create");
        return 1;
      }
      pthread_detach(idle);
    }
  fprintf(stderr, "perm-bench-alloc: malloc is served by %s\n", bench_label);
  rc = bench_main(argc, argv, bench_list);
#ifdef BENCH_PERM
  perm_close();
  unlink(image);
  rmdir(dir);
#endif
  return rc;
}
