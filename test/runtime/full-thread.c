// A thread whose first allocation comes when the region is full gets NULL
// and ENOMEM, as malloc fails, and does not crash (issue 8, defect 4):
// jemalloc 5.3.0 ignores a failed allocation of a new thread's cache and
// then crashes on its empty stacks, so the runtime boots a thread without
// a cache when the region could not hold one (heap.c).  Once memory is
// freed, a new thread allocates normally.
//
// RUN: %clang %cflags -pthread %s %ldflags -o %t.exe
// RUN: rm -rf %t.d && mkdir -p %t.d
// RUN: env PERM_SIZE=64M %t.exe %t.d/img 65536 | FileCheck %s
// RUN: env PERM_SIZE=64M %t.exe %t.d/img 100 | FileCheck %s
// CHECK: main: the region is full
// CHECK-NEXT: thread: NULL, ENOMEM
// CHECK-NEXT: main: freed everything
// CHECK-NEXT: thread: allocated 1000 objects
#include "../Inputs/zdtm.h"
#include <errno.h>
#include <perm.h>
#include <pthread.h>
#include <sys/mman.h>

static void *first_when_full(void *arg) {
  (void)arg;
  errno = 0;
  void *volatile p = malloc(100);
  int err = errno;
  if (p == NULL)
    printf("thread: NULL, %s\n", err == ENOMEM ? "ENOMEM" : "another errno");
  else
    printf("thread: got memory from a full region\n");
  free(p);
  return NULL;
}

static void *first_after_free(void *arg) {
  (void)arg;
  void *volatile v[1000];
  int n = 0;
  for (int i = 0; i < 1000; i++)
    n += (v[i] = malloc(100)) != NULL;
  printf("thread: allocated %d objects\n", n);
  for (int i = 0; i < 1000; i++)
    free(v[i]);
  return NULL;
}

static void run(void *(*fn)(void *)) {
  pthread_t t;
  check(pthread_create(&t, NULL, fn, NULL) == 0, "pthread_create");
  pthread_join(t, NULL);
  fflush(stdout);
}

int main(int argc, char **argv) {
  check(argc == 3, "usage: full-thread IMAGE SIZE");
  if (perm_open(argv[1], "w+") != 0)
    fail("perm_open: %s", perm_error());
  size_t size = strtoull(argv[2], NULL, 0), cap = 1 << 20, n = 0;
  /* The list of blocks lives outside the region (mmap), not in the heap. */
  void **all = mmap(NULL, cap * sizeof *all, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  check(all != MAP_FAILED, "mmap failed");
  while (n < cap && (all[n] = malloc(size)) != NULL)
    n++;
  while (n < cap && (all[n] = malloc(16)) != NULL)
    n++;
  check(n < cap, "the region never filled");
  printf("main: the region is full\n");
  fflush(stdout);
  run(first_when_full);
  while (n > 0)
    free(all[--n]);
  printf("main: freed everything\n");
  fflush(stdout);
  run(first_after_free);
  return 0;
}
