/*
** lock.c - one writer per image.
**
** A writable open takes flock(LOCK_EX) on NAME.lock and writes its pid and
** executable there; the lock lives as long as a descriptor of that open
** file does, so a checkpoint child that outlives its parent still holds it
** and nobody else commits over the image it is writing.  A second writer
** fails at once with EBUSY and the holder's name.  Readers (mode "r") take
** no lock: images are replaced by rename, so a reader sees the old or the
** new one, whole.  The lock file is never removed (removing it would let
** two processes lock two different files of that name).
*/
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lock.h"
#include "sys.h"

/* What the holder wrote, trimmed to one line. */
static void lock_holder(int fd, char *buf, size_t size) {
  ssize_t n = perm__sys_pread(fd, buf, size - 1, 0);
  buf[n > 0 ? n : 0] = '\0';
  buf[strcspn(buf, "\n")] = '\0';
  if (buf[0] == '\0')
    snprintf(buf, size, "an unknown process");
}

int perm__lock_image(const char *path) {
  char lock[4200];
  if (snprintf(lock, sizeof lock, "%s.lock", path) >= (int)sizeof lock)
    return perm__errorf(ENAMETOOLONG, "the image path '%s' is too long", path);
  int fd = perm__sys_open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
                          0600);
  int err = errno;
  if (fd < 0 && err == EACCES && access(lock, F_OK) == 0) {
    fd = perm__sys_open(lock, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
    err = errno;
  }
  if (fd < 0)
    return perm__errorf_errno(err,
                              "cannot create the lock file '%s' that a "
                              "writable open of the image takes (is the "
                              "directory writable? to read the image only, "
                              "open it with mode r)",
                              lock);
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
    char owner[300] = "an unknown user";
    char pw_buf[1024];
    struct passwd pw, *res = NULL;
    if (getpwuid_r(st.st_uid, &pw, pw_buf, sizeof pw_buf, &res) == 0 &&
        res != NULL)
      snprintf(owner, sizeof owner, "uid %u (%s)", (unsigned)st.st_uid,
               res->pw_name);
    close(fd);
    return perm__errorf(EACCES,
                        "the lock file '%s' of the image belongs to %s, not "
                        "to you; another user may be using this image, or "
                        "planted the file: keep images in a directory of your "
                        "own",
                        lock, owner);
  }
  if (perm__sys_flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    char who[512];
    lock_holder(fd, who, sizeof who);
    close(fd);
    if (err == EWOULDBLOCK)
      return perm__errorf(EBUSY,
                          "the image '%s' is open for writing by %s, which "
                          "holds '%s'; one process writes an image at a time: "
                          "wait for it, or open the image read-only (mode r)",
                          path, who, lock);
    return perm__errorf_errno(err, "cannot lock '%s'", lock);
  }
  char exe[4096], line[4300];
  ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
  exe[k > 0 ? k : 0] = '\0';
  int n = snprintf(line, sizeof line, "process %d (%s)\n", (int)getpid(), exe);
  /*
  ** Written over the last holder's line, and cut only when the length
  ** differs: truncating a file to 0 frees its block, which on ext4 took
  ** milliseconds of every open.
  */
  struct stat now;
  if (n > 0 && pwrite(fd, line, (size_t)n, 0) == n &&
      (fstat(fd, &now) != 0 || now.st_size != n))
    (void)!ftruncate(fd, n);
  return fd;
}

void perm__unlock_image(int fd) {
  if (fd >= 0)
    close(fd); /* the lock goes with the last descriptor of the open file */
}
