/*
** compat.c - LLNL PERM's API on top of perm_*: perm, mopen, mclose, mflush,
** bopen, bclose, backup, restore.  Return values are PERM's: 0 on success,
** -1 on failure (errno set, perm_error() says why), and -2 from mopen when a
** heap is already open.  Unlike PERM, every image write is atomic.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "../include/perm.h"
#include "perm_internal.h"

#define PERM_EXPORT __attribute__((visibility("default")))

typedef struct compat_s {
  pthread_mutex_t lock; /* Synchronizes backup_path. */
  char *backup_path;    /* named by bopen, forgotten by bclose */
  int backup_writable;
} compat_t;

static compat_t compat = {.lock = PTHREAD_MUTEX_INITIALIZER};

PERM_EXPORT int perm(void *ptr, size_t size) {
  return perm_register(ptr, size, NULL);
}

PERM_EXPORT int mopen(const char *fname, const char *mode, size_t size) {
  if (perm__is_open(NULL)) {
    perm__errorf(EALREADY, "mopen('%s'): a heap is already open", fname);
    errno = EALREADY;
    return -2;
  }
  /* PERM's heap file is shared by the programs of one application. */
  return perm__open(fname, mode, size, PERM_OPEN_SHARED) == 0 ? 0 : -1;
}

PERM_EXPORT int mflush(void) { return perm_checkpoint(); }

PERM_EXPORT int mclose(void) {
  int writable = 0;
  if (!perm__is_open(&writable)) {
    perm__errorf(EBADF, "mclose: no heap is open");
    errno = EBADF;
    return -1;
  }
  if (writable && perm_checkpoint() != 0)
    return -1;
  return perm_close();
}

PERM_EXPORT int bopen(const char *fname, const char *mode) {
  if (fname == NULL || *fname == '\0' || mode == NULL ||
      strchr("rwa", mode[0]) == NULL) {
    perm__errorf(EINVAL,
                 "bopen('%s', \"%s\"): give a path and a mode "
                 "starting with r, w or a",
                 fname ? fname : "", mode ? mode : "");
    errno = EINVAL;
    return -1;
  }
  if (!perm__is_open(NULL)) {
    perm__errorf(EBADF, "bopen('%s'): call mopen first", fname);
    errno = EBADF;
    return -1;
  }
  char *copy = perm__tstrdup(fname);
  if (copy == NULL) {
    errno = ENOMEM;
    return -1;
  }
  pthread_mutex_lock(&compat.lock);
  perm__tfree(compat.backup_path);
  compat.backup_path = copy;
  compat.backup_writable = mode[0] != 'r' || mode[1] == '+';
  pthread_mutex_unlock(&compat.lock);
  return 0;
}

PERM_EXPORT int bclose(void) {
  pthread_mutex_lock(&compat.lock);
  perm__tfree(compat.backup_path);
  compat.backup_path = NULL;
  pthread_mutex_unlock(&compat.lock);
  return 0;
}

/* The backup path, copied (the caller frees it), or NULL with errno set. */
static char *compat_backup(const char *what, int for_write) {
  pthread_mutex_lock(&compat.lock);
  char *p = compat.backup_path ? perm__tstrdup(compat.backup_path) : NULL;
  int writable = compat.backup_writable;
  pthread_mutex_unlock(&compat.lock);
  if (p == NULL) {
    perm__errorf(EBADF, "%s: no backup file; call bopen first", what);
    errno = EBADF;
    return NULL;
  }
  if (for_write && !writable) {
    perm__errorf(EROFS, "%s: the backup '%s' was opened read-only", what, p);
    perm__tfree(p);
    errno = EROFS;
    return NULL;
  }
  return p;
}

PERM_EXPORT int backup(void) {
  char *p = compat_backup("backup", 1);
  if (p == NULL)
    return -1;
  int rc = perm_checkpoint_to(p);
  perm__tfree(p);
  return rc;
}

PERM_EXPORT int restore(void) {
  char *p = compat_backup("restore", 0);
  if (p == NULL)
    return -1;
  int rc = perm_rollback(p);
  perm__tfree(p);
  return rc;
}
