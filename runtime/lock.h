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
*/
PERM_HIDDEN int perm__lock_image(const char *path);
PERM_HIDDEN void perm__unlock_image(int fd);

#endif /* PERM_LOCK_H */
