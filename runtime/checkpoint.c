/*
** checkpoint.c - an image of the running heap, written by a forked child.
**
** The parent's pause is the fork alone.  The child is single-threaded: it
** gives back every thread's cached objects (heap.c), purges freed pages so
** they are not written, and writes the image with the commit protocol:
**
**     NAME.tmp-PID  --write, fsync-->  (NAME -> NAME.prev by hard link)
**                   --rename-->  NAME  --fsync the directory-->  durable
**
** A crash at any instant leaves a complete NAME, old or new.  States of one
** checkpoint, as seen by the parent:
**
**     IDLE --fork--> RUNNING --child exits 0--> IDLE (generation + 1)
**                           \--child fails/killed--> IDLE (error, old image)
*/
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checkpoint.h"
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
  return perm__image_writer_block(w, PERM_BLOCK_STATE, code, (uint64_t)lo, lo,
                                  (size_t)(hi - lo));
}

static int ckpt_fsync_dir(const char *path) {
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", path);
  const char *dir = dirname(buf);
  int fd = perm__sys_open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (fd < 0)
    return perm__errorf_errno(errno,
                              "cannot open the directory '%s' to make "
                              "the image durable",
                              dir);
  int rc = perm__sys_fsync(fd) == 0 ? 0 : -errno;
  close(fd);
  if (rc != 0)
    return perm__errorf_errno(-rc, "cannot fsync the directory '%s'", dir);
  return 0;
}

/* Everything the child does; returns 0 or -errno with the message set. */
static int ckpt_child_write(const char *path, perm_ckpt_result_t *res) {
  perm__heap_child_quiesce();
  perm_saved_t *s = &perm__saved;
  s->generation++;

  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp-%d", path, (int)getpid());
  perm_image_writer_t w;
  int rc = perm__image_writer_open(&w, tmp);
  if (rc != 0)
    return rc;
  w.hdr.generation = s->generation;
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
    rc = perm__image_writer_region(&w, s->region.base, s->region.top, runs.v,
                                   runs.n);
  perm__tfree(runs.v);
  if (rc == 0)
    rc = perm__image_writer_finish(&w);
  if (rc != 0) {
    perm__image_writer_abort(&w);
    return rc;
  }

  /* Commit: keep the last good image as NAME.prev, then switch atomically. */
  char prev[4200];
  snprintf(prev, sizeof prev, "%s.prev", path);
  if (perm__sys_unlink(prev) != 0 && errno != ENOENT) {
    rc = perm__errorf_errno(errno, "cannot replace '%s'", prev);
  } else if (perm__sys_link(path, prev) != 0 && errno != ENOENT) {
    rc = perm__errorf_errno(errno, "cannot keep the previous image as '%s'",
                            prev);
  } else if (perm__sys_rename(tmp, path) != 0) {
    rc = perm__errorf_errno(errno, "cannot rename '%s' to '%s'", tmp, path);
  }
  if (rc != 0) {
    perm__sys_unlink(tmp);
    return rc;
  }
  rc = ckpt_fsync_dir(path);
  res->bytes = w.hdr.file_size;
  res->generation = s->generation;
  return rc;
}

int perm__checkpoint_start(perm_ckpt_t *c, const char *path) {
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
    memset(&res, 0, sizeof res);
    res.rc = ckpt_child_write(path, &res);
    if (res.rc != 0)
      snprintf(res.message, sizeof res.message, "%s", perm__error_message());
    ssize_t n = write(fds[1], &res, sizeof res);
    (void)n;
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
  int status = 0;
  pid_t w;
  do
    w = waitpid(c->pid, &status, 0);
  while (w < 0 && errno == EINTR);
  pid_t pid = c->pid;
  c->pid = 0;
  c->fd = -1;
  if (got == sizeof *res && w == pid && WIFEXITED(status)) {
    if (res->rc != 0)
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

/* A killed writer may linger as a zombie until its reaper gets to it. */
static int ckpt_writer_alive(pid_t pid) {
  if (kill(pid, 0) != 0 && errno == ESRCH)
    return 0;
  char path[64], buf[256];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0)
    return 1;
  buf[n] = '\0';
  const char *rp = strrchr(buf, ')'); /* the name may contain spaces */
  return !(rp != NULL && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X'));
}

void perm__checkpoint_clean_stale(const char *path) {
  char buf[4096], base[4096];
  snprintf(buf, sizeof buf, "%s", path);
  snprintf(base, sizeof base, "%s", path);
  const char *dir = dirname(buf);
  const char *name = basename(base);
  DIR *d = opendir(dir);
  if (d == NULL)
    return;
  size_t nl = strlen(name);
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strncmp(e->d_name, name, nl) != 0 ||
        strncmp(e->d_name + nl, ".tmp-", 5) != 0)
      continue;
    char *end;
    long pid = strtol(e->d_name + nl + 5, &end, 10);
    if (*end != '\0' || pid <= 0)
      continue;
    if (ckpt_writer_alive((pid_t)pid))
      continue; /* its writer may still be running */
    unlinkat(dirfd(d), e->d_name, 0);
  }
  closedir(d);
}
