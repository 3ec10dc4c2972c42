/*
** checkpoint.c - an image of the running heap, written by a forked child.
**
** The parent's pause is the fork alone (and, in incremental mode, one scan
** of the page tables at its instant, track.c).  The child is
** single-threaded: it gives back every thread's cached objects (heap.c),
** purges freed pages so they are not written, writes the image to a
** temporary file and commits it (commit.c: NAME.tmp-R -> NAME, the NAME it
** replaces -> NAME.prev, the directory synced).  A crash at any instant
** leaves NAME and NAME.prev, each old or new, complete.
**
** A delta holds the pages that differ from its parent image: those the
** program wrote since (collected at the fork), those the previous child
** changed in its own copy (the parent image differs from the parent's
** memory there), and those this child changes.  In incremental mode every
** image, full or delta, also gets a chain member name (NAME.GEN-CHECKSUM)
** by which later deltas name it.
**
** States of one checkpoint, as the parent sees them:
**
**     IDLE --fork--> RUNNING --child reports 0--> IDLE (generation + 1)
**                           \--child fails/killed--> IDLE (error, old image)
**
** The child reports as soon as the image is durable, then frees what the
** commit replaced; the parent reaps it later (perm__checkpoint_reap).
*/
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checkpoint.h"
#include "commit.h"
#include "heap.h"
#include "image.h"
#include "objects.h"
#include "readback.h"
#include "registry.h"
#include "sys.h"

#define CKPT_MAX_CHANGES (1u << 20) /* ranges a child may report back */

/* What the parent collected at the fork, read by the child. */
typedef struct ckpt_fork_s {
  perm_ranges_t written; /* pages written since the last checkpoint */
  int status;            /* 0, or why they are not known (a full image) */
  int child_tracked;     /* in the child: its own writes are tracked */
  char child_why[256];   /* in the child: why they are not */
} ckpt_fork_t;

static ckpt_fork_t ckpt_fork;

static void ckpt_at_fork(void *arg) {
  (void)arg;
  ckpt_fork.status = perm__track_collect(perm__saved.region.top,
                                         &ckpt_fork.written);
}

/*
** First thing in the child: from here on its own writes to its copy are
** tracked as the parent's are, so the next delta can undo them (the child
** gives back every thread's cache, and jemalloc's lists are in the region).
*/
static void ckpt_at_child(void *arg) {
  (void)arg;
  const perm_region_t *r = &perm__saved.region;
  ckpt_fork.child_tracked =
      perm__track_start(r->base, r->capacity, r->top) == 0;
  if (!ckpt_fork.child_tracked)
    snprintf(ckpt_fork.child_why, sizeof ckpt_fork.child_why, "%s",
             perm__error_message());
}

static int ckpt_collect_run(void *arg, uint64_t addr, uint64_t len) {
  return perm__ranges_add(arg, addr, len);
}

static int ckpt_state_block(perm_image_writer_t *w, uint32_t code, char *lo,
                            char *hi) {
  if (lo == NULL || hi == NULL || hi < lo)
    return perm__errorf(EIO, "the runtime was linked without its state "
                             "sections; link libpermrt as documented");
  return perm__image_writer_state(w, code, lo, (size_t)(hi - lo));
}

/* Every block but the region data, which comes last. */
static int ckpt_write_meta(perm_image_writer_t *w, const perm_ranges_t *runs) {
  void *buf = NULL;
  size_t len = 0;
  int rc;
  if ((rc = perm__objects_serialize(&buf, &len)) == 0) {
    rc = perm__image_writer_block(w, PERM_BLOCK_OBJECTS, 0, 0, buf, len);
    perm__tfree(buf);
  }
  if (rc == 0 && (rc = perm__registry_serialize(&buf, &len)) == 0) {
    rc = perm__image_writer_block(w, PERM_BLOCK_REGISTRY, 0, 0, buf, len);
    perm__tfree(buf);
  }
  if (rc == 0)
    rc = ckpt_state_block(w, PERM_STATE_JEMALLOC_DATA, __start_permje_data,
                          __stop_permje_data);
  if (rc == 0)
    rc = ckpt_state_block(w, PERM_STATE_JEMALLOC_BSS, __start_permje_bss,
                          __stop_permje_bss);
  if (rc == 0)
    rc = ckpt_state_block(w, PERM_STATE_RUNTIME, __start_permrt_state,
                          __stop_permrt_state);
  if (rc == 0)
    rc = perm__image_writer_table(w, PERM_BLOCK_RUNS, runs->v, runs->n,
                                  sizeof *runs->v);
  return rc;
}

/*
** The pages this delta must hold: written by the program, changed by the
** previous child, changed by this one; only inside the runs handed out
** now (what lies outside no longer exists).
*/
static int ckpt_delta_pages(const perm_ckpt_plan_t *plan,
                            const perm_ranges_t *mine,
                            const perm_ranges_t *runs, perm_ranges_t *out) {
  if (perm__ranges_append(out, &ckpt_fork.written) != 0 ||
      (plan->child_prev != NULL &&
       perm__ranges_append(out, plan->child_prev) != 0) ||
      perm__ranges_append(out, mine) != 0)
    return perm__errorf(ENOMEM, "out of memory listing changed pages");
  perm__ranges_normalise(out);
  if (perm__ranges_clip(out, runs->v, runs->n) != 0)
    return perm__errorf(ENOMEM, "out of memory listing changed pages");
  return 0;
}

/* Everything the child does; returns 0 or -errno with the message set. */
static int ckpt_child_write(const char *path, const perm_ckpt_plan_t *plan,
                            perm_commit_t *commit, perm_ckpt_result_t *res,
                            perm_ranges_t *mine) {
  perm_saved_t *s = &perm__saved;
  int silent, stuck = perm__heap_fork_stuck(&silent);
  if (stuck != 0 && silent)
    return perm__errorf(EBUSY,
                        "thread %d did not answer in 2 s whether it was inside "
                        "the allocator (it blocks SIGRTMAX-1 by a means PERM "
                        "does not see, or is stopped; PERM_GATE=publish needs "
                        "no signal): no image was written, the last one is "
                        "kept",
                        stuck);
  if (stuck != 0)
    return perm__errorf(EBUSY,
                        "thread %d stayed inside the allocator for 2 s (stopped "
                        "by a debugger or a signal?): this copy of the heap "
                        "may be torn, so no image was written; the last one "
                        "is kept",
                        stuck);
  int tracked = plan->track && ckpt_fork.child_tracked;
  if (plan->track && !tracked)
    perm__verbose("checkpoint of '%s': %s", path, ckpt_fork.child_why);
  perm__heap_child_quiesce();
  /*
  ** The statistics before the child's changes are collected: jemalloc
  ** refreshes them in its own structures, which are in the region.  From
  ** the collection on, the child must not write the region: what it
  ** changes after is neither in this delta nor undone by the next.
  */
  uint64_t allocated, active, resident, mapped;
  perm__heap_stats(&allocated, &active, &resident, &mapped);
  int crc = tracked ? perm__track_collect(s->region.top, mine) : 0;
  if (crc != 0) {
    perm__verbose("checkpoint of '%s': its own changes: %s", path,
                  crc == -ESTALE ? "not all recorded" : strerror(-crc));
    tracked = 0;
  }
  res->tracked = tracked;
  int delta = plan->delta && tracked && ckpt_fork.status == 0;
  if (plan->delta && !delta)
    perm__verbose("checkpoint of '%s': a full image, since %s", path,
                  !tracked ? "this copy's own changes are not tracked"
                  : ckpt_fork.status == -ESTALE
                      ? "some changes since the last image were not recorded"
                      : "the changes since the last image could not be read");
  s->generation++;

  int rc = perm__commit_begin(commit, path);
  if (rc != 0)
    return rc;
  perm_image_writer_t w;
  perm__image_writer_init(&w, commit->fd, commit->tmp);
  commit->fd = -1; /* the writer closes it */
  w.hdr.generation = s->generation;
  w.hdr.heap_id = s->heap_id;
  w.hdr.region_base = s->region.base;
  w.hdr.region_capacity = s->region.capacity;
  w.hdr.region_top = s->region.top;
  snprintf(w.hdr.jemalloc_version, sizeof w.hdr.jemalloc_version, "%s",
           perm__heap_version());
  w.hdr.heap_allocated = allocated;
  w.hdr.heap_active = active;
  if (perm__registry_has_raw())
    w.hdr.flags |= PERM_IMAGE_F_RAW_GLOBALS;
  char parent[4200];
  if (delta) {
    rc = perm__chain_member_name(path, plan->parent_generation,
                                 plan->parent_checksum, parent,
                                 sizeof parent);
    if (rc == 0 &&
        perm__commit_keep_parent(path, parent, plan->parent_checksum) != 0) {
      /* NAME is not our parent any more: a full image is always right. */
      perm__verbose("checkpoint of '%s': %s; writing a full image", path,
                    perm__error_message());
      delta = 0;
    }
    if (rc == 0 && delta) {
      const char *slash = strrchr(parent, '/');
      w.hdr.flags |= PERM_IMAGE_F_DELTA;
      w.hdr.parent_generation = plan->parent_generation;
      w.hdr.parent_checksum = plan->parent_checksum;
      w.hdr.chain_length = plan->parent_chain + 1;
      w.hdr.bytes_dirtied = perm__ranges_bytes(&ckpt_fork.written);
      snprintf(w.hdr.parent_name, sizeof w.hdr.parent_name, "%s",
               slash ? slash + 1 : parent);
    }
  }

  perm_ranges_t runs = {0}, pages = {0};
  if (rc == 0 &&
      perm__region_foreach_run(&s->region, ckpt_collect_run, &runs) != 0)
    rc = perm__errorf(ENOMEM, "out of memory listing region runs");
  if (rc == 0)
    rc = ckpt_write_meta(&w, &runs);
  if (rc == 0 && delta)
    rc = ckpt_delta_pages(plan, mine, &runs, &pages);
  if (rc == 0)
    rc = delta ? perm__image_writer_delta(&w, pages.v, pages.n)
               : perm__image_writer_region(&w, runs.v, runs.n);
  perm__ranges_free(&pages);
  if (rc == 0)
    rc = perm__image_writer_finish(&w);
  if (rc != 0) {
    perm__ranges_free(&runs);
    perm__image_writer_abort(&w);
    commit->tmp[0] = '\0';
    return rc;
  }
  if (plan->readback &&
      (rc = perm__readback_check(commit->tmp, path, &runs)) != 0) {
    perm__ranges_free(&runs);
    perm__commit_abort(commit);
    return rc;
  }
  perm__ranges_free(&runs);
  if (plan->track)
    rc = perm__chain_member_name(path, w.hdr.generation, w.hdr.header_checksum,
                                 commit->member, sizeof commit->member);
  if (rc == 0)
    rc = perm__commit_finish(commit);
  if (rc != 0 && !commit->committed)
    return rc;
  /* Committed (rc 0, or the image stays though its durability is not known). */
  res->committed = 1;
  res->bytes = w.hdr.file_size;
  res->generation = s->generation;
  res->header_checksum = w.hdr.header_checksum;
  res->chain_length = w.hdr.chain_length;
  res->data_bytes = w.hdr.data_bytes;
  res->bytes_dirtied = w.hdr.bytes_dirtied;
  res->delta = delta;
  return rc;
}

/* All of buf down the pipe; a reader gone is the parent's problem. */
static int ckpt_write(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

static void ckpt_child(int fd, const char *path, const perm_ckpt_plan_t *plan,
                       const int *locks, int nlocks) {
  perm_ckpt_result_t res;
  perm_commit_t commit;
  perm_ranges_t mine = {0};
  /*
  ** A parent that stops reading (it has the result it needs, or no memory
  ** for the changes) must not kill us by SIGPIPE: the error it read would
  ** be lost to "killed by signal 13", and a committed image would not be
  ** cleaned up.  A write to the closed pipe fails with EPIPE instead.
  */
  signal(SIGPIPE, SIG_IGN);
  memset(&res, 0, sizeof res);
  memset(&commit, 0, sizeof commit);
  res.rc = ckpt_child_write(path, plan, &commit, &res, &mine);
  if (res.rc != 0)
    snprintf(res.message, sizeof res.message, "%s", perm__error_message());
  /* Durable (or failed): a writer that outlived its parent lets go. */
  for (int i = 0; i < nlocks; i++)
    if (locks[i] >= 0)
      close(locks[i]);
  /* The changes matter only to a next delta, so only after a success. */
  if (res.rc == 0 && res.tracked && mine.n <= CKPT_MAX_CHANGES)
    res.nchanges = mine.n;
  else
    res.tracked = 0;
  if (ckpt_write(fd, &res, sizeof res) == 0 && res.nchanges > 0)
    ckpt_write(fd, mine.v, res.nchanges * sizeof *mine.v);
  close(fd); /* the parent goes on */
  if (res.committed)
    perm__commit_cleanup(&commit);
  _exit(res.rc == 0 ? 0 : 1);
}

int perm__checkpoint_start(perm_ckpt_t *c, const char *path,
                           const perm_ckpt_plan_t *plan, const int *locks,
                           int nlocks) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0)
    return perm__errorf_errno(errno, "checkpoint: cannot create a pipe");
  perm__ranges_free(&ckpt_fork.written);
  ckpt_fork.status = -ESTALE;
  ckpt_fork.child_tracked = 0;
  perm__heap_set_checkpoint_fork(1, plan->track ? ckpt_at_fork : NULL,
                                 plan->track ? ckpt_at_child : NULL, NULL);
  uint64_t t0 = perm__now_ns();
  pid_t pid = perm__sys_fork();
  if (pid == 0) {
    /* The child.  Nothing it does may reach the persistent heap. */
    __atomic_store_n(&perm__dispatch.persistent, 0, __ATOMIC_RELAXED);
    close(fds[0]);
    ckpt_child(fds[1], path, plan, locks, nlocks);
  }
  uint64_t t1 = perm__now_ns();
  perm__heap_set_checkpoint_fork(0, NULL, NULL, NULL);
  perm__ranges_free(&ckpt_fork.written); /* the child has its copy */
  if (pid < 0) {
    int err = errno;
    close(fds[0]);
    close(fds[1]);
    return perm__errorf_errno(err, "checkpoint of '%s': cannot fork", path);
  }
  close(fds[1]);
  c->pid = pid;
  c->fd = fds[0];
  c->start_ns = t0;
  /*
  ** The program is stopped until the gate opens.  The threads it releases
  ** may then take the caller's CPU (on 2 CPUs, two allocating threads and
  ** the child made the call 1.5-9 ms longer than the gate was closed), and
  ** that is the program running, not paused: the caller's own wait is the
  ** call's duration.
  */
  uint64_t opened = perm__heap_fork_opened_ns();
  c->pause_ns = (opened > t0 && opened < t1 ? opened : t1) - t0;
  c->threads_waited = perm__heap_fork_waited();
  return 0;
}

/* Reaps a child that reported success and went on cleaning up. */
void perm__checkpoint_reap(perm_ckpt_t *c, int wait) {
  if (c->done_pid == 0)
    return;
  pid_t w;
  do
    w = waitpid(c->done_pid, NULL, wait ? 0 : WNOHANG);
  while (w < 0 && errno == EINTR);
  if (w != 0) /* reaped, or reaped by someone else */
    c->done_pid = 0;
}

static size_t ckpt_read(int fd, void *buf, size_t len) {
  char *p = buf;
  size_t got = 0;
  while (got < len) {
    ssize_t n = read(fd, p + got, len - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    got += (size_t)n;
  }
  return got;
}

int perm__checkpoint_finish(perm_ckpt_t *c, perm_ckpt_result_t *res,
                            perm_ranges_t *changes) {
  memset(res, 0, sizeof *res);
  if (c->pid == 0)
    return 0;
  size_t got = ckpt_read(c->fd, res, sizeof *res);
  if (got == sizeof *res && res->rc == 0 && res->tracked && changes != NULL) {
    perm__ranges_free(changes);
    if (res->nchanges > CKPT_MAX_CHANGES ||
        (changes->v = perm__tmalloc((res->nchanges ? res->nchanges : 1) *
                                    sizeof *changes->v)) == NULL ||
        ckpt_read(c->fd, changes->v, res->nchanges * sizeof *changes->v) !=
            res->nchanges * sizeof *changes->v) {
      perm__ranges_free(changes);
      res->tracked = 0;
    } else {
      changes->n = changes->cap = res->nchanges;
    }
  }
  close(c->fd);
  pid_t pid = c->pid;
  c->pid = 0;
  c->fd = -1;
  if (got == sizeof *res && res->rc == 0) {
    /* Durable: the child may still be freeing the replaced generation. */
    perm__checkpoint_reap(c, 1); /* an earlier one, long done */
    c->done_pid = pid;
    perm__checkpoint_reap(c, 0);
    return 0;
  }
  int status = 0;
  pid_t w;
  do
    w = waitpid(pid, &status, 0);
  while (w < 0 && errno == EINTR);
  /*
  ** The result came whole: it holds whatever became of the child after
  ** sending it (reaped by someone else, or a signal once it was written).
  */
  if (got == sizeof *res) {
    res->message[sizeof res->message - 1] = '\0';
    perm__error_set_raw(res->message);
    return res->rc;
  }
  if (w == pid && WIFSIGNALED(status))
    return perm__errorf(EIO,
                        "the checkpoint process %d was killed by signal %d "
                        "(%s); the previous image is intact",
                        (int)pid, WTERMSIG(status),
                        strsignal(WTERMSIG(status)));
  if (w < 0 && errno == ECHILD)
    return perm__errorf(ECHILD,
                        "the checkpoint process %d was reaped by someone else "
                        "(a SIGCHLD handler or waitpid(-1)?); its result is "
                        "unknown, check the image with 'perm check'",
                        (int)pid);
  return perm__errorf(EIO, "the checkpoint process %d failed without a result",
                      (int)pid);
}
