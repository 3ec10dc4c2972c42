// As delta-tcache.c, but the cache is another thread's, alive across both
// checkpoints: the child gives back the other threads' caches as soon as it
// starts, before it quiesces its own, and reads the allocator's statistics
// (which jemalloc refreshes in the region).  Every change the child makes
// must be tracked, from its first instant to its last write of the region:
// PERM_READBACK=1 compares each image, read back with its chain, with the
// memory it was written from, and fails the checkpoint on any difference.
// (It did differ: the child's changes at its start and the statistics it
// refreshed after collecting its changes were in no delta; under load a
// restored process then handed out live objects again, test/stress.)
//
// REQUIRES: wp-async
// RUN: %clang %cflags -pthread %s %ldflags -o %t.exe
// RUN: rm -rf %t.d && mkdir -p %t.d
// RUN: env PERM_READBACK=1 %t.exe %t.d/img write | FileCheck --check-prefix=WRITE %s
// RUN: %t.exe %t.d/img reuse | FileCheck --check-prefix=REUSE %s
// RUN: env PERM_RESTORE=eager %t.exe %t.d/img reuse | FileCheck --check-prefix=REUSE %s
// WRITE: generation 2: delta
// REUSE: 4000 new objects, none of them a live one
#include "../Inputs/zdtm.h"
#include <perm.h>
#include <pthread.h>

#define N 2000
#define K 16 /* taken from the cache again: fewer than it holds */
#define SIZE 48

typedef struct state_s {
  void *live[N + K]; /* every object the writer left allocated */
} state_t;

static state_t *st;

/* The worker's steps, each run when the main thread asks for it. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int step, done;

static void worker_step(int s) {
  if (s == 1) {
    void *tmp[N];
    for (int i = 0; i < N; i++)
      st->live[i] = malloc(SIZE);
    for (int i = 0; i < N; i++)
      tmp[i] = malloc(SIZE);
    for (int i = 0; i < N; i++)
      free(tmp[i]); /* into this thread's cache */
  } else {
    for (int i = 0; i < K; i++)
      st->live[N + i] = malloc(SIZE); /* from the cache: no metadata write */
  }
}

static void *worker(void *arg) {
  (void)arg;
  pthread_mutex_lock(&mu);
  for (int s = 1; s <= 2; s++) {
    while (step < s)
      pthread_cond_wait(&cv, &mu);
    worker_step(s);
    done = s;
    pthread_cond_broadcast(&cv);
  }
  while (step < 3) /* alive, its cache held, until the end */
    pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);
  return NULL;
}

static void run_step(int s) {
  pthread_mutex_lock(&mu);
  step = s;
  pthread_cond_broadcast(&cv);
  while (done < s && s < 3)
    pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);
}

int main(int argc, char **argv) {
  check(argc == 3, "usage: delta-tcache-thread IMAGE write|reuse");
  perm_register(&st, sizeof st, "st");
  int write = strcmp(argv[2], "write") == 0;
  if (perm_open(argv[1], write ? "w+i" : "r") != 0)
    fail("perm_open: %s", perm_error());
  if (write) {
    st = calloc(1, sizeof *st);
    pthread_t t;
    check(pthread_create(&t, NULL, worker, NULL) == 0, "pthread_create");
    run_step(1);
    if (perm_checkpoint() != 0) /* the child gives the worker's cache back */
      fail("checkpoint: %s", perm_error());
    run_step(2);
    if (perm_checkpoint() != 0)
      fail("checkpoint: %s", perm_error());
    perm_stats_t s;
    perm_stats(&s);
    printf("generation %llu: %s\n", (unsigned long long)s.generation,
           s.last_incremental ? "delta" : "full");
    run_step(3);
    pthread_join(t, NULL);
    return 0;
  }
  for (int i = 0; i < 2 * N; i++) {
    void *p = malloc(SIZE);
    for (int k = 0; k < N + K; k++)
      check(p != st->live[k], "malloc returned the live object %d (%p)", k, p);
  }
  printf("%d new objects, none of them a live one\n", 2 * N);
  return 0;
}
