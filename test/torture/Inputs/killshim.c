/*
** killshim.c - an LD_PRELOAD library that kills the process group with
** SIGKILL at one chosen system call, so a test can crash a checkpoint (or a
** compaction) at every step of the commit protocol in turn, instead of at
** random instants.
**
**   KILL_AT=OP@N[:after]   OP one of link, rename, fsync (fsync and
**                          fdatasync), unlink, ftruncate, pwrite
**
** The Nth call of OP in the process (a forked child inherits the count of
** its parent at the fork) kills the whole process group: before the call
** is made, or with ":after" once it returned.  KILL_AT_LOG=FILE appends
** "OP N" for every call made, so a driver can list the steps there are.
** Built with -shared -fPIC -ldl.
*/
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

enum { K_LINK, K_RENAME, K_FSYNC, K_UNLINK, K_FTRUNCATE, K_PWRITE, K_N };
static const char *const names[K_N] = {"link",   "rename",    "fsync",
                                       "unlink", "ftruncate", "pwrite"};
static unsigned long calls[K_N];

static void shim_log(int op, unsigned long n) {
  const char *log = getenv("KILL_AT_LOG");
  if (log == NULL || *log == '\0')
    return;
  int fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    return;
  char line[64];
  int len = snprintf(line, sizeof line, "%s %lu\n", names[op], n);
  if (len > 0)
    (void)!write(fd, line, (size_t)len);
  close(fd);
}

/* Is this call the one to die at, and before (0) or after (1) it? */
static int shim_target(int op, unsigned long n) {
  const char *spec = getenv("KILL_AT");
  if (spec == NULL)
    return -1;
  size_t l = strlen(names[op]);
  if (strncmp(spec, names[op], l) != 0 || spec[l] != '@')
    return -1;
  char *end;
  unsigned long want = strtoul(spec + l + 1, &end, 10);
  if (want != n)
    return -1;
  return strcmp(end, ":after") == 0;
}

static void shim_kill(void) {
  kill(0, SIGKILL);
  for (;;)
    pause();
}

#define SHIM(op, ret, name, params, args)                                      \
  ret name params {                                                            \
    static ret(*real) params;                                                  \
    if (real == NULL)                                                          \
      real = (ret(*) params)dlsym(RTLD_NEXT, #name);                           \
    unsigned long nth_ = __atomic_add_fetch(&calls[op], 1, __ATOMIC_RELAXED);  \
    shim_log(op, nth_);                                                        \
    int when = shim_target(op, nth_);                                          \
    if (when == 0)                                                             \
      shim_kill();                                                             \
    ret r = real args;                                                         \
    if (when == 1)                                                             \
      shim_kill();                                                             \
    return r;                                                                  \
  }

SHIM(K_LINK, int, link, (const char *a, const char *b), (a, b))
SHIM(K_RENAME, int, rename, (const char *a, const char *b), (a, b))
SHIM(K_FSYNC, int, fsync, (int fd), (fd))
SHIM(K_FSYNC, int, fdatasync, (int fd), (fd))
SHIM(K_UNLINK, int, unlink, (const char *p), (p))
SHIM(K_FTRUNCATE, int, ftruncate, (int fd, off_t len), (fd, len))
SHIM(K_PWRITE, ssize_t, pwrite, (int fd, const void *b, size_t n, off_t o),
     (fd, b, n, o))
