// Checkpoints taken while four threads are inside malloc, free and realloc
// restore to a heap in which every object has exactly one owner.  Each run
// restores the last image, which was taken while the workers ran and then
// abandoned (_exit, no checkpoint at exit), and checks:
//   - every object a lane still points to is intact (header and contents);
//   - no two of them overlap (no block owned twice);
//   - 60000 new allocations overlap neither them nor each other, and after
//     them every old object is still intact (a block the allocator still
//     thought free would be handed out again here);
// then it frees half of them and goes on, so the next run restores a heap
// that went through all this.  The workers only ever free objects of their
// own lane, so a run that stops a worker mid-operation leaves at worst one
// object per lane whose fate the lanes cannot tell; it is skipped, never
// freed.  Over the series the forks must have found threads inside the
// allocator (perm_stats.last_threads_waited) at least once.
//
// RUN: %clang %cflags -pthread %s %ldflags -o %t.exe
// RUN: rm -rf %t.d && mkdir -p %t.d
// RUN: %t.exe %t.d/img | FileCheck --check-prefix=FIRST %s
// RUN: for i in 1 2 3 4 5 6; do %t.exe %t.d/img || exit 1; done > %t.out
// RUN: FileCheck --input-file=%t.out %s
// RUN: %t.exe %t.d/img final | FileCheck --check-prefix=FINAL %s
//
// The same with threads publishing their state on every call (PERM_GATE).
// RUN: rm -rf %t.p && mkdir -p %t.p
// RUN: env PERM_GATE=publish %t.exe %t.p/img | FileCheck --check-prefix=FIRST %s
// RUN: for i in 1 2 3 4; do env PERM_GATE=publish %t.exe %t.p/img || exit 1; done > %t.pout
// RUN: FileCheck --input-file=%t.pout %s
// RUN: env PERM_GATE=publish %t.exe %t.p/img final | FileCheck --check-prefix=FINAL %s
//
// A malformed PERM_GATE is refused by name.
// RUN: not env PERM_GATE=maybe %t.exe %t.d/bad 2>&1 | FileCheck --check-prefix=BAD %s
//
// FIRST: fresh heap
// FIRST-NEXT: 12 checkpoints taken while 4 threads ran
// CHECK: restored generation {{[0-9]+}}: {{[0-9]+}} objects intact, 60000 new allocations disjoint
// CHECK-NOT: FAIL
// FINAL: forks found threads inside the allocator {{[1-9][0-9]*}} times
// BAD: PERM_GATE='maybe': use signal or publish
#include "../Inputs/zdtm.h"
#include <malloc.h>
#include <perm.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#define NTHREADS 4
#define NSLOTS 400
#define NEW 60000
#define MAGIC 0x6761746569ull

/* What an object says about itself, in its first bytes. */
typedef struct head_s {
  uint64_t magic, lane, slot, size, seed;
} head_t;

#define LANE_IDLE 0
#define LANE_FREEING 1
#define LANE_REALLOC 2

/*
** A worker's objects.  Its stores reach an image in program order (a fork
** copies each thread's writes up to some point), so the journal says which
** one object may be in doubt.
*/
typedef struct lane_s {
  head_t *slot[NSLOTS];
  int state;   /* LANE_* */
  int index;   /* the slot the operation is on */
  head_t *old; /* the object it frees or reallocates */
} lane_t;

static lane_t *lanes;
static uint64_t waited_total; /* over all runs: forks that found threads in */
static int stop;

static size_t size_for(uint64_t r) {
  switch (r % 8) {
  case 0:
    return sizeof(head_t) + r % 16384; /* up to 16 KiB */
  case 1:
    return 20000 + r % 60000; /* large */
  default:
    return sizeof(head_t) + r % 200; /* small: tcache bins */
  }
}

static void fill(head_t *h, uint64_t lane, uint64_t slot, size_t size,
                 uint64_t seed) {
  h->magic = MAGIC;
  h->lane = lane;
  h->slot = slot;
  h->size = size;
  h->seed = seed;
  zdtm_fill(h + 1, size - sizeof *h, seed);
}

/* 0 when h is what its lane and slot say. */
static const char *intact(const head_t *h, uint64_t lane, uint64_t slot) {
  if (h->magic != MAGIC)
    return "magic";
  if (h->lane != lane || h->slot != slot)
    return "owner";
  if (malloc_usable_size((void *)h) < h->size)
    return "usable size";
  if (zdtm_verify((void *)(h + 1), h->size - sizeof *h, h->seed) != (size_t)-1)
    return "contents";
  return NULL;
}

/* In program order for the image too (the compiler may not reorder them). */
#define PUT(lval, v) __atomic_store_n(&(lval), (v), __ATOMIC_RELEASE)

static void *worker(void *arg) {
  uint64_t t = (uint64_t)(intptr_t)arg;
  lane_t *l = &lanes[t];
  uint64_t r = zdtm_mix(t * 7919 + (uint64_t)time(NULL) + (uint64_t)getpid());
  while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
    r = zdtm_mix(r);
    int i = (int)(r % NSLOTS);
    head_t *h = l->slot[i];
    if (h == NULL) {
      size_t n = size_for(r >> 8);
      head_t *p = malloc(n);
      fill(p, t, (uint64_t)i, n, r);
      PUT(l->slot[i], p);
    } else if (r % 3 == 0) {
      size_t n = size_for(r >> 8);
      PUT(l->old, h);
      PUT(l->index, i);
      PUT(l->state, LANE_REALLOC);
      head_t *p = realloc(h, n);
      fill(p, t, (uint64_t)i, n, r);
      PUT(l->slot[i], p);
      PUT(l->state, LANE_IDLE);
    } else {
      PUT(l->old, h);
      PUT(l->index, i);
      PUT(l->state, LANE_FREEING);
      PUT(l->slot[i], NULL);
      free(h);
      PUT(l->state, LANE_IDLE);
    }
  }
  return NULL;
}

typedef struct span_s {
  uintptr_t lo, hi;
  int old; /* from the image */
} span_t;

static int span_cmp(const void *a, const void *b) {
  const span_t *x = a, *y = b;
  return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Every restored object intact and alone; new blocks land elsewhere. */
static int verify(void) {
  span_t *spans = calloc(NTHREADS * NSLOTS + NEW, sizeof *spans);
  void **fresh = calloc(NEW, sizeof *fresh);
  check(spans != NULL && fresh != NULL, "out of memory");
  int n = 0, doubt = 0;
  for (int t = 0; t < NTHREADS; t++) {
    lane_t *l = &lanes[t];
    for (int i = 0; i < NSLOTS; i++) {
      head_t *h = l->slot[i];
      if (h == NULL)
        continue;
      if (l->state == LANE_REALLOC && l->index == i && h == l->old) {
        l->slot[i] = NULL; /* moved, or not yet: its fate is unknown */
        doubt++;
        continue;
      }
      const char *bad = intact(h, (uint64_t)t, (uint64_t)i);
      check(bad == NULL, "lane %d slot %d at %p: %s is wrong", t, i, (void *)h,
            bad);
      spans[n++] = (span_t){(uintptr_t)h, (uintptr_t)h + h->size, 1};
    }
    l->state = LANE_IDLE;
  }
  int old = n;
  uint64_t r = zdtm_mix((uint64_t)n + 99);
  for (int k = 0; k < NEW; k++) {
    r = zdtm_mix(r);
    size_t sz = sizeof(head_t) + r % (k % 100 == 0 ? 65536 : 256);
    head_t *p = malloc(sz);
    check(p != NULL, "malloc(%zu) failed", sz);
    fill(p, 1000, (uint64_t)k, sz, r);
    fresh[k] = p;
    spans[n++] = (span_t){(uintptr_t)p, (uintptr_t)p + sz, 0};
  }
  qsort(spans, (size_t)n, sizeof *spans, span_cmp);
  for (int k = 1; k < n; k++)
    check(spans[k].lo >= spans[k - 1].hi,
          "blocks overlap: [%#lx, %#lx) (%s) and [%#lx, %#lx) (%s)",
          (unsigned long)spans[k - 1].lo, (unsigned long)spans[k - 1].hi,
          spans[k - 1].old ? "restored" : "new", (unsigned long)spans[k].lo,
          (unsigned long)spans[k].hi, spans[k].old ? "restored" : "new");
  for (int t = 0; t < NTHREADS; t++)
    for (int i = 0; i < NSLOTS; i++)
      if (lanes[t].slot[i] != NULL) {
        const char *bad = intact(lanes[t].slot[i], (uint64_t)t, (uint64_t)i);
        check(bad == NULL, "lane %d slot %d changed by new allocations: %s", t,
              i, bad);
      }
  for (int k = 0; k < NEW; k++) {
    const char *bad = intact(fresh[k], 1000, (uint64_t)k);
    check(bad == NULL, "new block %d: %s is wrong", k, bad);
    free(fresh[k]);
  }
  /* Half the restored objects go: frees of restored blocks must work. */
  for (int t = 0; t < NTHREADS; t++)
    for (int i = t % 2; i < NSLOTS; i += 2) {
      free(lanes[t].slot[i]);
      lanes[t].slot[i] = NULL;
    }
  free(spans);
  free(fresh);
  (void)doubt;
  return old;
}

int main(int argc, char **argv) {
  check(argc >= 2, "usage: gate-inside IMAGE [final]");
  perm_register(&lanes, sizeof lanes, "lanes");
  perm_register(&waited_total, sizeof waited_total, "waited_total");
  if (perm_open(argv[1], "a+") != 0) {
    fprintf(stderr, "perm_open: %s\n", perm_error());
    return 1;
  }
  perm_stats_t st;
  if (perm_restored()) {
    perm_stats(&st);
    int n = verify();
    printf("restored generation %llu: %d objects intact, %d new allocations "
           "disjoint\n",
           (unsigned long long)st.generation, n, NEW);
  } else {
    lanes = calloc(NTHREADS, sizeof *lanes);
    printf("fresh heap\n");
  }
  if (argc > 2) {
    printf("forks found threads inside the allocator %llu times\n",
           (unsigned long long)waited_total);
    return 0;
  }
  fflush(stdout);
  pthread_t th[NTHREADS];
  for (int t = 0; t < NTHREADS; t++)
    pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t);
  uint64_t r = zdtm_mix((uint64_t)getpid());
  for (int k = 0; k < 12; k++) {
    r = zdtm_mix(r);
    struct timespec d = {0, (long)(r % 3000000)};
    nanosleep(&d, NULL);
    int rc = k % 2 ? perm_checkpoint() : perm_checkpoint_async();
    if (rc == 0 && k % 2 == 0)
      rc = perm_wait();
    if (rc != 0)
      fail("checkpoint %d: %s", k, perm_error());
    perm_stats(&st);
    if (st.last_threads_waited > 0)
      __atomic_add_fetch(&waited_total, 1, __ATOMIC_RELAXED);
  }
  if (!perm_restored())
    printf("12 checkpoints taken while %d threads ran\n", NTHREADS);
  fflush(stdout);
  _exit(0); /* the workers are still running: no checkpoint at exit */
}
