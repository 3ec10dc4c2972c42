/*
** checkpoint.c - an image of the running heap, written by a forked child.
**
** The parent's pause is the fork alone.  The child is single-threaded: it
** gives back every thread's cached objects (heap.c), purges freed pages so
** they are not written, writes the image to a temporary file and commits
** it (commit.c: NAME.tmp-R -> NAME, the NAME it replaces -> NAME.prev, the
** directory synced).  A crash at any instant leaves NAME and NAME.prev,
** each old or new, complete.  States of one checkpoint, as the parent
** sees them:
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
#include "registry.h"
#include "sys.h"

typedef struct ckpt_runs_s {
  perm_image_run_t *v;
  size_t n, cap;
} ckpt_runs_t;

static int ckpt_collect_run(void *arg, uint64_t addr, uint64_t len) {
  ckpt_runs_t *r = arg;
  if (r->n == r->cap) {
    size_t ncap = r->cap ? r->cap * 2 : 64;
    void *p = perm__trealloc(r->v, ncap * sizeof *r->v);
    if (p == NULL)
      return -ENOMEM;
    r->v = p;
    r->cap = ncap;
  }
  r->v[r->n++] = (perm_image_run_t){.addr = addr, .length = len};
  return 0;
}

static int ckpt_state_block(perm_image_writer_t *w, uint32_t code, char *lo,
                            char *hi) {
  if (lo == NULL || hi == NULL || hi < lo)
    return perm__errorf(EIO, "the runtime was linked without its state "
                             "sections; link libpermrt as documented");
  return perm__image_writer_state(w, code, lo, (size_t)(hi - lo));
}

/* Everything the child does; returns 0 or -errno with the message set. */
static int ckpt_child_write(const char *path, perm_commit_t *commit,
                            perm_ckpt_result_t *res) {
  perm__heap_child_quiesce();
  perm_saved_t *s = &perm__saved;
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
  uint64_t resident, mapped;
  perm__heap_stats(&w.hdr.heap_allocated, &w.hdr.heap_active, &resident,
                   &mapped);
  if (perm__registry_has_raw())
    w.hdr.flags |= PERM_IMAGE_F_RAW_GLOBALS;

  void *buf = NULL;
  size_t len = 0;
  ckpt_runs_t runs = {0};
  if ((rc = perm__objects_serialize(&buf, &len)) == 0) {
    rc = perm__image_writer_block(&w, PERM_BLOCK_OBJECTS, 0, 0, buf, len);
    perm__tfree(buf);
  }
  if (rc == 0 && (rc = perm__registry_serialize(&buf, &len)) == 0) {
    rc = perm__image_writer_block(&w, PERM_BLOCK_REGISTRY, 0, 0, buf, len);
    perm__tfree(buf);
  }
  if (rc == 0)
    rc = ckpt_state_block(&w, PERM_STATE_JEMALLOC_DATA, __start_permje_data,
                          __stop_permje_data);
  if (rc == 0)
    rc = ckpt_state_block(&w, PERM_STATE_JEMALLOC_BSS, __start_permje_bss,
                          __stop_permje_bss);
  if (rc == 0)
    rc = ckpt_state_block(&w, PERM_STATE_RUNTIME, __start_permrt_state,
                          __stop_permrt_state);
  if (rc == 0 &&
      perm__region_foreach_run(&s->region, ckpt_collect_run, &runs) != 0)
    rc = perm__errorf(ENOMEM, "out of memory listing region runs");
  if (rc == 0)
    rc = perm__image_writer_table(&w, PERM_BLOCK_RUNS, runs.v, runs.n,
                                  sizeof *runs.v);
  if (rc == 0)
    rc = perm__image_writer_region(&w, runs.v, runs.n);
  perm__tfree(runs.v);
  if (rc == 0)
    rc = perm__image_writer_finish(&w);
  if (rc != 0) {
    perm__image_writer_abort(&w);
    commit->tmp[0] = '\0';
    return rc;
  }
  if ((rc = perm__commit_finish(commit)) != 0)
    return rc;
  res->bytes = w.hdr.file_size;
  res->generation = s->generation;
  return 0;
}

int perm__checkpoint_start(perm_ckpt_t *c, const char *path,
                           const int *locks, int nlocks) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0)
    return perm__errorf_errno(errno, "checkpoint: cannot create a pipe");
  perm__heap_set_checkpoint_fork(1);
  uint64_t t0 = perm__now_ns();
  pid_t pid = perm__sys_fork();
  if (pid == 0) {
    /* The child.  Nothing it does may reach the persistent heap. */
    __atomic_store_n(&perm__dispatch.persistent, 0, __ATOMIC_RELAXED);
    close(fds[0]);
    perm_ckpt_result_t res;
    perm_commit_t commit;
    memset(&res, 0, sizeof res);
    res.rc = ckpt_child_write(path, &commit, &res);
    if (res.rc != 0)
      snprintf(res.message, sizeof res.message, "%s", perm__error_message());
    /* Durable (or failed): a writer that outlived its parent lets go. */
    for (int i = 0; i < nlocks; i++)
      if (locks[i] >= 0)
        close(locks[i]);
    ssize_t n = write(fds[1], &res, sizeof res);
    (void)n;
    close(fds[1]); /* the parent goes on */
    if (res.rc == 0)
      perm__commit_cleanup(&commit);
    _exit(res.rc == 0 ? 0 : 1);
  }
  uint64_t t1 = perm__now_ns();
  perm__heap_set_checkpoint_fork(0);
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
  c->pause_ns = t1 - t0;
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

int perm__checkpoint_finish(perm_ckpt_t *c, perm_ckpt_result_t *res) {
  memset(res, 0, sizeof *res);
  if (c->pid == 0)
    return 0;
  char *p = (char *)res;
  size_t got = 0;
  while (got < sizeof *res) {
    ssize_t n = read(c->fd, p + got, sizeof *res - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    got += (size_t)n;
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
  if (got == sizeof *res && w == pid && WIFEXITED(status)) {
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

