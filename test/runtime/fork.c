// A program that forks while its threads allocate: every child finds a
// working persistent heap (it allocates, frees, and checks objects made by
// the parent's threads), and the parent goes on and checkpoints; the image
// restores.  Also: perm_close then perm_open of another path reattaches the
// live heap, and its image restores it.
//
// RUN: %clang %cflags -pthread %s %ldflags -o %t.exe
// RUN: rm -rf %t.d && mkdir -p %t.d
// RUN: %t.exe %t.d | FileCheck %s
// RUN: %t.exe %t.d restore | FileCheck --check-prefix=RESTORE %s
// CHECK: 20 children forked while 3 threads allocated: all ok
// CHECK-NEXT: reattached to second.img
// RESTORE: restored second.img: 3000 objects ok, marker 'second'
#include "../Inputs/zdtm.h"
#include <perm.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#define NT 3
#define NS 1000

typedef struct obj_s {
  size_t n;
  uint64_t seed;
  unsigned char bytes[];
} obj_t;

static obj_t *slots[NT][NS];
static char *marker;
static int stop;

static obj_t *make(uint64_t seed) {
  size_t n = 16 + zdtm_mix(seed) % 3000;
  obj_t *o = malloc(sizeof *o + n);
  o->n = n;
  o->seed = seed;
  zdtm_fill(o->bytes, n, seed);
  return o;
}

static int verify_all(void) {
  for (int t = 0; t < NT; t++)
    for (int i = 0; i < NS; i++) {
      obj_t *o = __atomic_load_n(&slots[t][i], __ATOMIC_ACQUIRE);
      if (zdtm_verify(o->bytes, o->n, o->seed) != (size_t)-1)
        return 0;
    }
  return 1;
}

static void *worker(void *arg) {
  int t = (int)(intptr_t)arg;
  uint64_t r = (uint64_t)t * 977 + 1;
  while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
    r = zdtm_mix(r);
    obj_t *n = make(r);
    obj_t *old = __atomic_exchange_n(&slots[t][r % NS], n, __ATOMIC_ACQ_REL);
    free(old);
  }
  return NULL;
}

int main(int argc, char **argv) {
  char first[4096], second[4096];
  snprintf(first, sizeof first, "%s/first.img", argv[1]);
  snprintf(second, sizeof second, "%s/second.img", argv[1]);
  perm_register(slots, sizeof slots, "slots");
  perm_register(&marker, sizeof marker, "marker");
  if (argc > 2) {
    if (perm_open(second, "r") != 0)
      fail("perm_open: %s", perm_error());
    check(verify_all(), "objects damaged");
    printf("restored second.img: %d objects ok, marker '%s'\n", NT * NS, marker);
    return 0;
  }
  if (perm_open(first, "w+") != 0)
    fail("perm_open: %s", perm_error());
  for (int t = 0; t < NT; t++)
    for (int i = 0; i < NS; i++)
      slots[t][i] = make((uint64_t)(t * NS + i) << 20);
  pthread_t th[NT];
  for (int t = 0; t < NT; t++)
    pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t);
  int ok = 0;
  for (int k = 0; k < 20; k++) {
    pid_t pid = fork();
    if (pid == 0) {
      /* The child: only this thread; the heap must work and be sound. */
      void *p[100];
      for (int i = 0; i < 100; i++)
        p[i] = malloc(16 + i * 40);
      for (int i = 0; i < 100; i++)
        free(p[i]);
      _exit(verify_all() ? 0 : 3);
    }
    int status;
    waitpid(pid, &status, 0);
    ok += WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
  for (int t = 0; t < NT; t++)
    pthread_join(th[t], NULL);
  printf("20 children forked while %d threads allocated: %s\n", NT,
         ok == 20 ? "all ok" : "FAILED");
  if (perm_checkpoint() != 0)
    fail("checkpoint: %s", perm_error());
  if (perm_close() != 0 || perm_open(second, "w+") != 0)
    fail("reattach: %s", perm_error());
  marker = strdup("second");
  if (perm_checkpoint() != 0)
    fail("checkpoint: %s", perm_error());
  printf("reattached to second.img\n");
  return 0;
}
