// Four threads allocate and free while a fifth takes asynchronous checkpoints
// in a loop.  Every run restores the last image (taken while the workers
// ran), verifies every live object, and checks that the allocator's
// allocated bytes grow by less than 64 KiB per generation although the live
// data stay constant: the tcaches of threads that do not exist in the
// checkpoint child must be given back, not leaked.
//
// RUN: %clang %cflags -pthread %s %ldflags -o %t.exe
// RUN: rm -rf %t.d && mkdir -p %t.d
// RUN: %t.exe %t.d/img | FileCheck --check-prefix=FIRST %s
// RUN: for i in 1 2 3 4 5 6 7 8 9; do %t.exe %t.d/img || exit 1; done | FileCheck %s
// FIRST: fresh heap
// FIRST-NEXT: 3 checkpoints taken while 4 threads ran
// CHECK-COUNT-9: restored generation {{[0-9]+}}: 8000 objects verified, growth ok
// CHECK-NOT: FAIL
#include "../Inputs/zdtm.h"
#include <perm.h>
#include <pthread.h>
#include <time.h>

#define NTHREADS 4
#define NSLOTS 2000

typedef struct slot_s {
  unsigned char *p;
  uint64_t seed;
} slot_t;

/* A published slot: the object is filled before the pointer is stored. */
typedef struct table_s {
  slot_t *slot[NTHREADS][NSLOTS];
} table_t;

static table_t *table;
static uint64_t base_allocated, base_generation;
static int stop;

static size_t slot_size(int i) { return 16 + (size_t)(i * 37) % 4000; }

static slot_t *make(int i, uint64_t seed) {
  slot_t *s = malloc(sizeof *s);
  s->p = malloc(slot_size(i));
  s->seed = seed;
  zdtm_fill(s->p, slot_size(i), seed);
  return s;
}

static void *worker(void *arg) {
  int t = (int)(intptr_t)arg;
  uint64_t r = (uint64_t)t * 7919 + (uint64_t)time(NULL);
  while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
    r = zdtm_mix(r);
    int i = (int)(r % NSLOTS);
    slot_t *n = make(i, r);
    slot_t *old = __atomic_exchange_n(&table->slot[t][i], n, __ATOMIC_ACQ_REL);
    free(old->p);
    free(old);
  }
  return NULL;
}

int main(int argc, char **argv) {
  check(argc == 2, "usage: threads IMAGE");
  perm_register(&table, sizeof table, "table");
  perm_register(&base_allocated, sizeof base_allocated, "base_allocated");
  perm_register(&base_generation, sizeof base_generation, "base_generation");
  if (perm_open(argv[1], "a+") != 0)
    fail("perm_open: %s", perm_error());
  perm_stats_t st;
  if (perm_restored()) {
    perm_stats(&st);
    for (int t = 0; t < NTHREADS; t++)
      for (int i = 0; i < NSLOTS; i++) {
        slot_t *s = table->slot[t][i];
        size_t bad = zdtm_verify(s->p, slot_size(i), s->seed);
        check(bad == (size_t)-1, "thread %d slot %d differs at %zu", t, i, bad);
      }
    if (base_generation == 0) {
      base_generation = st.generation;
      base_allocated = st.allocated;
    }
    uint64_t gens = st.generation - base_generation;
    int64_t growth = (int64_t)(st.allocated - base_allocated);
    check(growth < (int64_t)(gens + 1) * 65536,
          "allocated grew by %lld bytes over %llu generations",
          (long long)growth, (unsigned long long)gens);
    printf("restored generation %llu: %d objects verified, growth ok "
           "(%lld bytes over %llu generations)\n",
           (unsigned long long)st.generation, NTHREADS * NSLOTS,
           (long long)growth, (unsigned long long)gens);
  } else {
    table = calloc(1, sizeof *table);
    for (int t = 0; t < NTHREADS; t++)
      for (int i = 0; i < NSLOTS; i++)
        table->slot[t][i] = make(i, (uint64_t)(t * NSLOTS + i));
    printf("fresh heap\n");
  }
  fflush(stdout);
  pthread_t th[NTHREADS];
  for (int t = 0; t < NTHREADS; t++)
    pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t);
  for (int k = 0; k < 3; k++) {
    struct timespec d = {0, 20 * 1000 * 1000};
    nanosleep(&d, NULL);
    if (perm_checkpoint_async() != 0)
      fail("perm_checkpoint_async: %s", perm_error());
    if (perm_wait() != 0)
      fail("perm_wait: %s", perm_error());
  }
  __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
  for (int t = 0; t < NTHREADS; t++)
    pthread_join(th[t], NULL);
  if (!perm_restored())
    printf("3 checkpoints taken while %d threads ran\n", NTHREADS);
  return 0;
}
