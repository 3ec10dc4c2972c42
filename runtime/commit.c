/*
** commit.c - the commit protocol: an image written to a temporary file
** becomes NAME atomically, and the NAME it replaces becomes NAME.prev.
**
**   1. NAME.tmp-R       created exclusive, 0600, R random (a name nobody can
**                       plant in advance), written, fdatasync'ed
**   2. NAME.old-R       a second name for the current NAME.prev, so that
**                       replacing it below frees nothing yet
**   3. NAME.prev.tmp-R  a second name for the current NAME (a copy, synced,
**                       if NAME is not the caller's or others may write it)
**   4. NAME.prev        <- rename(NAME.prev.tmp-R): the current generation
**   5. NAME             <- rename(NAME.tmp-R): the new generation
**   6. fsync of the directory: durable
**   7. unlink(NAME.old-R): the generation before the previous one is freed,
**      after the durability point, where its cost (an unlink of a large
**      file takes long on ext4) delays nobody's commit
**
** At every instant NAME (old or new) and the generation before it exist:
** after step 4 the one before is NAME.old-R, and perm__commit_recover puts
** it back as NAME.prev if a crash came before step 5.  A failure at a step
** undoes the steps before it, so NAME and NAME.prev stay byte for byte what
** they were; a failure at step 6 undoes 5 and 4 the same way.  NAME is
** never a symbolic link (refused): the commit would replace the link, not
** the file it names.
*/
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "commit.h"
#include "image.h"
#include "sys.h"

#define COMMIT_TRIES 16 /* names tried before giving up on EEXIST */

/* 12 hex digits nobody can guess in advance. */
static void commit_random(char *buf, size_t size) {
  unsigned char r[6];
  if (getrandom(r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32) ^
                 (uint64_t)ts.tv_sec * 0x9e3779b97f4a7c15ull;
    memcpy(r, &x, sizeof r);
  }
  snprintf(buf, size, "%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3], r[4],
           r[5]);
}

/* "uid 1000 (alice)" of a file, for messages. */
static void commit_owner(const char *path, char *buf, size_t size) {
  struct stat st;
  if (lstat(path, &st) != 0) {
    snprintf(buf, size, "an unknown user");
    return;
  }
  char pw_buf[1024];
  struct passwd pw, *res = NULL;
  if (getpwuid_r(st.st_uid, &pw, pw_buf, sizeof pw_buf, &res) == 0 &&
      res != NULL)
    snprintf(buf, size, "uid %u (%s)", (unsigned)st.st_uid, res->pw_name);
  else
    snprintf(buf, size, "uid %u", (unsigned)st.st_uid);
}

/* Why a name in the directory could not be taken over, and whose it is. */
static int commit_name_error(int err, const char *what, const char *name) {
  struct stat st;
  if ((err == EPERM || err == EACCES || err == EEXIST) &&
      lstat(name, &st) == 0 && st.st_uid != geteuid()) {
    char owner[300];
    commit_owner(name, owner, sizeof owner);
    return perm__errorf(err,
                        "cannot %s '%s': it belongs to %s, not to you, and "
                        "the directory does not let you replace another "
                        "user's file (a sticky directory such as /tmp); "
                        "remove it, or keep images in a directory of your own",
                        what, name, owner);
  }
  return perm__errorf_errno(err, "cannot %s '%s'", what, name);
}

int perm__commit_check_target(const char *path, const char *who) {
  char where[4200];
  if (who != NULL)
    snprintf(where, sizeof where, "%s('%s'): the image", who, path);
  else
    snprintf(where, sizeof where, "the image '%s'", path);
  struct stat st;
  if (lstat(path, &st) != 0 || S_ISREG(st.st_mode))
    return 0; /* missing (a new image) or a file: the commit may replace it */
  if (S_ISLNK(st.st_mode)) {
    char target[4096];
    ssize_t n = readlink(path, target, sizeof target - 1);
    target[n > 0 ? n : 0] = '\0';
    return perm__errorf(ELOOP,
                        "%s is a symbolic link (to '%s'); PERM does not "
                        "follow links to images, which another user could "
                        "redirect: give the real path",
                        where, target);
  }
  return perm__errorf(EINVAL, "%s is not a regular file, so not an image",
                      where);
}

/* Not the caller's, or writable by others: its bytes are not the caller's. */
static int commit_is_foreign(const struct stat *st) {
  return st->st_uid != geteuid() || (st->st_mode & (S_IWGRP | S_IWOTH)) != 0;
}

/* src's bytes into out (empty, 0600), holes kept, then fdatasync'ed. */
static int commit_copy_bytes(int in, int out, const char *src,
                             const char *dst) {
  struct stat st;
  if (fstat(in, &st) != 0 || !S_ISREG(st.st_mode))
    return perm__errorf(EINVAL, "'%s' is not a regular file, so not an image",
                        src);
  size_t bufsize = 1u << 20;
  char *buf = perm__tmalloc(bufsize);
  if (buf == NULL)
    return perm__errorf(ENOMEM, "out of memory copying '%s'", src);
  int rc = 0;
  off_t off = 0;
  /* A sparse image costs what its data does (SEEK_DATA/SEEK_HOLE). */
  while (rc == 0 && off < st.st_size) {
    off_t data = lseek(in, off, SEEK_DATA), hole;
    if (data < 0 && errno == ENXIO)
      break; /* only a hole is left */
    if (data < 0) {
      data = off; /* no SEEK_DATA here: copy everything */
      hole = st.st_size;
    } else if ((hole = lseek(in, data, SEEK_HOLE)) < 0) {
      hole = st.st_size;
    }
    for (off_t p = data; rc == 0 && p < hole;) {
      size_t n = (size_t)(hole - p) < bufsize ? (size_t)(hole - p) : bufsize;
      if ((rc = perm__sys_pread_all(in, buf, n, p)) != 0)
        rc = perm__errorf_errno(-rc, "cannot read '%s' to copy it", src);
      else if ((rc = perm__sys_pwrite_all(out, buf, n, p)) != 0)
        rc = perm__errorf_errno(-rc, "cannot write '%s' (is there room "
                                     "left?)", dst);
      p += (off_t)n;
    }
    off = hole;
  }
  perm__tfree(buf);
  if (rc == 0 && perm__sys_ftruncate(out, st.st_size) != 0)
    rc = perm__errorf_errno(errno, "cannot set the size of '%s'", dst);
  /* Synced before it takes a name that matters: a failed sync abandons it. */
  if (rc == 0 && perm__sys_fdatasync(out) != 0)
    rc = perm__errorf_errno(errno, "cannot fdatasync '%s'", dst);
  return rc;
}

/*
** A copy of src of the caller's own, 0600, as NAME<suffix>-RANDOM in out:
** what a second name would be, for a src the caller must not share (see
** commit_prev_aside).  Returns 0 or -errno with the message set.
*/
static int commit_copy_aside(const char *src, const char *suffix, char *out,
                             size_t size, const char *path) {
  int in = perm__sys_open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
  if (in < 0)
    return perm__errorf_errno(errno, "cannot open '%s' to copy it", src);
  int fd = -1;
  for (int i = 0; i < COMMIT_TRIES; i++) {
    char r[16];
    commit_random(r, sizeof r);
    snprintf(out, size, "%s%s-%s", path, suffix, r);
    fd = perm__sys_open(out, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
                                 O_CLOEXEC, 0600);
    if (fd >= 0 || errno != EEXIST)
      break;
  }
  int rc;
  if (fd < 0)
    rc = perm__errorf_errno(errno,
                            "cannot create '%s' (is the directory writable, "
                            "with room left?)",
                            out);
  else
    rc = commit_copy_bytes(in, fd, src, out);
  close(in);
  if (fd >= 0)
    close(fd);
  if (rc != 0 && fd >= 0)
    perm__sys_unlink(out);
  if (rc != 0)
    out[0] = '\0';
  return rc;
}

int perm__commit_sync_dir(const char *path) {
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", path);
  const char *dir = dirname(buf);
  int fd = perm__sys_open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (fd < 0)
    return perm__errorf_errno(errno,
                              "cannot open the directory '%s' to make "
                              "the image durable",
                              dir);
  int rc = perm__sys_fsync(fd) == 0 ? 0 : -errno;
  close(fd);
  if (rc != 0)
    return perm__errorf_errno(-rc, "cannot fsync the directory '%s'", dir);
  return 0;
}

int perm__commit_begin(perm_commit_t *c, const char *path) {
  memset(c, 0, sizeof *c);
  c->fd = -1;
  if (snprintf(c->path, sizeof c->path, "%s", path) >= (int)sizeof c->path)
    return perm__errorf(ENAMETOOLONG, "the image path '%s' is too long", path);
  /* Checked before the image is written, not after: it would be wasted. */
  int rc = perm__commit_check_target(path, NULL);
  if (rc != 0)
    return rc;
  for (int i = 0; i < COMMIT_TRIES; i++) {
    char r[16];
    commit_random(r, sizeof r);
    snprintf(c->tmp, sizeof c->tmp, "%s.tmp-%s", path, r);
    c->fd = perm__sys_open(
        c->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (c->fd >= 0 || errno != EEXIST)
      break;
  }
  if (c->fd < 0)
    return perm__errorf_errno(errno,
                              "cannot create the image '%s' (is the directory "
                              "writable, with room left?)",
                              c->tmp);
  return 0;
}

void perm__commit_abort(perm_commit_t *c) {
  if (c->fd >= 0)
    close(c->fd);
  c->fd = -1;
  if (c->tmp[0] != '\0')
    perm__sys_unlink(c->tmp);
  c->tmp[0] = '\0';
}

/* A second name for src, NAME<suffix>-RANDOM, in out. */
static int commit_link_aside(const char *src, const char *suffix, char *out,
                             size_t size, const char *path) {
  int err = 0;
  for (int i = 0; i < COMMIT_TRIES; i++) {
    char r[16];
    commit_random(r, sizeof r);
    snprintf(out, size, "%s%s-%s", path, suffix, r);
    if (perm__sys_link(src, out) == 0)
      return 0;
    err = errno;
    if (err != EEXIST)
      break;
  }
  out[0] = '\0';
  return -err;
}

/*
** Whether the rename over another user's NAME can succeed: a sticky
** directory that is not the caller's refuses it (but to root), and the
** copy made for NAME.prev would be wasted on a planted file.
*/
static int commit_dir_lets_replace(const char *path) {
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", path);
  struct stat d;
  if (geteuid() == 0 || stat(dirname(buf), &d) != 0)
    return 1; /* then the rename says so itself */
  return !(d.st_mode & S_ISVTX) || d.st_uid == geteuid();
}

/*
** A second name for NAME, to become NAME.prev: a hard link, unless NAME is
** another user's file or others may write it (restored with
** PERM_TRUST_IMAGE=1).  Then a link would leave "the last good image" one
** is told to 'mv NAME.prev NAME' to rewritable by them, and refused by a
** restore: a copy of the caller's own, 0600, is kept instead.
*/
static int commit_prev_aside(perm_commit_t *c, const struct stat *st,
                             char *out, size_t size) {
  if (!commit_is_foreign(st)) {
    int rc = commit_link_aside(c->path, ".prev.tmp", out, size, c->path);
    return rc == 0 ? 0
                   : commit_name_error(-rc, "keep the current image as a "
                                            "previous one",
                                       c->path);
  }
  if (st->st_uid != geteuid() && !commit_dir_lets_replace(c->path))
    return commit_name_error(EPERM, "keep the current image as a previous one",
                             c->path);
  int rc = commit_copy_aside(c->path, ".prev.tmp", out, size, c->path);
  if (rc != 0) {
    char why[1024];
    snprintf(why, sizeof why, "%s", perm__error_message());
    rc = perm__errorf(-rc,
                      "cannot keep the current image '%s' as the previous "
                      "one: it is another user's file or others may write "
                      "it, so a copy of your own is made, and %s",
                      c->path, why);
  }
  return rc;
}

/*
** The directory was not synced after the renames: they may or may not
** survive a crash.  The names are put back as they were, so that a failed
** checkpoint leaves exactly what was there before it, whatever the disk
** does next; each step leaves NAME and a generation before it under names
** perm__commit_recover knows.  If NAME cannot be put back, the new image
** stays, with the old NAME as NAME.prev: a consistent pair, reported as
** committed (c->committed) so that the caller adopts its generation.
*/
static int commit_undo_renames(perm_commit_t *c, const char *prev,
                               int have_name, int have_prev, int rc) {
  int undone;
  if (!have_name) {
    undone = perm__sys_unlink(c->path) == 0;
  } else if (!have_prev) {
    undone = perm__sys_rename(prev, c->path) == 0; /* none before: none now */
  } else {
    /*
    ** The old NAME gets a second name that becomes NAME, so NAME.prev names
    ** it too meanwhile: the state of a crash between steps 4 and 5, never
    ** one without NAME.prev.
    */
    char back[4200];
    undone = commit_link_aside(prev, ".prev.tmp", back, sizeof back,
                               c->path) == 0;
    if (undone && perm__sys_rename(back, c->path) != 0) {
      undone = 0;
      perm__sys_unlink(back);
    }
  }
  if (!undone) {
    char why[1024];
    snprintf(why, sizeof why, "%s", perm__error_message());
    c->committed = 1;
    return perm__errorf(-rc,
                        "%s; putting the previous image back failed too, so "
                        "the new one stays in place as '%s', the one it "
                        "replaced as '%s' (not known to survive a crash: "
                        "check them with 'perm check')",
                        why, c->path, prev);
  }
  if (c->kept && have_name) {
    /*
    ** Its own generation back as NAME.prev.  If that fails, NAME.old-R is
    ** left (not unlinked by the cleanup) for perm__commit_recover.
    */
    perm__sys_rename(c->keep, prev);
    c->kept = 0;
  } else if (c->kept) {
    /* NAME.prev was never replaced: keep is the same file, just a name. */
    perm__sys_unlink(c->keep);
    c->kept = 0;
  }
  perm__commit_sync_dir(c->path);
  if (c->member[0] != '\0')
    perm__sys_unlink(c->member);
  c->member[0] = '\0';
  return rc;
}

int perm__commit_finish(perm_commit_t *c) {
  char prev[4200], prev_tmp[4200];
  snprintf(prev, sizeof prev, "%s.prev", c->path);
  struct stat st, pst;
  int have_name = lstat(c->path, &st) == 0;
  int have_prev = lstat(prev, &pst) == 0;
  int rc = 0;
  prev_tmp[0] = '\0';
  c->committed = 0;
  /* A link put in NAME's place while the image was written is not NAME. */
  if (have_name && !S_ISREG(st.st_mode)) {
    rc = perm__commit_check_target(c->path, NULL);
    goto undo;
  }
  /* A chain member name first: deltas written later name it. */
  if (c->member[0] != '\0' && perm__sys_link(c->tmp, c->member) != 0) {
    /* A leftover of an attempt that never committed: the same bytes. */
    if (errno != EEXIST || perm__sys_unlink(c->member) != 0 ||
        perm__sys_link(c->tmp, c->member) != 0) {
      rc = commit_name_error(errno, "name the new image", c->member);
      c->member[0] = '\0';
      goto undo;
    }
  }
  if (have_prev) {
    rc = commit_link_aside(prev, ".old", c->keep, sizeof c->keep, c->path);
    if (rc != 0) {
      rc = commit_name_error(-rc, "keep the previous image", prev);
      goto undo;
    }
    c->kept = 1;
  }
  if (have_name) {
    if ((rc = commit_prev_aside(c, &st, prev_tmp, sizeof prev_tmp)) != 0)
      goto undo;
    if (perm__sys_rename(prev_tmp, prev) != 0) {
      rc = commit_name_error(errno, "replace the previous image", prev);
      perm__sys_unlink(prev_tmp);
      goto undo;
    }
  }
  if (perm__sys_rename(c->tmp, c->path) != 0) {
    rc = commit_name_error(errno, "rename the new image over", c->path);
    /* NAME.prev is NAME now: give it back its own generation. */
    if (have_name && c->kept)
      perm__sys_rename(c->keep, prev), c->kept = 0;
    else if (have_name)
      perm__sys_unlink(prev); /* there was none before */
    goto undo;
  }
  c->tmp[0] = '\0';
  if ((rc = perm__commit_sync_dir(c->path)) == 0)
    return 0;
  return commit_undo_renames(c, prev, have_name, have_prev, rc);
undo:
  if (c->kept)
    perm__sys_unlink(c->keep);
  c->kept = 0;
  if (c->member[0] != '\0')
    perm__sys_unlink(c->member);
  c->member[0] = '\0';
  perm__commit_abort(c);
  return rc;
}

int perm__commit_keep_parent(const char *path, const char *parent,
                             uint64_t checksum) {
  struct stat st;
  if (lstat(parent, &st) == 0)
    return 0;
  perm_image_t img;
  int rc = perm__image_open(&img, path);
  if (rc != 0)
    return rc;
  uint64_t sum = img.hdr.header_checksum;
  st.st_uid = img.uid;
  st.st_mode = img.mode;
  perm__image_close(&img);
  if (sum != checksum)
    return perm__errorf(ESTALE,
                        "the image '%s' is not the one this process last "
                        "wrote or restored (was it replaced?)",
                        path);
  if (!commit_is_foreign(&st)) {
    if (perm__sys_link(path, parent) != 0)
      return commit_name_error(errno, "name the previous image", parent);
    return 0;
  }
  /* The delta depends on it: as for NAME.prev, a copy of the caller's own. */
  char tmp[4200];
  if ((rc = commit_copy_aside(path, ".tmp", tmp, sizeof tmp, path)) != 0)
    return rc;
  if (perm__sys_link(tmp, parent) != 0)
    rc = commit_name_error(errno, "name the previous image", parent);
  perm__sys_unlink(tmp);
  return rc;
}

/* The member names an image and the images it depends on are kept under. */
typedef struct commit_names_s {
  char (*v)[PERM_IMAGE_PARENT_NAME];
  size_t n, cap;
} commit_names_t;

static void commit_name_add(commit_names_t *l, const char *name) {
  if (l->n == l->cap) {
    size_t ncap = l->cap ? l->cap * 2 : 16;
    void *p = perm__trealloc(l->v, ncap * sizeof *l->v);
    if (p == NULL)
      return; /* then fewer are pruned: harmless */
    l->v = p;
    l->cap = ncap;
  }
  snprintf(l->v[l->n++], sizeof *l->v, "%s", name);
}

/* start is NAME or NAME.prev; members are named after NAME, base. */
static void commit_chain_names(const char *start, const char *base,
                               commit_names_t *l) {
  char path[4400], member[4400];
  snprintf(path, sizeof path, "%s", start);
  for (unsigned depth = 0; depth < PERM_IMAGE_MAX_CHAIN; depth++) {
    perm_image_t img;
    struct stat st;
    if (lstat(path, &st) != 0 || perm__image_open(&img, path) != 0)
      return; /* a broken chain keeps what it still names */
    const perm_image_header_t *h = &img.hdr;
    if (h->format_version >= 2 &&
        perm__chain_member_name(base, h->generation, h->header_checksum,
                                member, sizeof member) == 0) {
      const char *slash = strrchr(member, '/');
      commit_name_add(l, slash ? slash + 1 : member);
    }
    int delta = (h->flags & PERM_IMAGE_F_DELTA) != 0 &&
                memchr(h->parent_name, '\0', sizeof h->parent_name) != NULL;
    if (delta) {
      commit_name_add(l, h->parent_name);
      delta = perm__chain_parent_path(path, h, member, sizeof member) == 0;
    }
    perm__image_close(&img);
    if (!delta)
      return;
    snprintf(path, sizeof path, "%s", member);
  }
}

/* Chain members that neither NAME's nor NAME.prev's chain needs. */
static void commit_prune(const char *path) {
  char buf[4096], base[4096], prev[4200];
  snprintf(buf, sizeof buf, "%s", path);
  snprintf(base, sizeof base, "%s", path);
  snprintf(prev, sizeof prev, "%s.prev", path);
  commit_names_t keep = {0};
  commit_chain_names(path, path, &keep);
  commit_chain_names(prev, path, &keep);
  const char *dir = dirname(buf);
  const char *name = basename(base);
  DIR *d = opendir(dir);
  if (d != NULL) {
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      if (!perm__chain_is_member(e->d_name, name))
        continue;
      int needed = 0;
      for (size_t i = 0; i < keep.n && !needed; i++)
        needed = strcmp(keep.v[i], e->d_name) == 0;
      struct stat st;
      if (needed ||
          fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
          !S_ISREG(st.st_mode) || st.st_uid != geteuid())
        continue;
      unlinkat(dirfd(d), e->d_name, 0);
    }
    closedir(d);
  }
  perm__tfree(keep.v);
}

void perm__commit_cleanup(perm_commit_t *c) {
  if (c->kept)
    perm__sys_unlink(c->keep);
  c->kept = 0;
  commit_prune(c->path);
}

int perm__commit_prev_is_name(const char *path) {
  char prev[4200];
  snprintf(prev, sizeof prev, "%s.prev", path);
  struct stat cur, pst;
  /* lstat: a link in either place is no image of ours (it is not followed). */
  if (lstat(path, &cur) != 0 || lstat(prev, &pst) != 0 ||
      !S_ISREG(cur.st_mode) || !S_ISREG(pst.st_mode))
    return 0;
  if (cur.st_ino == pst.st_ino && cur.st_dev == pst.st_dev)
    return 1;
  /* Or NAME.prev is a copy of NAME (NAME was not the caller's to link). */
  perm_image_t a, b;
  if (perm__image_open(&a, path) != 0)
    return 0;
  int same = 0;
  if (perm__image_open(&b, prev) == 0) {
    same = a.hdr.generation == b.hdr.generation &&
           a.hdr.header_checksum == b.hdr.header_checksum;
    perm__image_close(&b);
  }
  perm__image_close(&a);
  perm__error_clear();
  return same;
}

/* NAME<suffix>-HEX: one of the names the protocol makes, left by a crash. */
static int commit_is_ours(const char *entry, const char *name, size_t nl,
                          const char *suffix) {
  size_t sl = strlen(suffix);
  if (strncmp(entry, name, nl) != 0 || strncmp(entry + nl, suffix, sl) != 0 ||
      entry[nl + sl] != '-')
    return 0;
  const char *r = entry + nl + sl + 1;
  return strlen(r) == 12 && strspn(r, "0123456789abcdef") == 12;
}

void perm__commit_recover(const char *path) {
  char buf[4096], base[4096], prev[4200];
  snprintf(buf, sizeof buf, "%s", path);
  snprintf(base, sizeof base, "%s", path);
  snprintf(prev, sizeof prev, "%s.prev", path);
  const char *dir = dirname(buf);
  const char *name = basename(base);
  size_t nl = strlen(name);
  DIR *d = opendir(dir);
  if (d == NULL)
    return;
  /* A crash between steps 4 and 5: NAME.prev is NAME, its own is aside. */
  int prev_is_name = -1; /* not known yet: only asked if one is aside */
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    int tmp = commit_is_ours(e->d_name, name, nl, ".tmp") ||
              commit_is_ours(e->d_name, name, nl, ".prev.tmp");
    int old = commit_is_ours(e->d_name, name, nl, ".old");
    struct stat st;
    if ((!tmp && !old) || fstatat(dirfd(d), e->d_name, &st,
                                  AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISREG(st.st_mode) || st.st_uid != geteuid())
      continue; /* another user's file is left alone */
    char full[4400];
    snprintf(full, sizeof full, "%s/%s", dir, e->d_name);
    if (old && prev_is_name < 0)
      prev_is_name = perm__commit_prev_is_name(path);
    if (old && prev_is_name) {
      perm__verbose("putting back '%s' as '%s' (a checkpoint was interrupted)",
                    full, prev);
      perm__sys_rename(full, prev);
      prev_is_name = 0;
    } else {
      perm__sys_unlink(full);
    }
  }
  closedir(d);
}
