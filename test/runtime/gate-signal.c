// SIGRTMAX-1 is how a checkpoint asks threads whether they are inside the
// allocator (README.PERM, section 6).  The program keeps what it had:
//   - a handler it installs for that signal (before or after its first
//     thread) is called for the signals it sends itself, and sigaction
//     gives it back;
//   - a thread that blocks every signal still answers: checkpoints taken
//     while it allocates complete, and so do checkpoints taken while it
//     computes for 3 s without calling the allocator (were the signal
//     blocked, each would wait 2 s for an answer and fail with EBUSY); its
//     objects restore intact;
//   - the masks it reads back say what it asked for, except that signal.
//
// RUN: %clang %cflags -pthread %s %ldflags -o %t.exe
// RUN: rm -rf %t.d && mkdir -p %t.d
// RUN: %t.exe %t.d/img | FileCheck %s
// RUN: %t.exe %t.d/img | FileCheck --check-prefix=AGAIN %s
// CHECK: handler kept: 3 calls, sigaction gives it back
// CHECK-NEXT: mask: every signal blocked but SIGRTMAX-1
// CHECK-NEXT: 20 checkpoints while a thread that blocks all signals allocated
// CHECK-NEXT: 3 checkpoints while it computed
// AGAIN: restored: 5000 objects intact
#include "../Inputs/zdtm.h"
#include <perm.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#define NOBJ 5000

static void **objs;
static volatile sig_atomic_t calls;
static int stop, computing;
static volatile uint64_t sink;

static void on_signal(int signo, siginfo_t *si, void *uc) {
  (void)signo, (void)si, (void)uc;
  calls++;
}

static size_t obj_size(int i) { return 8 + (size_t)(i * 13) % 500; }

static void *worker(void *arg) {
  (void)arg;
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  uint64_t r = 1;
  while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
    r = zdtm_mix(r);
    int i = (int)(r % NOBJ);
    void *p = malloc(obj_size(i));
    zdtm_fill(p, obj_size(i), (uint64_t)i);
    void *old = __atomic_exchange_n(&objs[i], p, __ATOMIC_ACQ_REL);
    free(old);
  }
  /* No allocator call for 3 s: only the signal can get an answer. */
  __atomic_store_n(&computing, 1, __ATOMIC_RELEASE);
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  do {
    for (int k = 0; k < 100000; k++)
      r = zdtm_mix(r);
    sink = r;
    clock_gettime(CLOCK_MONOTONIC, &t);
  } while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) <
           3000000000L);
  return NULL;
}

int main(int argc, char **argv) {
  check(argc == 2, "usage: gate-signal IMAGE");
  perm_register(&objs, sizeof objs, "objs");
  if (perm_open(argv[1], "a+") != 0)
    fail("perm_open: %s", perm_error());
  if (perm_restored()) {
    for (int i = 0; i < NOBJ; i++)
      check(zdtm_verify(objs[i], obj_size(i), (uint64_t)i) == (size_t)-1,
            "object %d differs", i);
    printf("restored: %d objects intact\n", NOBJ);
    return 0;
  }
  objs = calloc(NOBJ, sizeof *objs);
  for (int i = 0; i < NOBJ; i++) {
    objs[i] = malloc(obj_size(i));
    zdtm_fill(objs[i], obj_size(i), (uint64_t)i);
  }
  int sig = SIGRTMAX - 1;
  struct sigaction sa, back;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_signal;
  sa.sa_flags = SA_SIGINFO;
  check(sigaction(sig, &sa, NULL) == 0, "sigaction: %m");
  raise(sig); /* before any thread */

  pthread_t th;
  pthread_create(&th, NULL, worker, NULL);
  raise(sig);
  pthread_kill(pthread_self(), sig);
  check(sigaction(sig, NULL, &back) == 0, "sigaction: %m");
  check(back.sa_sigaction == on_signal, "sigaction did not give the handler back");
  printf("handler kept: %d calls, sigaction gives it back\n", (int)calls);

  sigset_t all, now;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  pthread_sigmask(SIG_BLOCK, NULL, &now);
  int others = 1;
  for (int s = 1; s < SIGRTMAX; s++)
    if (s != sig && s != SIGKILL && s != SIGSTOP && s != 32 && s != 33 &&
        !sigismember(&now, s))
      others = 0;
  printf("mask: %s\n", others && !sigismember(&now, sig)
                           ? "every signal blocked but SIGRTMAX-1"
                           : "WRONG");
  sigset_t none;
  sigemptyset(&none);
  pthread_sigmask(SIG_SETMASK, &none, NULL);

  for (int k = 0; k < 20; k++) {
    usleep(2000);
    if (perm_checkpoint() != 0)
      fail("checkpoint %d: %s", k, perm_error());
  }
  __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
  printf("20 checkpoints while a thread that blocks all signals allocated\n");
  while (!__atomic_load_n(&computing, __ATOMIC_ACQUIRE))
    usleep(1000);
  for (int k = 0; k < 3; k++) {
    usleep(100000);
    if (perm_checkpoint() != 0)
      fail("checkpoint %d while it computed: %s", k, perm_error());
  }
  printf("3 checkpoints while it computed\n");
  pthread_join(th, NULL);
  if (perm_checkpoint() != 0)
    fail("last checkpoint: %s", perm_error());
  return 0;
}
