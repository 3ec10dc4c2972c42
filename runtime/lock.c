/*
** lock.c - one writer per image.
**
** A writable open takes flock(LOCK_EX) on NAME.lock and writes its pid and
** executable there; the lock lives as long as a descriptor of that open
** file does, so a checkpoint child that outlives its parent still holds it
** and nobody else commits over the image it is writing.  A second writer
** fails at once with EBUSY and the holder's name.  Readers (mode "r") take
** no lock: images are replaced by rename, so a reader sees the old or the
** new one, whole.
**
** The lock file is never removed (that would let two processes lock two
** different files of that name), but another user's may be replaced, when
** trusted (PERM_TRUST_IMAGE=1) and nobody holds it: so every taker checks,
** once it holds the lock, that the name still leads to the file it locked,
** and starts again if not.  A symbolic link in its place is never
** followed: the holder's line would be written wherever it points.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lock.h"
#include "sys.h"

/* Takers that find the name replaced under them try again this often. */
#define LOCK_TRIES 8

/* What the holder wrote, trimmed to one line. */
static void lock_holder(int fd, char *buf, size_t size) {
  ssize_t n = perm__sys_pread(fd, buf, size - 1, 0);
  buf[n > 0 ? n : 0] = '\0';
  buf[strcspn(buf, "\n")] = '\0';
  if (buf[0] == '\0')
    snprintf(buf, size, "an unknown process");
}

/* "uid 1000 (alice)", or "you (uid 1000, alice)", for messages. */
static void lock_owner(uid_t uid, char *buf, size_t size) {
  char pw_buf[1024];
  struct passwd pw, *res = NULL;
  const char *name = NULL;
  if (getpwuid_r(uid, &pw, pw_buf, sizeof pw_buf, &res) == 0 && res != NULL)
    name = res->pw_name;
  if (uid == geteuid())
    snprintf(buf, size, "you (uid %u%s%s)", (unsigned)uid, name ? ", " : "",
             name ? name : "");
  else if (name != NULL)
    snprintf(buf, size, "uid %u (%s)", (unsigned)uid, name);
  else
    snprintf(buf, size, "uid %u", (unsigned)uid);
}

static int lock_not_file(const char *lock) {
  return perm__errorf(EINVAL,
                      "the lock file '%s' of the image is not a regular file "
                      "(a directory, a device or a FIFO); move it away or "
                      "remove it",
                      lock);
}

/* Why the lock file could not be opened, said so a user can act on it. */
static int lock_open_error(const char *lock, int err) {
  struct stat st;
  char owner[300];
  if (err == ELOOP && lstat(lock, &st) == 0 && S_ISLNK(st.st_mode)) {
    char target[4096];
    ssize_t n = readlink(lock, target, sizeof target - 1);
    target[n > 0 ? n : 0] = '\0';
    lock_owner(st.st_uid, owner, sizeof owner);
    return perm__errorf(ELOOP,
                        "the lock file '%s' of the image is a symbolic link "
                        "(to '%s'), which belongs to %s; PERM does not "
                        "follow it, since the holder's line would be written "
                        "wherever it points: remove it (rm '%s': a lock "
                        "file holds only its holder's name), and keep images "
                        "in a directory of your own",
                        lock, target, owner, lock);
  }
  if (err == EISDIR)
    return lock_not_file(lock);
  if (err == ENOENT || err == ENOTDIR)
    return perm__errorf_errno(err,
                              "cannot create the lock file '%s' that a "
                              "writable open of the image takes (does the "
                              "directory exist?)",
                              lock);
  return perm__errorf_errno(err,
                            "cannot create the lock file '%s' that a "
                            "writable open of the image takes (is the "
                            "directory writable? to read the image only, "
                            "open it with mode r)",
                            lock);
}

/*
** Another user's lock file, not trusted: whose it is and whether a
** process holds it now (a probe of the lock, let go at once), and the ways
** on.
*/
static int lock_foreign_error(const char *lock, int fd, const struct stat *st) {
  char owner[300], who[512], state[700];
  lock_owner(st->st_uid, owner, sizeof owner);
  if (perm__sys_flock(fd, LOCK_EX | LOCK_NB) == 0) {
    snprintf(state, sizeof state,
             "no process holds it now; trusted, it is replaced by one of "
             "yours");
  } else if (errno == EWOULDBLOCK) {
    lock_holder(fd, who, sizeof who);
    snprintf(state, sizeof state,
             "it is held now, by %s as the file says: that user has the "
             "image open for writing; trusted, the lock is waited for like "
             "any writer's",
             who);
  } else {
    snprintf(state, sizeof state, "whether a process holds it is unknown: %s",
             strerror(errno));
  }
  close(fd);
  return perm__errorf(EACCES,
                      "the lock file '%s' of the image belongs to %s, not to "
                      "you; another user may be using this image, or "
                      "planted the file: keep images in a directory of your "
                      "own, or, if you trust that user, set "
                      "PERM_TRUST_IMAGE=1 (%s)",
                      lock, owner, state);
}

/*
** A trusted lock file of another user's, locked by us (fd): replaced by
** one of ours, locked before it takes the name, so the lock is never free.
** Where the directory does not let us replace another user's file (a
** sticky one we do not own), the locked file serves as it is.  Returns the
** descriptor to keep.
*/
static int lock_take_over(const char *lock, int fd, uid_t uid) {
  char tmp[4300];
  snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", lock);
  int mine = mkostemp(tmp, O_CLOEXEC); /* 0600, exclusive */
  if (mine < 0) {
    perm__verbose("the lock file '%s' of uid %u is used as it is: cannot "
                  "create '%s': %s",
                  lock, (unsigned)uid, tmp, strerror(errno));
    return fd;
  }
  if (perm__sys_flock(mine, LOCK_EX | LOCK_NB) != 0 ||
      perm__sys_rename(tmp, lock) != 0) {
    perm__verbose("the lock file '%s' of uid %u is used as it is: cannot "
                  "replace it: %s",
                  lock, (unsigned)uid, strerror(errno));
    unlink(tmp);
    close(mine);
    return fd;
  }
  perm__verbose("the lock file '%s' of uid %u (trusted, held by nobody) is "
                "replaced by one of yours",
                lock, (unsigned)uid);
  close(fd); /* a taker waiting on it finds the name moved on */
  return mine;
}

int perm__lock_image(const char *path, int trust) {
  char lock[4200];
  if (snprintf(lock, sizeof lock, "%s.lock", path) >= (int)sizeof lock)
    return perm__errorf(ENAMETOOLONG, "the image path '%s' is too long", path);
  for (int tries = 0;; tries++) {
    int fd = perm__sys_open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
                            0600);
    int err = errno;
    if (fd < 0 && err == EACCES && access(lock, F_OK) == 0) {
      fd = perm__sys_open(lock, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
      err = errno;
    }
    if (fd < 0)
      return lock_open_error(lock, err);
    struct stat st;
    if (fstat(fd, &st) != 0) {
      err = errno;
      close(fd);
      return perm__errorf_errno(err, "cannot stat the lock file '%s'", lock);
    }
    if (!S_ISREG(st.st_mode)) {
      close(fd);
      return lock_not_file(lock);
    }
    int foreign = st.st_uid != geteuid();
    if (foreign && !trust)
      return lock_foreign_error(lock, fd, &st);
    if (perm__sys_flock(fd, LOCK_EX | LOCK_NB) != 0) {
      err = errno;
      char who[512];
      lock_holder(fd, who, sizeof who);
      close(fd);
      if (err == EWOULDBLOCK)
        return perm__errorf(EBUSY,
                            "the image '%s' is open for writing by %s, which "
                            "holds '%s'; one process writes an image at a "
                            "time: wait for it, or open the image read-only "
                            "(mode r)",
                            path, who, lock);
      return perm__errorf_errno(err, "cannot lock '%s'", lock);
    }
    /* Ours only if the name still leads to it (a takeover moves it on). */
    struct stat now;
    if (lstat(lock, &now) != 0 || now.st_dev != st.st_dev ||
        now.st_ino != st.st_ino) {
      close(fd);
      if (tries + 1 < LOCK_TRIES)
        continue;
      return perm__errorf(EAGAIN,
                          "the lock file '%s' was replaced %d times while "
                          "this process locked it; is another program "
                          "renaming files in that directory?",
                          lock, LOCK_TRIES);
    }
    if (foreign)
      fd = lock_take_over(lock, fd, st.st_uid);
    char exe[4096], line[4300];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[k > 0 ? k : 0] = '\0';
    int n = snprintf(line, sizeof line, "process %d (%s)\n", (int)getpid(),
                     exe);
    /*
    ** Written over the last holder's line, and cut only when the length
    ** differs: truncating a file to 0 frees its block, which on ext4 took
    ** milliseconds of every open.  (A lock file used as another user's,
    ** read-only, keeps its line.)
    */
    if (n > 0 && pwrite(fd, line, (size_t)n, 0) == n &&
        (fstat(fd, &now) != 0 || now.st_size != n))
      (void)!ftruncate(fd, n);
    return fd;
  }
}

void perm__unlock_image(int fd) {
  if (fd >= 0)
    close(fd); /* the lock goes with the last descriptor of the open file */
}
