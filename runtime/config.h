/*
** config.h - settings from the environment (README.PERM, "Environment").
** Every malformed value is an error naming the variable.
*/
#ifndef PERM_CONFIG_H
#define PERM_CONFIG_H

#include <stdint.h>

#include "perm_internal.h"

/* PERM_COLLAPSE's values (collapse.c); unset: off (README.PERM, section
   6: the background pass cost a 2-thread program checkpointing every
   100 ms about 13 % of its throughput on 2 CPUs). */
#define PERM_COLLAPSE_OFF 0
#define PERM_COLLAPSE_BACKGROUND 1
#define PERM_COLLAPSE_SYNC 2

/* Chosen from measurements: README.PERM, section 6. */
#define PERM_CHAIN_MAX_DEFAULT 16
#define PERM_CHAIN_RATIO_DEFAULT 0.5

typedef struct perm_config_s {
  uint64_t address;  /* PERM_ADDRESS: region base for new heaps */
  uint64_t size;     /* PERM_SIZE: region capacity for new heaps */
  int verify_full;   /* PERM_VERIFY=full (default) | metadata */
  int eager;         /* PERM_RESTORE=eager | lazy (default) */
  int allow_rebuild; /* PERM_ALLOW_REBUILD=1 */
  int trust_image;   /* PERM_TRUST_IMAGE=1 */
  int incremental;   /* PERM_INCREMENTAL: 1, 0, or -1 when unset (mode i) */
  uint64_t chain_max; /* PERM_CHAIN_MAX: images in a chain before a full */
  double chain_ratio; /* PERM_CHAIN_RATIO: delta bytes / full image bytes */
  int gate_publish;   /* PERM_GATE=publish | signal (default) */
  int readback;       /* PERM_READBACK=1: checkpoints read their image back */
  int collapse;       /* PERM_COLLAPSE: PERM_COLLAPSE_OFF (0, unset) |
                         _BACKGROUND (1, "background") | _SYNC ("sync") */
} perm_config_t;

PERM_HIDDEN int perm__config_load(perm_config_t *c);
/* "64G", "512M", "4096", "0x1000" (K/M/G/T are binary units). */
PERM_HIDDEN int perm__parse_size(const char *s, uint64_t *out);
PERM_HIDDEN int perm__parse_bool(const char *name, const char *s, int *out);
/*
** PERM_GATE: 1 when threads publish their state on every allocator call
** ("publish"), 0 when the fork asks them by a signal ("signal", unset).
** Read when the process creates its first thread, and by perm_open, which
** reports a malformed value.
*/
PERM_HIDDEN int perm__config_gate(int *publish);
/*
** A PERM_* variable, or NULL: set-user-ID and set-group-ID programs ignore
** them (secure_getenv), so a user cannot steer another's persistent heap.
*/
PERM_HIDDEN const char *perm__getenv(const char *name);

#endif /* PERM_CONFIG_H */
