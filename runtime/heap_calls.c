/*
** heap_calls.c - every call the private jemalloc makes out of itself.
**
** mkprivate.sh renames jemalloc's calls into libc (jemalloc/calls.syms) to
** permje_call_*.  Each shim here counts the calling thread as inside the
** allocator while it runs (perm_thread_t.depth), then calls the real
** function: a thread interrupted in memcpy or pthread_mutex_lock on
** jemalloc's behalf is inside it although its instruction pointer is in
** libc, and the safepoint (safepoint.c) must know.  Calls to profiling's
** unwinder (_Unwind_*) are left alone: profiling is never enabled.
*/
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "heap.h"

#define CALL_ENTER() perm__heap_call_enter()

/* A call with a result: the shim's whole body. */
#define CALL(type, expr)                                                       \
  do {                                                                         \
    perm_thread_t *t_ = perm__heap_call_enter();                               \
    type r_ = (expr);                                                          \
    perm__heap_call_leave(t_);                                                 \
    return r_;                                                                 \
  } while (0)

/*
** The shims are declared here only: nothing but permje.o calls them.  They
** are gated code (heap.h): a thread in one is inside the allocator.
*/
#define SHIM(type, name, params)                                               \
  PERM_HIDDEN PERM_GATED type permje_call_##name params

SHIM(const unsigned short **, __ctype_b_loc, (void));
SHIM(int *, __errno_location, (void));
SHIM(int, __popcountdi2, (long x));
SHIM(int, __sched_cpucount, (size_t size, const cpu_set_t *set));
SHIM(void, __stack_chk_fail, (void)) __attribute__((noreturn));
SHIM(void, _exit, (int status)) __attribute__((noreturn));
SHIM(void, abort, (void)) __attribute__((noreturn));
SHIM(int, clock_gettime, (clockid_t id, struct timespec *ts));
SHIM(int, close, (int fd));
SHIM(int, creat, (const char *path, mode_t mode));
SHIM(double, exp, (double x));
SHIM(pid_t, getpid, (void));
SHIM(int, gettimeofday, (struct timeval *tv, void *tz));
SHIM(double, log, (double x));
SHIM(void *, memchr, (const void *s, int c, size_t n));
SHIM(int, memcmp, (const void *a, const void *b, size_t n));
SHIM(void *, memcpy, (void *d, const void *s, size_t n));
SHIM(void *, memmove, (void *d, const void *s, size_t n));
SHIM(void *, memset, (void *d, int c, size_t n));
SHIM(int, open, (const char *path, int flags, ...));
SHIM(int, pthread_cond_init, (pthread_cond_t *c, const pthread_condattr_t *a));
SHIM(int, pthread_cond_signal, (pthread_cond_t *c));
SHIM(int, pthread_cond_timedwait,
     (pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *t));
SHIM(int, pthread_cond_wait, (pthread_cond_t *c, pthread_mutex_t *m));
SHIM(int, pthread_create, (pthread_t *t, const pthread_attr_t *a,
                           void *(*f)(void *), void *arg));
SHIM(int, pthread_getname_np, (pthread_t t, char *name, size_t len));
SHIM(int, pthread_join, (pthread_t t, void **ret));
SHIM(int, pthread_mutex_lock, (pthread_mutex_t *m));
SHIM(int, pthread_mutex_trylock, (pthread_mutex_t *m));
SHIM(int, pthread_mutex_unlock, (pthread_mutex_t *m));
SHIM(int, pthread_mutexattr_destroy, (pthread_mutexattr_t *a));
SHIM(int, pthread_mutexattr_init, (pthread_mutexattr_t *a));
SHIM(int, pthread_mutexattr_settype, (pthread_mutexattr_t *a, int type));
SHIM(pthread_t, pthread_self, (void));
SHIM(int, pthread_setname_np, (pthread_t t, const char *name));
SHIM(int, pthread_sigmask, (int how, const sigset_t *set, sigset_t *old));
SHIM(double, round, (double x));
SHIM(int, sched_getaffinity, (pid_t pid, size_t size, cpu_set_t *set));
SHIM(int, sched_getcpu, (void));
SHIM(int, sched_setaffinity, (pid_t pid, size_t size, const cpu_set_t *set));
SHIM(int, sched_yield, (void));
SHIM(int, sigfillset, (sigset_t *set));
SHIM(char *, strchr, (const char *s, int c));
SHIM(int, strcmp, (const char *a, const char *b));
SHIM(char *, strcpy, (char *d, const char *s));
SHIM(char *, strerror_r, (int err, char *buf, size_t len));
SHIM(size_t, strlen, (const char *s));
SHIM(int, strncmp, (const char *a, const char *b, size_t n));
SHIM(char *, strncpy, (char *d, const char *s, size_t n));
SHIM(long, syscall, (long nr, ...));
SHIM(long, sysconf, (int name));

const unsigned short **permje_call___ctype_b_loc(void) {
  CALL(const unsigned short **, __ctype_b_loc());
}
int *permje_call___errno_location(void) { CALL(int *, __errno_location()); }
int permje_call___popcountdi2(long x) {
  CALL(int, __builtin_popcountl((unsigned long)x));
}
int permje_call___sched_cpucount(size_t size, const cpu_set_t *set) {
  CALL(int, __sched_cpucount(size, set));
}
void permje_call___stack_chk_fail(void) {
  CALL_ENTER(); /* never left: the process ends */
  abort();
}
void permje_call__exit(int status) {
  CALL_ENTER();
  _exit(status);
}
void permje_call_abort(void) {
  CALL_ENTER();
  abort();
}
int permje_call_clock_gettime(clockid_t id, struct timespec *ts) {
  CALL(int, clock_gettime(id, ts));
}
int permje_call_close(int fd) { CALL(int, close(fd)); }
int permje_call_creat(const char *path, mode_t mode) {
  CALL(int, creat(path, mode));
}
double permje_call_exp(double x) { CALL(double, exp(x)); }
pid_t permje_call_getpid(void) { CALL(pid_t, getpid()); }
int permje_call_gettimeofday(struct timeval *tv, void *tz) {
  CALL(int, gettimeofday(tv, tz));
}
double permje_call_log(double x) { CALL(double, log(x)); }
void *permje_call_memchr(const void *s, int c, size_t n) {
  CALL(void *, memchr(s, c, n));
}
int permje_call_memcmp(const void *a, const void *b, size_t n) {
  CALL(int, memcmp(a, b, n));
}
void *permje_call_memcpy(void *d, const void *s, size_t n) {
  CALL(void *, memcpy(d, s, n));
}
void *permje_call_memmove(void *d, const void *s, size_t n) {
  CALL(void *, memmove(d, s, n));
}
void *permje_call_memset(void *d, int c, size_t n) {
  CALL(void *, memset(d, c, n));
}
int permje_call_open(const char *path, int flags, ...) {
  mode_t mode = 0;
  if (flags & (O_CREAT | O_TMPFILE)) {
    va_list ap;
    va_start(ap, flags);
    mode = (mode_t)va_arg(ap, int);
    va_end(ap);
  }
  CALL(int, open(path, flags, mode));
}
int permje_call_pthread_cond_init(pthread_cond_t *c,
                                  const pthread_condattr_t *a) {
  CALL(int, pthread_cond_init(c, a));
}
int permje_call_pthread_cond_signal(pthread_cond_t *c) {
  CALL(int, pthread_cond_signal(c));
}
int permje_call_pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m,
                                       const struct timespec *t) {
  CALL(int, pthread_cond_timedwait(c, m, t));
}
int permje_call_pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m) {
  CALL(int, pthread_cond_wait(c, m));
}
int permje_call_pthread_create(pthread_t *t, const pthread_attr_t *a,
                               void *(*f)(void *), void *arg) {
  CALL(int, pthread_create(t, a, f, arg));
}
int permje_call_pthread_getname_np(pthread_t t, char *name, size_t len) {
  CALL(int, pthread_getname_np(t, name, len));
}
int permje_call_pthread_join(pthread_t t, void **ret) {
  CALL(int, pthread_join(t, ret));
}
int permje_call_pthread_mutex_lock(pthread_mutex_t *m) {
  CALL(int, pthread_mutex_lock(m));
}
int permje_call_pthread_mutex_trylock(pthread_mutex_t *m) {
  CALL(int, pthread_mutex_trylock(m));
}
int permje_call_pthread_mutex_unlock(pthread_mutex_t *m) {
  CALL(int, pthread_mutex_unlock(m));
}
int permje_call_pthread_mutexattr_destroy(pthread_mutexattr_t *a) {
  CALL(int, pthread_mutexattr_destroy(a));
}
int permje_call_pthread_mutexattr_init(pthread_mutexattr_t *a) {
  CALL(int, pthread_mutexattr_init(a));
}
int permje_call_pthread_mutexattr_settype(pthread_mutexattr_t *a, int type) {
  CALL(int, pthread_mutexattr_settype(a, type));
}
pthread_t permje_call_pthread_self(void) { CALL(pthread_t, pthread_self()); }
int permje_call_pthread_setname_np(pthread_t t, const char *name) {
  CALL(int, pthread_setname_np(t, name));
}
int permje_call_pthread_sigmask(int how, const sigset_t *set, sigset_t *old) {
  CALL(int, pthread_sigmask(how, set, old));
}
double permje_call_round(double x) { CALL(double, round(x)); }
int permje_call_sched_getaffinity(pid_t pid, size_t size, cpu_set_t *set) {
  CALL(int, sched_getaffinity(pid, size, set));
}
int permje_call_sched_getcpu(void) { CALL(int, sched_getcpu()); }
int permje_call_sched_setaffinity(pid_t pid, size_t size,
                                  const cpu_set_t *set) {
  CALL(int, sched_setaffinity(pid, size, set));
}
int permje_call_sched_yield(void) { CALL(int, sched_yield()); }
int permje_call_sigfillset(sigset_t *set) { CALL(int, sigfillset(set)); }
char *permje_call_strchr(const char *s, int c) { CALL(char *, strchr(s, c)); }
int permje_call_strcmp(const char *a, const char *b) { CALL(int, strcmp(a, b)); }
char *permje_call_strcpy(char *d, const char *s) { CALL(char *, strcpy(d, s)); }
char *permje_call_strerror_r(int err, char *buf, size_t len) {
  CALL(char *, strerror_r(err, buf, len));
}
size_t permje_call_strlen(const char *s) { CALL(size_t, strlen(s)); }
int permje_call_strncmp(const char *a, const char *b, size_t n) {
  CALL(int, strncmp(a, b, n));
}
char *permje_call_strncpy(char *d, const char *s, size_t n) {
  CALL(char *, strncpy(d, s, n));
}
/* jemalloc passes at most six arguments (futex, getcpu, madvise...). */
long permje_call_syscall(long nr, ...) {
  va_list ap;
  va_start(ap, nr);
  long a[6];
  for (int i = 0; i < 6; i++)
    a[i] = va_arg(ap, long);
  va_end(ap);
  CALL(long, syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]));
}
long permje_call_sysconf(int name) { CALL(long, sysconf(name)); }
