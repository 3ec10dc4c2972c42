/*
** state.h - the runtime's own persistent state.  It lives in the section
** "permrt_state", which every image saves and every restore loads, next to
** jemalloc's permje_data and permje_bss.
*/
#ifndef PERM_STATE_H
#define PERM_STATE_H

#include <stdint.h>

#include "region.h"

#define PERM_SAVED_MAGIC 0x7065726d73746174ull /* "permstat" */

typedef struct perm_saved_s {
  uint64_t magic;      /* PERM_SAVED_MAGIC once a heap exists */
  uint64_t generation; /* checkpoints taken over the heap's life */
  uint64_t rtree_lock; /* jemalloc's rtree init_lock (a pthread_mutex_t) */
  uint64_t heap_id;    /* random, chosen when the heap was created */
  perm_region_t region;
} perm_saved_t;

PERM_HIDDEN extern perm_saved_t perm__saved;

/* Bounds of the sections an image saves (defined by the linker). */
extern char __start_permje_data[] __attribute__((weak, visibility("hidden")));
extern char __stop_permje_data[] __attribute__((weak, visibility("hidden")));
extern char __start_permje_bss[] __attribute__((weak, visibility("hidden")));
extern char __stop_permje_bss[] __attribute__((weak, visibility("hidden")));
extern char __start_permrt_state[] __attribute__((weak, visibility("hidden")));
extern char __stop_permrt_state[] __attribute__((weak, visibility("hidden")));

#endif /* PERM_STATE_H */
