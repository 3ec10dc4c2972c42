/*
** sys.c - the system-call seam, with test-only fault injection.
**
** PERM_TEST_FAULT="OP=FAULT[@N],..." makes the runtime's OP calls fail:
** FAULT is an errno name (ENOSPC, EIO, EDQUOT, EACCES, ENOMEM, EAGAIN,
** EROFS, EPERM, EEXIST, ENOENT, EINTR) or "short" (pwrite and pread move
** half the bytes asked); with @N only the Nth call of OP in this process
** fails, else every one (EINTR: every other one, so retries can succeed).
** OP: open, pwrite, pread, fsync (fsync and fdatasync), ftruncate, rename,
** link, unlink, flock, statfs, mmap, fork, uffd (userfaultfd and the
** write-tracking ioctls).
*/
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <sys/uio.h>
#include <unistd.h>

#include "sys.h"

#define SYS_FAULT_SHORT (-1) /* a short transfer, not an errno */

typedef enum sys_op_e {
  SYS_OPEN,
  SYS_PWRITE,
  SYS_PREAD,
  SYS_FSYNC,
  SYS_FTRUNCATE,
  SYS_RENAME,
  SYS_LINK,
  SYS_UNLINK,
  SYS_FLOCK,
  SYS_STATFS,
  SYS_MMAP,
  SYS_FORK,
  SYS_UFFD,
  SYS_NOPS
} sys_op_t;

static const char *const sys_op_names[SYS_NOPS] = {
    "open",  "pwrite", "pread",  "fsync",  "ftruncate", "rename",
    "link",  "unlink", "flock",  "statfs", "mmap",      "fork", "uffd"};

static const struct {
  const char *name;
  int err;
} sys_errnames[] = {{"ENOSPC", ENOSPC}, {"EIO", EIO},       {"EDQUOT", EDQUOT},
                    {"EACCES", EACCES}, {"ENOMEM", ENOMEM}, {"EAGAIN", EAGAIN},
                    {"EROFS", EROFS},   {"EPERM", EPERM},   {"EEXIST", EEXIST},
                    {"ENOENT", ENOENT}, {"EINTR", EINTR},
                    {"ENOSYS", ENOSYS}, {"EINVAL", EINVAL}};

/* Calls of each operation so far in this process, for OP=FAULT@N. */
typedef struct sys_counts_s {
  unsigned long calls[SYS_NOPS];
} sys_counts_t;

static sys_counts_t sys_counts;

static int sys_parse_fault(const char *v, size_t n) {
  if (n == 5 && strncmp(v, "short", 5) == 0)
    return SYS_FAULT_SHORT;
  for (size_t i = 0; i < sizeof sys_errnames / sizeof sys_errnames[0]; i++)
    if (strlen(sys_errnames[i].name) == n &&
        strncmp(v, sys_errnames[i].name, n) == 0)
      return sys_errnames[i].err;
  return EIO;
}

/*
** The fault to inject into this call of op, or 0.  The variable is read on
** every call, so a test can change it between checkpoints; the cost is one
** getenv.
*/
static int sys_fault(sys_op_t op) {
  unsigned long call = __atomic_add_fetch(&sys_counts.calls[op], 1,
                                          __ATOMIC_RELAXED);
  const char *spec = secure_getenv("PERM_TEST_FAULT");
  if (spec == NULL || spec[0] == '\0')
    return 0;
  const char *name = sys_op_names[op];
  size_t oplen = strlen(name);
  for (const char *p = spec; *p;) {
    const char *end = strchr(p, ',');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    if (n > oplen && strncmp(p, name, oplen) == 0 && p[oplen] == '=') {
      const char *v = p + oplen + 1;
      size_t vn = n - oplen - 1;
      const char *at = memchr(v, '@', vn);
      unsigned long nth = 0;
      if (at != NULL) {
        nth = strtoul(at + 1, NULL, 10);
        vn = (size_t)(at - v);
      }
      int fault = sys_parse_fault(v, vn);
      if (nth != 0)
        return call == nth ? fault : 0;
      if (fault == EINTR)
        return call % 2 ? EINTR : 0;
      return fault;
    }
    p += n + (end != NULL);
  }
  return 0;
}

/*
** One call of op through the seam: an injected fault, else the real call
** (expr); EINTR, injected or real, is retried, so callers never see it.
*/
#define SYS_CALL(op, type, fail, expr)                                         \
  do {                                                                         \
    for (;;) {                                                                 \
      int f_ = sys_fault(op);                                                  \
      if (f_ == EINTR)                                                         \
        continue;                                                              \
      if (f_ > 0) {                                                            \
        errno = f_;                                                            \
        return fail;                                                           \
      }                                                                        \
      type r_ = (expr);                                                        \
      if (r_ == (fail) && errno == EINTR)                                      \
        continue;                                                              \
      return r_;                                                               \
    }                                                                          \
  } while (0)

void *perm__sys_mmap(void *addr, size_t len, int prot, int flags, int fd,
                     off_t off) {
  SYS_CALL(SYS_MMAP, void *, MAP_FAILED, mmap(addr, len, prot, flags, fd, off));
}

int perm__sys_munmap(void *addr, size_t len) { return munmap(addr, len); }

int perm__sys_open(const char *path, int flags, int mode) {
  SYS_CALL(SYS_OPEN, int, -1, open(path, flags, mode));
}

int perm__sys_openat(int dirfd, const char *path, int flags, int mode) {
  SYS_CALL(SYS_OPEN, int, -1, openat(dirfd, path, flags, mode));
}

/* pread may move fewer bytes ("short"); the _all form goes on. */
ssize_t perm__sys_pread(int fd, void *buf, size_t n, off_t off) {
  int f = sys_fault(SYS_PREAD);
  if (f > 0) {
    errno = f;
    return -1;
  }
  if (f == SYS_FAULT_SHORT && n > 1)
    n /= 2;
  return pread(fd, buf, n, off);
}

int perm__sys_fsync(int fd) { SYS_CALL(SYS_FSYNC, int, -1, fsync(fd)); }

int perm__sys_fdatasync(int fd) {
  SYS_CALL(SYS_FSYNC, int, -1, fdatasync(fd));
}

int perm__sys_ftruncate(int fd, off_t len) {
  SYS_CALL(SYS_FTRUNCATE, int, -1, ftruncate(fd, len));
}

int perm__sys_rename(const char *from, const char *to) {
  SYS_CALL(SYS_RENAME, int, -1, rename(from, to));
}

int perm__sys_link(const char *from, const char *to) {
  SYS_CALL(SYS_LINK, int, -1, link(from, to));
}

int perm__sys_unlink(const char *path) {
  SYS_CALL(SYS_UNLINK, int, -1, unlink(path));
}

int perm__sys_flock(int fd, int op) {
  SYS_CALL(SYS_FLOCK, int, -1, flock(fd, op));
}

int perm__sys_fstatfs(int fd, struct statfs *st) {
  SYS_CALL(SYS_STATFS, int, -1, fstatfs(fd, st));
}

pid_t perm__sys_fork(void) { SYS_CALL(SYS_FORK, pid_t, -1, fork()); }

int perm__sys_userfaultfd(int flags) {
  SYS_CALL(SYS_UFFD, int, -1, (int)syscall(SYS_userfaultfd, flags));
}

int perm__sys_ioctl(int fd, unsigned long request, void *arg) {
  SYS_CALL(SYS_UFFD, int, -1, ioctl(fd, request, arg));
}

int perm__sys_pwrite_all(int fd, const void *buf, size_t n, off_t off) {
  struct iovec v = {.iov_base = (void *)buf, .iov_len = n};
  return perm__sys_pwritev_all(fd, &v, n > 0, off);
}

int perm__sys_pwritev_all(int fd, struct iovec *v, int n, off_t off) {
  while (n > 0) {
    int f = sys_fault(SYS_PWRITE); /* one op with pwrite: same faults */
    ssize_t w;
    if (f > 0) {
      errno = f;
      w = -1;
    } else if (f == SYS_FAULT_SHORT) {
      w = pwrite(fd, v[0].iov_base, v[0].iov_len > 1 ? v[0].iov_len / 2 : 1,
                 off);
    } else {
      w = pwritev(fd, v, n, off);
    }
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return -errno;
    }
    if (w == 0)
      return -EIO;
    off += w;
    /* Skip what was written: whole buffers, then part of the next. */
    while (n > 0 && (size_t)w >= v[0].iov_len) {
      w -= (ssize_t)v[0].iov_len;
      v++;
      n--;
    }
    if (n > 0) {
      v[0].iov_base = (char *)v[0].iov_base + w;
      v[0].iov_len -= (size_t)w;
    }
  }
  return 0;
}

int perm__sys_pread_all(int fd, void *buf, size_t n, off_t off) {
  char *p = buf;
  while (n > 0) {
    ssize_t r = perm__sys_pread(fd, p, n, off);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      return -errno;
    }
    if (r == 0)
      return -ENODATA; /* the file ends early: truncated */
    p += r;
    n -= (size_t)r;
    off += r;
  }
  return 0;
}
