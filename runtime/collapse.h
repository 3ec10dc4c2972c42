/*
** collapse.h - the region's huge pages given back after a checkpoint.
*/
#ifndef PERM_COLLAPSE_H
#define PERM_COLLAPSE_H

#include "perm_internal.h"
#include "region.h"

/*
** Collapses every 2 MiB unit of [base + PERM_REGION_SMALL_PART, base + top)
** whose pages are all in memory but no longer one huge page.  Best effort:
** returns the number of units collapsed, 0 when the kernel cannot say
** (no PAGEMAP_SCAN) or cannot collapse (no MADV_COLLAPSE, pages it will not
** merge).
*/
PERM_HIDDEN uint64_t perm__collapse_region(const perm_region_t *r);

#endif /* PERM_COLLAPSE_H */
