/*
** track.h - which pages of the region changed since the last checkpoint:
** the kernel's write tracking (userfaultfd, asynchronous write-protect,
** read back with PAGEMAP_SCAN), plus a journal of the changes the kernel
** does not see as writes (pages purged or mapped afresh by the runtime).
*/
#ifndef PERM_TRACK_H
#define PERM_TRACK_H

#include <stddef.h>
#include <stdint.h>

#include "image_format.h"
#include "perm_internal.h"

/* A list of page ranges, sorted and disjoint once normalised. */
typedef struct perm_ranges_s {
  perm_image_run_t *v;
  size_t n, cap;
} perm_ranges_t;

PERM_HIDDEN int perm__ranges_add(perm_ranges_t *r, uint64_t addr, uint64_t len);
PERM_HIDDEN int perm__ranges_append(perm_ranges_t *r, const perm_ranges_t *o);
/* Sorts and merges overlapping or adjacent ranges. */
PERM_HIDDEN void perm__ranges_normalise(perm_ranges_t *r);
/* Keeps only what lies inside the sorted, disjoint runs. */
PERM_HIDDEN int perm__ranges_clip(perm_ranges_t *r, const perm_image_run_t *runs,
                                  size_t nruns);
PERM_HIDDEN uint64_t perm__ranges_bytes(const perm_ranges_t *r);
PERM_HIDDEN void perm__ranges_free(perm_ranges_t *r);

/*
** Starts tracking writes to [base, base+capacity) in this process, with
** every page below base+top counted as clean.  Fails with -ENOSYS (and a
** message) where the kernel cannot track writes.
*/
PERM_HIDDEN int perm__track_start(uint64_t base, uint64_t capacity,
                                  uint64_t top);
PERM_HIDDEN void perm__track_stop(void);
PERM_HIDDEN int perm__track_active(void);
/*
** The runtime changed [addr, addr+len) behind the kernel's tracking (a
** purge) or replaced its mapping (remapped: the new mapping must be
** tracked too).  Safe inside the allocator: no allocation, a spin lock.
*/
PERM_HIDDEN void perm__track_note(uint64_t addr, uint64_t len, int remapped);
/*
** The pages changed since the last collect (or start) below base+top, into
** out (appended, not normalised: it runs at the fork, where nothing may
** sort with qsort, which allocates), and tracking starts over from now.
** -ESTALE when some change could not be recorded: the next image must be
** full.
*/
PERM_HIDDEN int perm__track_collect(uint64_t top, perm_ranges_t *out);

#endif /* PERM_TRACK_H */
