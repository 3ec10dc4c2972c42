/*
** safepoint.c - is a thread inside the private allocator?
**
** A fork must not copy a thread half-way through changing its cache of
** free blocks (heap.h, "The gate").  Rather than have every malloc and
** free publish that it is inside, the forking thread asks, and only then:
**   - a thread that is blocked (in a system call, a page fault, waiting
**     for a lock) has its instruction pointer in /proc/self/task/T/syscall;
**   - a thread that is running is sent a signal, whose handler reads the
**     instruction pointer it interrupted and answers.
** The thread is inside when that pointer lies in jemalloc's code
** (permje_text, gathered by jemalloc/private.ld) or in the wrappers that
** call it (permrt_gated, interpose.c), or when it is in a call jemalloc
** makes out of itself, or the runtime makes into it (perm_thread_t.depth,
** heap.h).  The gate's pending bit is set before the first question, so a
** thread found outside cannot enter before the fork ends: its next call
** waits at the gate.  A blocked thread's depth is read from its slot; it
** does not change while the thread is blocked.
**
** The signal is SIGRTMAX - 1, kept from the program as glibc keeps its own
** two: masks that would block it are changed not to (pthread_sigmask and
** sigprocmask are wrapped), and a handler the program sets for it
** (sigaction is wrapped) is called for every such signal that is not our
** question; our questions carry a cookie in si_value (rt_tgsigqueueinfo).
** Where the signal cannot be installed, threads publish their depth on
** every call instead (PERM_GATE_TLS).
*/
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "heap.h"
#include "safepoint.h"

extern char __start_permje_text[] __attribute__((weak, visibility("hidden")));
extern char __stop_permje_text[] __attribute__((weak, visibility("hidden")));
extern char __start_permrt_gated[] __attribute__((weak, visibility("hidden")));
extern char __stop_permrt_gated[] __attribute__((weak, visibility("hidden")));

typedef int (*safepoint_mask_fn)(int, const sigset_t *, sigset_t *);
typedef int (*safepoint_action_fn)(int, const struct sigaction *,
                                   struct sigaction *);

typedef struct safepoint_s {
  int signo;    /* the signal, once installed; 0 before */
  int question; /* numbers the questions, so answers are matched */
  int cookie;   /* in our questions' si_value: others go to the program */
  pid_t pid;    /* this process, whose threads are asked */
  struct sigaction program; /* the program's own action for the signal */
  safepoint_mask_fn real_pthread_sigmask, real_sigprocmask;
  safepoint_action_fn real_sigaction;
} safepoint_t;

static safepoint_t sp;

/* Found before main: dlsym may allocate. */
__attribute__((constructor(101))) static void safepoint_find_real(void) {
  sp.real_pthread_sigmask =
      (safepoint_mask_fn)dlsym(RTLD_NEXT, "pthread_sigmask");
  sp.real_sigprocmask = (safepoint_mask_fn)dlsym(RTLD_NEXT, "sigprocmask");
  sp.real_sigaction = (safepoint_action_fn)dlsym(RTLD_NEXT, "sigaction");
}

int perm__safepoint_signal(void) { return SIGRTMAX - 1; }

static int safepoint_pc_inside(uintptr_t pc) {
  return (pc >= (uintptr_t)__start_permje_text &&
          pc < (uintptr_t)__stop_permje_text) ||
         (pc >= (uintptr_t)__start_permrt_gated &&
          pc < (uintptr_t)__stop_permrt_gated);
}

static int safepoint_inside(perm_thread_t *t, uintptr_t pc) {
  return __atomic_load_n(&t->depth, __ATOMIC_ACQUIRE) > 0 ||
         safepoint_pc_inside(pc);
}

static uintptr_t safepoint_context_pc(const ucontext_t *uc) {
#if defined(__x86_64__)
  return (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
  return (uintptr_t)uc->uc_mcontext.pc;
#else
#error "safepoint.c: the interrupted instruction pointer of this architecture"
#endif
}

/* A signal that was not our question: the program's handler has it. */
static void safepoint_pass_on(int signo, siginfo_t *si, void *uc) {
  struct sigaction *a = &sp.program;
  if (a->sa_flags & SA_SIGINFO) {
    if (a->sa_sigaction != NULL)
      a->sa_sigaction(signo, si, uc);
  } else if (a->sa_handler != SIG_DFL && a->sa_handler != SIG_IGN) {
    a->sa_handler(signo);
  }
}

static void safepoint_handler(int signo, siginfo_t *si, void *ucv) {
  if (si->si_code != SI_QUEUE || si->si_value.sival_int != sp.cookie) {
    safepoint_pass_on(signo, si, ucv);
    return;
  }
  int saved = errno;
  perm_thread_t *t = perm__me;
  if (t == NULL) /* between claiming its slot and noting it */
    t = perm__thread_find((int)syscall(SYS_gettid));
  if (t != NULL) {
    int q = __atomic_load_n(&sp.question, __ATOMIC_ACQUIRE);
    int inside = safepoint_inside(t, safepoint_context_pc(ucv));
    __atomic_store_n(&t->answer, (q << 1) | inside, __ATOMIC_RELEASE);
  }
  errno = saved;
}

int perm__safepoint_init(void) {
  if (__atomic_load_n(&sp.signo, __ATOMIC_ACQUIRE) != 0)
    return 0;
  if (sp.real_sigaction == NULL || sp.real_pthread_sigmask == NULL)
    safepoint_find_real();
  int signo = perm__safepoint_signal();
  if (sp.real_sigaction == NULL || sp.real_pthread_sigmask == NULL)
    return perm__errorf(ENOSYS, "safepoint: cannot find sigaction");
  /* A handler the program set already is kept, and called for its signals. */
  if (sp.real_sigaction(signo, NULL, &sp.program) != 0)
    return perm__errorf_errno(errno, "safepoint: signal %d", signo);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = safepoint_handler;
  sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  sp.pid = getpid();
  sp.cookie = (int)(perm__now_ns() ^ (uint64_t)sp.pid) | 1;
  if (sp.real_sigaction(signo, &sa, NULL) != 0)
    return perm__errorf_errno(errno, "safepoint: cannot handle signal %d",
                              signo);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, signo);
  sp.real_pthread_sigmask(SIG_UNBLOCK, &set, NULL);
  __atomic_store_n(&sp.signo, signo, __ATOMIC_RELEASE);
  return 0;
}

void perm__safepoint_round(void) {
  sp.pid = getpid(); /* a fork child asks its own threads */
}

/*
** A blocked thread's instruction pointer, from /proc: 0 when blocked,
** 1 when running (or runnable), -ESRCH when gone.
*/
static int safepoint_blocked_pc(int tid, uintptr_t *pc) {
  char path[64], buf[256];
  snprintf(path, sizeof path, "/proc/self/task/%d/syscall", tid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT || errno == ESRCH ? -ESRCH : 1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0)
    return n < 0 && errno == ESRCH ? -ESRCH : 1;
  buf[n] = '\0';
  if (strncmp(buf, "running", 7) == 0)
    return 1;
  /* "NR ARG1 ... ARG6 SP PC" or "-1 SP PC": the last field. */
  char *last = strrchr(buf, ' ');
  if (last == NULL)
    return 1;
  *pc = (uintptr_t)strtoull(last + 1, NULL, 0);
  return 0;
}

/* Passes without an answer before the question is sent again. */
#define SAFEPOINT_RESEND 64

int perm__safepoint_ask(perm_thread_t *t) {
  int tid = __atomic_load_n(&t->tid, __ATOMIC_ACQUIRE);
  if (tid == 0)
    return PERM_SAFEPOINT_OUTSIDE; /* left */
  uintptr_t pc = 0;
  int rc = safepoint_blocked_pc(tid, &pc);
  if (rc == -ESRCH) {
    perm__thread_free(t); /* gone without a word (it never had a tsd) */
    return PERM_SAFEPOINT_OUTSIDE;
  }
  if (rc == 0) {
    /* Blocked: it stays so, or wakes to find the gate closed. */
    t->asked = 0;
    return safepoint_inside(t, pc) ? PERM_SAFEPOINT_INSIDE
                                   : PERM_SAFEPOINT_OUTSIDE;
  }
  if (t->asked > 0) {
    int a = __atomic_load_n(&t->answer, __ATOMIC_ACQUIRE);
    if ((a >> 1) >= t->asked) {
      t->asked = 0; /* answered; inside means ask again */
      return (a & 1) ? PERM_SAFEPOINT_INSIDE : PERM_SAFEPOINT_OUTSIDE;
    }
    if (++t->waits < SAFEPOINT_RESEND)
      return PERM_SAFEPOINT_ASKED;
  }
  t->asked = __atomic_add_fetch(&sp.question, 1, __ATOMIC_ACQ_REL);
  t->waits = 0;
  siginfo_t si;
  memset(&si, 0, sizeof si);
  si.si_signo = sp.signo;
  si.si_code = SI_QUEUE;
  si.si_pid = sp.pid;
  si.si_uid = getuid();
  si.si_value.sival_int = sp.cookie;
  if (syscall(SYS_rt_tgsigqueueinfo, sp.pid, tid, sp.signo, &si) != 0) {
    t->asked = 0;
    if (errno == ESRCH) {
      perm__thread_free(t);
      return PERM_SAFEPOINT_OUTSIDE;
    }
    return PERM_SAFEPOINT_INSIDE; /* EAGAIN: the queue is full; again */
  }
  return PERM_SAFEPOINT_ASKED;
}

/*--------------------------------------- the signal, kept from the program ---*/

static const sigset_t *safepoint_unblocked(int how, const sigset_t *set,
                                           sigset_t *copy) {
  int signo = __atomic_load_n(&sp.signo, __ATOMIC_ACQUIRE);
  if (set == NULL || signo == 0 || how == SIG_UNBLOCK ||
      !sigismember(set, signo))
    return set;
  *copy = *set;
  sigdelset(copy, signo);
  return copy;
}

__attribute__((visibility("default"))) int
pthread_sigmask(int how, const sigset_t *set, sigset_t *old) {
  if (sp.real_pthread_sigmask == NULL)
    safepoint_find_real();
  sigset_t copy;
  return sp.real_pthread_sigmask(how, safepoint_unblocked(how, set, &copy),
                                 old);
}

__attribute__((visibility("default"))) int
sigprocmask(int how, const sigset_t *set, sigset_t *old) {
  if (sp.real_sigprocmask == NULL)
    safepoint_find_real();
  sigset_t copy;
  return sp.real_sigprocmask(how, safepoint_unblocked(how, set, &copy), old);
}

__attribute__((visibility("default"))) int
sigaction(int signo, const struct sigaction *act, struct sigaction *old) {
  if (sp.real_sigaction == NULL)
    safepoint_find_real();
  if (signo == 0 || signo != __atomic_load_n(&sp.signo, __ATOMIC_ACQUIRE))
    return sp.real_sigaction(signo, act, old);
  /* PERM's: the program's action is kept, and called for its signals. */
  if (old != NULL)
    *old = sp.program;
  if (act != NULL)
    sp.program = *act;
  return 0;
}
