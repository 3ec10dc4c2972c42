/*
** sys.c - the system-call seam, with test-only fault injection.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sys.h"

static const struct {
  const char *name;
  int err;
} sys_errnames[] = {{"ENOSPC", ENOSPC}, {"EIO", EIO},       {"EDQUOT", EDQUOT},
                    {"EACCES", EACCES}, {"ENOMEM", ENOMEM}, {"EAGAIN", EAGAIN},
                    {"EROFS", EROFS}};

/* The errno to inject for operation op, or 0.  Read on every call: a test
** can set the variable between checkpoints, and the cost is an getenv. */
static int sys_fault(const char *op) {
  const char *spec = getenv("PERM_TEST_FAULT");
  if (spec == NULL || spec[0] == '\0')
    return 0;
  size_t oplen = strlen(op);
  for (const char *p = spec; *p;) {
    const char *end = strchr(p, ',');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    if (n > oplen && strncmp(p, op, oplen) == 0 && p[oplen] == '=') {
      for (size_t i = 0; i < sizeof sys_errnames / sizeof sys_errnames[0]; i++)
        if (strlen(sys_errnames[i].name) == n - oplen - 1 &&
            strncmp(p + oplen + 1, sys_errnames[i].name, n - oplen - 1) == 0)
          return sys_errnames[i].err;
      return EIO;
    }
    p += n + (end != NULL);
  }
  return 0;
}

#define SYS_FAULT(op, ret)                                                     \
  do {                                                                         \
    int e_ = sys_fault(op);                                                    \
    if (e_ != 0) {                                                             \
      errno = e_;                                                              \
      return ret;                                                              \
    }                                                                          \
  } while (0)

void *perm__sys_mmap(void *addr, size_t len, int prot, int flags, int fd,
                     off_t off) {
  return mmap(addr, len, prot, flags, fd, off);
}

int perm__sys_munmap(void *addr, size_t len) { return munmap(addr, len); }

int perm__sys_open(const char *path, int flags, int mode) {
  SYS_FAULT("open", -1);
  int fd;
  do
    fd = open(path, flags, mode);
  while (fd < 0 && errno == EINTR);
  return fd;
}

int perm__sys_openat(int dirfd, const char *path, int flags, int mode) {
  SYS_FAULT("open", -1);
  return openat(dirfd, path, flags, mode);
}

ssize_t perm__sys_pwrite(int fd, const void *buf, size_t n, off_t off) {
  SYS_FAULT("pwrite", -1);
  return pwrite(fd, buf, n, off);
}

ssize_t perm__sys_pread(int fd, void *buf, size_t n, off_t off) {
  SYS_FAULT("pread", -1);
  return pread(fd, buf, n, off);
}

int perm__sys_fsync(int fd) {
  SYS_FAULT("fsync", -1);
  return fsync(fd);
}

int perm__sys_ftruncate(int fd, off_t len) {
  SYS_FAULT("ftruncate", -1);
  return ftruncate(fd, len);
}

int perm__sys_rename(const char *from, const char *to) {
  SYS_FAULT("rename", -1);
  return rename(from, to);
}

int perm__sys_link(const char *from, const char *to) {
  SYS_FAULT("link", -1);
  return link(from, to);
}

int perm__sys_unlink(const char *path) { return unlink(path); }

pid_t perm__sys_fork(void) {
  SYS_FAULT("fork", -1);
  return fork();
}

int perm__sys_pwrite_all(int fd, const void *buf, size_t n, off_t off) {
  const char *p = buf;
  while (n > 0) {
    ssize_t w = perm__sys_pwrite(fd, p, n, off);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return -errno;
    }
    if (w == 0)
      return -EIO;
    p += w;
    n -= (size_t)w;
    off += w;
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
