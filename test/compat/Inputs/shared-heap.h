/*
** shared-heap.h - the persistent globals that the programs of
** two-programs.test share: a table of blocks, as LLNL PERM's create/restore
** test pair keeps them.  -DOTHER_TYPE changes one global's type;
** -DEXTRA_GLOBAL declares one global the producer does not have.
*/
#include <perm.h>
#include <stddef.h>

#define SHARED_BLOCKS 256
#define SHARED_IMAGE "heap/persist.mmap"
#define SHARED_BACKUP "heap/persist.back"
#define SHARED_SIZE ((size_t)1 << 26)

PERM void *addr[SHARED_BLOCKS];
PERM size_t size[SHARED_BLOCKS];
PERM size_t total;
#ifdef OTHER_TYPE
PERM long idx;
#else
PERM int idx;
#endif
#ifdef EXTRA_GLOBAL
PERM int extra;
#endif

/* Block i's size and fill byte: small ones first, then up to half a MiB. */
static inline size_t shared_block_size(int i) {
  return i < SHARED_BLOCKS / 2 ? (size_t)(i + 1) * 7 : (size_t)(i + 1) * 2039;
}
