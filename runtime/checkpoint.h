/*
** checkpoint.h - writing an image of the running heap from a forked child.
*/
#ifndef PERM_CHECKPOINT_H
#define PERM_CHECKPOINT_H

#include <stdint.h>
#include <sys/types.h>

#include "perm_internal.h"
#include "track.h"

typedef struct perm_ckpt_s {
  pid_t pid;         /* the child writing the image, 0 = none */
  pid_t done_pid;    /* a child that reported success, not reaped yet */
  int fd;            /* read end of the child's result pipe */
  uint64_t start_ns; /* when fork was called */
  uint64_t pause_ns; /* how long fork stopped the caller */
  int threads_waited; /* threads found inside the allocator at the fork */
} perm_ckpt_t;

/*
** What to write.  With track set, the pages written since the last
** checkpoint of this image are collected at the fork (track.c), and the
** child reports the pages it changed itself (giving back thread caches,
** purging): the next delta needs both, since the image differs from the
** parent's memory there.
*/
typedef struct perm_ckpt_plan_s {
  int track;                   /* incremental mode: collect at the fork */
  int delta;                   /* a delta of the parent below, if it can */
  uint64_t parent_generation;  /* the image the delta changes */
  uint64_t parent_checksum;    /* its header checksum */
  uint64_t parent_chain;       /* its chain length */
  const perm_ranges_t *child_prev; /* the last child's own changes */
  int readback;                /* PERM_READBACK: compare before committing */
} perm_ckpt_plan_t;

typedef struct perm_ckpt_result_s {
  int rc;                   /* 0 or -errno */
  int delta;                /* the image written is a delta */
  int tracked;              /* child_changes below is complete */
  int committed;            /* the image is NAME (even if rc != 0: its
                               durability is not known) */
  uint64_t bytes;           /* size of the image file */
  uint64_t generation;      /* the generation the image holds */
  uint64_t header_checksum; /* of the image written */
  uint64_t chain_length;    /* of the image written */
  uint64_t data_bytes;      /* region data in the image file */
  uint64_t bytes_dirtied;   /* bytes of pages the program wrote */
  uint64_t nchanges;        /* ranges following the result on the pipe */
  char message[1536];       /* perm_error() text when rc != 0 */
} perm_ckpt_result_t;

/*
** Forks; the child writes path atomically, and once it is durable lets go
** of the image locks locks[0, nlocks) (-1 entries are skipped): the
** parent's descriptors keep them held while it lives.  The caller holds
** api.c's lock.
*/
PERM_HIDDEN int perm__checkpoint_start(perm_ckpt_t *c, const char *path,
                                       const perm_ckpt_plan_t *plan,
                                       const int *locks, int nlocks);
/*
** Waits for the child's result (0 or -errno, message set).  With changes
** non-NULL, the pages the child changed are put there (tracked mode).
*/
PERM_HIDDEN int perm__checkpoint_finish(perm_ckpt_t *c, perm_ckpt_result_t *res,
                                        perm_ranges_t *changes);
/* Reaps the last successful child (waiting for it when wait is set). */
PERM_HIDDEN void perm__checkpoint_reap(perm_ckpt_t *c, int wait);

#endif /* PERM_CHECKPOINT_H */
