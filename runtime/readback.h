/*
** readback.h - a checkpoint's image read back and compared with the memory
** it was written from (PERM_READBACK=1).
*/
#ifndef PERM_READBACK_H
#define PERM_READBACK_H

#include "perm_internal.h"
#include "track.h"

/*
** path (a full image or the head of a chain, not yet committed) against
** this process's memory: every page of runs[0, nruns) equals what a restore
** of path would load, bytes from the chain's files or zero.  Returns 0, or
** -EIO naming the first page that differs and where its bytes came from.
*/
PERM_HIDDEN int perm__readback_check(const char *path, const char *name,
                                     const perm_ranges_t *runs);

#endif /* PERM_READBACK_H */
