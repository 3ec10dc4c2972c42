/*
** checkpoint.h - writing an image of the running heap from a forked child.
*/
#ifndef PERM_CHECKPOINT_H
#define PERM_CHECKPOINT_H

#include <stdint.h>
#include <sys/types.h>

#include "perm_internal.h"

typedef struct perm_ckpt_s {
  pid_t pid;         /* the child writing the image, 0 = none */
  pid_t done_pid;    /* a child that reported success, not reaped yet */
  int fd;            /* read end of the child's result pipe */
  uint64_t start_ns; /* when fork was called */
  uint64_t pause_ns; /* how long fork stopped the caller */
} perm_ckpt_t;

typedef struct perm_ckpt_result_s {
  int rc;              /* 0 or -errno */
  uint64_t bytes;      /* apparent size of the image */
  uint64_t generation; /* the generation the image holds */
  char message[1536];  /* perm_error() text when rc != 0 */
} perm_ckpt_result_t;

/*
** Forks; the child writes path atomically, and once it is durable lets go
** of the image locks locks[0, nlocks) (-1 entries are skipped): the
** parent's descriptors keep them held while it lives.  The caller holds
** api.c's lock.
*/
PERM_HIDDEN int perm__checkpoint_start(perm_ckpt_t *c, const char *path,
                                       const int *locks, int nlocks);
/* Waits for the child and returns its result (0 or -errno, message set). */
PERM_HIDDEN int perm__checkpoint_finish(perm_ckpt_t *c,
                                        perm_ckpt_result_t *res);
/* Reaps the last successful child (waiting for it when wait is set). */
PERM_HIDDEN void perm__checkpoint_reap(perm_ckpt_t *c, int wait);

#endif /* PERM_CHECKPOINT_H */
