/*
** threads.c - the table of threads that may be inside the private allocator.
**
** A thread joins at its first call out of jemalloc, at jemalloc's first
** pthread_setspecific for it, or when pthread_create (interpose.c) starts
** it, whichever comes first: before it can change anything a fork must
** not see half-changed.  It leaves when jemalloc's destructor for it runs
** (heap.c), or is found gone by the next thread that joins or forks.
**
** Slots are claimed with a compare-and-swap of their thread id, so joining
** needs no lock: it happens inside jemalloc, where the forking thread may
** hold every lock, and in a signal handler.  The table is a static part and
** parts mapped as it grows, linked, never unmapped: a forking thread that
** reads a slot while its owner exits reads memory that stays.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "threads.h"

#define THREADS_PER_PART 512

typedef struct threads_part_s {
  struct threads_part_s *next; /* set once, by compare-and-swap */
  int used;                    /* slots ever claimed: [0, used) */
  perm_thread_t slot[THREADS_PER_PART];
} threads_part_t;

typedef struct threads_s {
  threads_part_t first;
} threads_t;

static threads_t threads;
__thread perm_thread_t *perm__me __attribute__((tls_model("initial-exec")));

static int threads_gettid(void) { return (int)syscall(SYS_gettid); }

/* Is thread tid of this process gone? */
static int threads_gone(int tid) {
  pid_t pid = getpid();
  return syscall(SYS_tgkill, pid, tid, 0) != 0 && errno == ESRCH;
}

void perm__thread_free(perm_thread_t *t) {
  t->depth = 0;
  t->tsd = NULL;
  t->asked = t->waits = 0;
  __atomic_store_n(&t->tid, 0, __ATOMIC_RELEASE);
}

/* A free slot claimed for tid, or NULL; reclaim: also take the gone's. */
static perm_thread_t *threads_claim(int tid, int reclaim) {
  for (threads_part_t *p = &threads.first; p != NULL;
       p = __atomic_load_n(&p->next, __ATOMIC_ACQUIRE)) {
    for (int i = 0; i < THREADS_PER_PART; i++) {
      perm_thread_t *t = &p->slot[i];
      int old = __atomic_load_n(&t->tid, __ATOMIC_ACQUIRE);
      if (old != 0 && !(reclaim && threads_gone(old)))
        continue;
      if (!__atomic_compare_exchange_n(&t->tid, &old, tid, 0, __ATOMIC_ACQ_REL,
                                       __ATOMIC_RELAXED))
        continue;
      t->depth = 0; /* a gone thread's values mean nothing */
      t->tsd = NULL;
      t->answer = t->asked = t->waits = t->seen_inside = 0;
      int used = __atomic_load_n(&p->used, __ATOMIC_RELAXED);
      while (used < i + 1 &&
             !__atomic_compare_exchange_n(&p->used, &used, i + 1, 1,
                                          __ATOMIC_RELEASE, __ATOMIC_RELAXED))
        ;
      return t;
    }
  }
  return NULL;
}

/* A new part at the end of the table; 0, or -1 when none can be mapped. */
static int threads_grow(void) {
  threads_part_t *n = mmap(NULL, sizeof *n, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (n == MAP_FAILED)
    return -1;
  threads_part_t *p = &threads.first;
  for (;;) {
    threads_part_t *next = NULL;
    if (__atomic_compare_exchange_n(&p->next, &next, n, 0, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE))
      return 0;
    p = next;
  }
}

perm_thread_t *perm__thread_join(void) {
  int tid = threads_gettid();
  /* A slot with this id is a gone thread's: ids are reused. */
  perm_thread_t *stale;
  while ((stale = perm__thread_find(tid)) != NULL)
    perm__thread_free(stale);
  int saved = errno;
  perm_thread_t *t = threads_claim(tid, 0);
  if (t == NULL)
    t = threads_claim(tid, 1);
  while (t == NULL) {
    if (threads_grow() != 0) {
      /*
      ** Thousands of threads and no 32 KiB left: a thread that cannot be
      ** accounted for could be inside the allocator at a checkpoint and
      ** tear the heap the image saves.  Nothing can be returned to the
      ** caller, which is in the middle of malloc.
      */
      static const char msg[] =
          "perm: cannot map memory to record a new thread\n";
      if (write(2, msg, sizeof msg - 1) < 0) {
      }
      abort();
    }
    t = threads_claim(tid, 0);
  }
  errno = saved;
  perm__me = t;
  return t;
}

perm_thread_t *perm__thread_find(int tid) {
  perm_threads_iter_t it = {0};
  perm_thread_t *t;
  while ((t = perm__threads_each(&it)) != NULL)
    if (__atomic_load_n(&t->tid, __ATOMIC_ACQUIRE) == tid)
      return t;
  return NULL;
}

void perm__thread_forked(void) {
  if (perm__me != NULL)
    __atomic_store_n(&perm__me->tid, threads_gettid(), __ATOMIC_RELEASE);
}

#define THREADS_ITER_END ((void *)1)

perm_thread_t *perm__threads_each(perm_threads_iter_t *it) {
  if (it->chunk == THREADS_ITER_END)
    return NULL;
  threads_part_t *p = it->chunk != NULL ? it->chunk : &threads.first;
  for (; p != NULL; p = __atomic_load_n(&p->next, __ATOMIC_ACQUIRE), it->i = 0) {
    int used = __atomic_load_n(&p->used, __ATOMIC_ACQUIRE);
    while (it->i < used) {
      perm_thread_t *t = &p->slot[it->i++];
      if (__atomic_load_n(&t->tid, __ATOMIC_ACQUIRE) != 0) {
        it->chunk = p;
        return t;
      }
    }
  }
  it->chunk = THREADS_ITER_END;
  return NULL;
}
