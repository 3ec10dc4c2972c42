/*
** environ.h - what environ.c tells the preload library: whether this
** process owns the image PERM_FNAME names (README.PERM, section 10).
*/
#ifndef PERM_ENVIRON_H
#define PERM_ENVIRON_H

#include "perm_internal.h"

/*
** Called by libperm-preload.so's constructor, before the environment opens
** the image: this process runs an unmodified program.  Returns 1 when it
** owns PERM_FNAME's image (it is the first process started with that
** PERM_FNAME, or a program that one execs in turn), 0 when it must run with
** no image: a child of the owner, or no PERM_FNAME at all.
*/
PERM_HIDDEN int perm__env_preloaded(void);

#endif /* PERM_ENVIRON_H */
