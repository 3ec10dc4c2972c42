/*
** sys.h - the system-call seam (SQLite's os_unix idea).  Every call the
** runtime makes to get memory or to write, read, lock or commit an image
** goes through here, so a test can inject a failure: PERM_TEST_FAULT lists
** OP=FAULT[@N] items (README.PERM, section 9), e.g. "pwrite=ENOSPC",
** "fsync=EIO@2" (only the second fsync), "pwrite=short", "rename=EINTR",
** "uffd=ENOSYS" (a kernel without write tracking).
*/
#ifndef PERM_SYS_H
#define PERM_SYS_H

#include <sys/types.h>
#include <sys/uio.h>

#include "perm_internal.h"

struct statfs;

PERM_HIDDEN void *perm__sys_mmap(void *addr, size_t len, int prot, int flags,
                                 int fd, off_t off);
PERM_HIDDEN int perm__sys_munmap(void *addr, size_t len);
PERM_HIDDEN int perm__sys_open(const char *path, int flags, int mode);
PERM_HIDDEN int perm__sys_openat(int dirfd, const char *path, int flags,
                                 int mode);
PERM_HIDDEN ssize_t perm__sys_pread(int fd, void *buf, size_t n, off_t off);
PERM_HIDDEN int perm__sys_fsync(int fd);
PERM_HIDDEN int perm__sys_fdatasync(int fd);
PERM_HIDDEN int perm__sys_ftruncate(int fd, off_t len);
PERM_HIDDEN int perm__sys_rename(const char *from, const char *to);
PERM_HIDDEN int perm__sys_link(const char *from, const char *to);
PERM_HIDDEN int perm__sys_unlink(const char *path);
PERM_HIDDEN int perm__sys_flock(int fd, int op);
PERM_HIDDEN int perm__sys_fstatfs(int fd, struct statfs *st);
PERM_HIDDEN pid_t perm__sys_fork(void);
/* userfaultfd(2) and the ioctls of write tracking (op "uffd"). */
PERM_HIDDEN int perm__sys_userfaultfd(int flags);
PERM_HIDDEN int perm__sys_ioctl(int fd, unsigned long request, void *arg);
/* Full-length pwrite/pread: retries short transfers and EINTR. */
PERM_HIDDEN int perm__sys_pwrite_all(int fd, const void *buf, size_t n,
                                     off_t off);
/* Every byte of the N buffers at OFF (pwritev; the faults of "pwrite"). */
PERM_HIDDEN int perm__sys_pwritev_all(int fd, struct iovec *v, int n,
                                      off_t off);
PERM_HIDDEN int perm__sys_pread_all(int fd, void *buf, size_t n, off_t off);

#endif /* PERM_SYS_H */
