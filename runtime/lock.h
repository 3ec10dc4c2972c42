/*
** lock.h - one writer per image: an advisory lock on NAME.lock, held from
** a writable perm_open until perm_close (and by a checkpoint child still
** writing), naming its holder for the next process that asks.
*/
#ifndef PERM_LOCK_H
#define PERM_LOCK_H

#include "perm_internal.h"

/*
** Takes the lock of the image at path; returns the lock file's descriptor
** (>= 0), or -EBUSY naming the process that holds it, or another -errno.
** A lock file of another user's is refused (-EACCES, saying whose it is
** and whether a process holds it) unless trust (PERM_TRUST_IMAGE=1): then
** it is locked like one's own, and replaced by one of the caller's where
** the directory allows.
*/
PERM_HIDDEN int perm__lock_image(const char *path, int trust);
PERM_HIDDEN void perm__unlock_image(int fd);

#endif /* PERM_LOCK_H */
