/*
** api.c - the public perm_* functions: modes, the open/closed state, and the
** conversion of internal errors (-errno + message) to -1 with errno set.
**
** States:   CLOSED --perm_open--> OPEN --perm_close--> CLOSED
** A heap, once created or restored, lives until the process ends; closing
** only stops plain malloc from reaching it and forgets the image path.
*/
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../include/perm.h"
#include "checkpoint.h"
#include "collapse.h"
#include "commit.h"
#include "config.h"
#include "heap.h"
#include "lock.h"
#include "region.h"
#include "registry.h"
#include "restore.h"
#include "track.h"

#define PERM_EXPORT __attribute__((visibility("default")))

typedef enum api_access_e {
  API_NEW,
  API_RESTORE,
  API_READONLY,
  API_APPEND
} api_access_t;

typedef struct api_mode_s {
  api_access_t access;
  int explicit_alloc; /* "x": only perm_malloc & co. persist */
  int eager;          /* "e": read the whole image at open */
  int shared;         /* "s": another program of the application may have
                         written the image */
  int incremental;    /* "i": checkpoints write deltas where they can */
} api_mode_t;

/*
** Incremental checkpoints of the open image: the image the next delta
** would change, and what the last checkpoint child changed in its copy.
*/
typedef struct api_chain_s {
  int tracking;    /* the kernel tracks writes to the region (track.c) */
  int have_parent; /* every change since the image below is tracked */
  uint64_t parent_generation, parent_checksum;
  uint64_t chain_length; /* of the image below */
  uint64_t chain_bytes;  /* region data in its deltas */
  uint64_t base_bytes;   /* region data in its full image */
  uint64_t max_length;   /* PERM_CHAIN_MAX */
  double max_ratio;      /* PERM_CHAIN_RATIO */
  perm_ranges_t child_changes;
  int told; /* the fallback to full images was reported */
} api_chain_t;

typedef struct api_s {
  pthread_mutex_t lock; /* Synchronizes everything below. */
  int open;
  int writable;
  int restored;
  api_mode_t mode;
  char *path;       /* the image, transient memory */
  int lock_fd;      /* its lock (lock.c) while open for writing, else -1 */
  int trust;        /* PERM_TRUST_IMAGE at perm_open: others' lock files */
  pid_t owner;      /* the process holding lock_fd */
  int forking;      /* a checkpoint's fork is under way: the child keeps
                       the lock */
  int atfork;       /* api_fork_child is installed */
  perm_ckpt_t ckpt; /* the checkpoint in flight, if any */
  char *ckpt_path;
  int ckpt_main;    /* it writes the open image (not a backup) */
  api_chain_t chain;
  int readback;     /* PERM_READBACK=1 at perm_open */
  int collapse;     /* PERM_COLLAPSE at perm_open (config.h) */
  perm_collapser_t collapser; /* its worker, PERM_COLLAPSE_BACKGROUND */
  uint64_t last_pause_ns, last_duration_ns, last_bytes;
  uint64_t last_dirtied, last_data;
  int last_delta;
  int last_threads_waited;
} api_t;

static api_t api = {.lock = PTHREAD_MUTEX_INITIALIZER,
                    .lock_fd = -1,
                    .ckpt = {.fd = -1},
                    .collapser = PERM_COLLAPSER_INIT};

/* Public failure: message already set by the callee; errno from rc. */
static int api_fail(int rc) {
  errno = rc < 0 ? -rc : EIO;
  return -1;
}

static int api_parse_mode(const char *s, api_mode_t *m) {
  memset(m, 0, sizeof *m);
  if (s == NULL || *s == '\0')
    return perm__errorf(EINVAL, "perm_open: the mode is empty; use \"w+\", "
                                "\"r+\", \"r\" or \"a+\" (plus x, e, s, i)");
  const char *p = s;
  switch (*p++) {
  case 'w':
    m->access = API_NEW;
    break;
  case 'a':
    m->access = API_APPEND;
    break;
  case 'r':
    m->access = API_READONLY;
    break;
  default:
    return perm__errorf(EINVAL,
                        "perm_open: bad mode \"%s\": it starts with "
                        "'%c'; use w, r or a, then optional + x e s i",
                        s, *s);
  }
  if (*p == '+') {
    p++;
    if (m->access == API_READONLY)
      m->access = API_RESTORE;
  }
  for (; *p; p++) {
    if (*p == 'x' && !m->explicit_alloc)
      m->explicit_alloc = 1;
    else if (*p == 'e' && !m->eager)
      m->eager = 1;
    else if (*p == 's' && !m->shared)
      m->shared = 1;
    else if (*p == 'i' && !m->incremental)
      m->incremental = 1;
    else
      return perm__errorf(EINVAL,
                          "perm_open: bad mode \"%s\": unexpected "
                          "'%c' at position %d; modifiers are x (explicit "
                          "allocation), e (eager restore), s (shared with "
                          "other programs) and i (incremental checkpoints), "
                          "once each",
                          s, *p, (int)(p - s) + 1);
  }
  return 0;
}

static int api_wait_locked(void) {
  if (api.ckpt.pid == 0)
    return 0;
  perm_ckpt_result_t res;
  api_chain_t *ch = &api.chain;
  int rc = perm__checkpoint_finish(&api.ckpt, &res,
                                   api.ckpt_main ? &ch->child_changes : NULL);
  api.last_duration_ns = perm__now_ns() - api.ckpt.start_ns;
  api.last_pause_ns = api.ckpt.pause_ns;
  api.last_threads_waited = api.ckpt.threads_waited;
  /* The child is done with the shared pages: huge ones again (collapse.c). */
  int collapse = api.collapse;
  int crc = collapse == PERM_COLLAPSE_BACKGROUND && api.ckpt_main
                ? perm__collapse_request(&api.collapser, &perm__saved.region)
                : 0;
  if (crc != 0) {
    perm__verbose("checkpoint of '%s': no thread to collapse huge pages "
                  "(%s); collapsing them on this one",
                  api.ckpt_path ? api.ckpt_path : "?", strerror(-crc));
    api.collapse = collapse = PERM_COLLAPSE_SYNC;
  }
  if (collapse == PERM_COLLAPSE_SYNC && api.ckpt_main) {
    uint64_t t0 = perm__now_ns();
    uint64_t n = perm__collapse_region(&perm__saved.region);
    if (n > 0)
      perm__verbose("checkpoint of '%s': %" PRIu64 " huge pages split while "
                    "it was written are whole again (%.1f ms)",
                    api.ckpt_path ? api.ckpt_path : "?", n,
                    (double)(perm__now_ns() - t0) / 1e6);
  }
  /*
  ** An image that took NAME's place is this generation's even if its commit
  ** then failed (res.committed: not known to be durable): the next one must
  ** not write the same generation again, as NAME.prev would then hold it.
  */
  if (rc == 0 || res.committed) {
    api.last_bytes = res.bytes;
    api.last_dirtied = res.bytes_dirtied;
    api.last_data = res.data_bytes;
    api.last_delta = res.delta;
    if (res.generation > perm__saved.generation)
      perm__saved.generation = res.generation;
  }
  if (api.ckpt_main) {
    /* The next delta changes this image, if every change since is known. */
    ch->have_parent = rc == 0 && ch->tracking && res.tracked;
    if (rc == 0) {
      ch->parent_generation = res.generation;
      ch->parent_checksum = res.header_checksum;
      ch->chain_length = res.chain_length;
      if (res.delta) {
        ch->chain_bytes += res.data_bytes;
      } else {
        ch->chain_bytes = 0;
        ch->base_bytes = res.data_bytes;
      }
    }
    if (!ch->have_parent)
      perm__ranges_free(&ch->child_changes);
  }
  perm__tfree(api.ckpt_path);
  api.ckpt_path = NULL;
  return rc;
}

/* Incremental checkpoints: PERM_INCREMENTAL, else the mode letter i. */
static int api_chain_wanted(const perm_config_t *cfg, int want) {
  return cfg->incremental > 0 || (cfg->incremental < 0 && want);
}

/*
** Starts tracking writes for incremental checkpoints, or says once why
** checkpoints will be full images.
*/
static void api_chain_start(const perm_config_t *cfg, int want,
                            const perm_restore_info_t *restored) {
  api_chain_t *ch = &api.chain;
  /* Started by the restore at the instant the memory was the image's. */
  int since_restore = restored != NULL && perm__track_active();
  if (!since_restore)
    perm__track_stop();
  perm__ranges_free(&ch->child_changes);
  ch->tracking = ch->have_parent = 0;
  ch->max_length = cfg->chain_max;
  ch->max_ratio = cfg->chain_ratio;
  if (!api_chain_wanted(cfg, want)) {
    perm__track_stop();
    return;
  }
  const perm_region_t *r = &perm__saved.region;
  if (!since_restore && perm__track_start(r->base, r->capacity, r->top) != 0) {
    if (!ch->told)
      perm__verbose("incremental checkpoints are not available (%s): every "
                    "checkpoint writes a full image",
                    perm__error_message());
    ch->told = 1;
    return;
  }
  ch->tracking = 1;
  /*
  ** The next delta changes the restored image only if every change since
  ** it was loaded is known: tracking started by the restore itself.
  */
  if (!since_restore)
    return;
  ch->have_parent = 1;
  ch->parent_generation = restored->generation;
  ch->parent_checksum = restored->header_checksum;
  ch->chain_length = restored->chain_length;
  ch->chain_bytes = restored->chain_bytes;
  ch->base_bytes = restored->base_bytes;
}

/* A delta, unless the chain is long or large enough to fold (compact). */
static int api_chain_wants_delta(void) {
  const api_chain_t *ch = &api.chain;
  return ch->have_parent && ch->chain_length < ch->max_length &&
         (double)ch->chain_bytes <= ch->max_ratio * (double)ch->base_bytes;
}

/*
** glibc allocates stdout's buffer at the first output.  Once the heap is
** persistent that buffer would land in it, and every run would leak one into
** the image; give stdout a transient buffer now, with glibc's own choice of
** buffering, unless the program already wrote or chose one.
*/
static void api_prepare_stdio(void) {
  if (stdout->_IO_buf_base != NULL)
    return;
  char *buf = perm__tmalloc(BUFSIZ);
  if (buf != NULL)
    setvbuf(stdout, buf, isatty(STDOUT_FILENO) ? _IOLBF : _IOFBF, BUFSIZ);
}

/*
** A child forked by the program shares the heap but not the image: it lets
** go of the lock (so the image is free once the parent is done), and takes
** it again only if it checkpoints once the parent has let go (a daemon that
** forked after perm_open).  A checkpoint's own child keeps the lock until
** its image is committed.  Runs in the child with api.lock held by the
** forking thread, or free: the fields are only read here.
*/
static void api_fork_child(void) {
  if (api.forking)
    return;
  /* Its memory is its own: tracked by nobody, so its images are full. */
  perm__track_stop();
  api.chain.tracking = api.chain.have_parent = 0;
  if (api.lock_fd >= 0)
    close(api.lock_fd);
  api.lock_fd = -1;
}

/* The lock of the open image, taken (again) by this process if needed. */
static int api_own_image(void) {
  if (api.lock_fd >= 0 && api.owner == getpid())
    return 0;
  int fd = perm__lock_image(api.path, api.trust);
  if (fd < 0) {
    /* The lock's message (the holder's name) is quoted: copied aside. */
    char why[2048];
    snprintf(why, sizeof why, "%s", perm__error_message());
    return perm__errorf(-fd,
                        "checkpoint of '%s' from process %d, forked from the "
                        "one that opened it: %s",
                        api.path, (int)getpid(), why);
  }
  api.lock_fd = fd;
  api.owner = getpid();
  return 0;
}

static void api_report_restore(const char *path) {
  perm_restore_counts_t c;
  perm__registry_counts(&c);
  perm__verbose("restored '%s': generation %llu, %llu globals restored, "
                "%llu new, %llu dropped",
                path, (unsigned long long)perm__saved.generation,
                (unsigned long long)c.restored, (unsigned long long)c.fresh,
                (unsigned long long)c.dropped);
}

int perm__open_started(void) {
  char msg[1024];
  if (perm__registry_end_startup(msg, sizeof msg) != 0) {
    perm__error_set_raw(msg);
    return -EINVAL;
  }
  pthread_mutex_lock(&api.lock);
  if (api.open && api.restored)
    api_report_restore(api.path);
  pthread_mutex_unlock(&api.lock);
  return 0;
}

PERM_EXPORT int perm_open(const char *path, const char *mode) {
  return perm__open(path, mode, 0, 0);
}

/* libpermrt.a: every program that opens an image gets aslr.c's re-exec. */
__attribute__((used)) static const int *const api_needs_aslr =
    &perm__aslr_linked;

int perm__open(const char *path, const char *mode, uint64_t capacity,
               unsigned flags) {
  perm__error_clear();
  api_mode_t m;
  int rc = api_parse_mode(mode, &m);
  if (rc != 0)
    return api_fail(rc);
  if (path == NULL || *path == '\0')
    return api_fail(perm__errorf(EINVAL, "perm_open: the image path is empty"));
  perm_config_t cfg;
  if ((rc = perm__config_load(&cfg)) != 0)
    return api_fail(rc);
  if (capacity != 0)
    cfg.size = (capacity + PERM_REGION_HUGE - 1) & ~(PERM_REGION_HUGE - 1);

  pthread_mutex_lock(&api.lock);
  if (api.open) {
    rc = perm__errorf(EALREADY,
                      "perm_open('%s'): '%s' is already open; "
                      "perm_close it first",
                      path, api.path);
    goto out;
  }
  struct stat st;
  int exists = lstat(path, &st) == 0;
  if (exists && (rc = perm__commit_check_target(path, "perm_open")) != 0)
    goto out;
  int restoring = exists && m.access != API_NEW;
  if (!exists && (m.access == API_RESTORE || m.access == API_READONLY)) {
    rc = perm__errorf(ENOENT,
                      "perm_open('%s', \"%s\"): the image does not "
                      "exist; use mode \"a+\" to create it when missing, or "
                      "\"w+\" for a new heap",
                      path, mode);
    goto out;
  }
  /* One writer at a time; it then owns the debris of earlier crashes. */
  int lock_fd = -1;
  perm_restore_info_t info;
  if (m.access != API_READONLY) {
    lock_fd = perm__lock_image(path, cfg.trust_image);
    if (lock_fd < 0) {
      rc = lock_fd;
      goto out;
    }
    perm__commit_recover(path);
  }
  if (restoring) {
    perm_restore_opts_t o = {.verify_full = cfg.verify_full,
                             .allow_rebuild = cfg.allow_rebuild,
                             .eager = cfg.eager || m.eager,
                             .shared = m.shared || (flags & PERM_OPEN_SHARED),
                             .startup = (flags & PERM_OPEN_STARTUP) != 0,
                             .trust = cfg.trust_image,
                             .track = m.access != API_READONLY &&
                                      api_chain_wanted(&cfg, m.incremental)};
    perm_restore_counts_t counts;
    rc = perm__restore(path, &o, &counts, &info);
    if (rc == 0 && !(flags & PERM_OPEN_STARTUP))
      api_report_restore(path);
  } else if (!perm__heap_ready()) {
    rc = perm__heap_create(cfg.address, cfg.size);
  }
  if (rc != 0) {
    perm__track_stop(); /* a restore may have started it */
    perm__unlock_image(lock_fd);
    goto out;
  }
  if (m.access != API_READONLY)
    api_chain_start(&cfg, m.incremental, restoring ? &info : NULL);
  if (!api.atfork) {
    pthread_atfork(NULL, NULL, api_fork_child);
    api.atfork = 1;
  }
  api.lock_fd = lock_fd;
  api.readback = cfg.readback;
  api.collapse = cfg.collapse;
  api.owner = getpid();
  api.trust = cfg.trust_image;
  api.path = perm__tstrdup(path);
  if (api.path == NULL) {
    rc = perm__errorf(ENOMEM, "perm_open: out of memory");
    goto out;
  }
  api.mode = m;
  api.open = 1;
  api.restored = restoring;
  api.writable = m.access != API_READONLY;
  perm__registry_set_open(1);
  api_prepare_stdio();
  perm__interpose_init();
  __atomic_store_n(&perm__dispatch.persistent, !m.explicit_alloc,
                   __ATOMIC_RELAXED);
out:
  pthread_mutex_unlock(&api.lock);
  return rc == 0 ? 0 : api_fail(rc);
}

PERM_EXPORT int perm_restored(void) {
  pthread_mutex_lock(&api.lock);
  int r = api.restored;
  pthread_mutex_unlock(&api.lock);
  return r;
}

/*
** The background collapse ends its pass (collapse.c): before a fork, whose
** child would share what it copies, and before the region is replaced.
*/
static void api_collapse_hold(const char *why) {
  uint64_t units, ns;
  perm__collapse_hold(&api.collapser, &units, &ns);
  if (units > 0)
    perm__verbose("%s: the last background collapse made %" PRIu64 " huge "
                  "pages whole again (%.1f ms)",
                  why, units, (double)ns / 1e6);
}

static int api_checkpoint(const char *target, int async) {
  perm__error_clear();
  pthread_mutex_lock(&api.lock);
  int rc = 0;
  if (!perm__heap_ready()) {
    rc = perm__errorf(EBADF,
                      "checkpoint: no persistent heap; call perm_open first");
    goto out;
  }
  if (target == NULL) {
    if (!api.open) {
      rc =
          perm__errorf(EBADF, "perm_checkpoint: no image is open; call "
                              "perm_open first (or perm_checkpoint_to a path)");
      goto out;
    }
    if (!api.writable) {
      rc = perm__errorf(EROFS,
                        "perm_checkpoint: '%s' was opened read-only "
                        "(mode \"r\"); open it with \"r+\" to update it, or "
                        "use perm_checkpoint_to another path",
                        api.path);
      goto out;
    }
    target = api.path;
  }
  if ((rc = api_wait_locked()) != 0)
    goto out; /* the previous one failed: say so before starting another */
  int target_lock = -1;
  if (api.open && strcmp(target, api.path) == 0) {
    if ((rc = api_own_image()) != 0)
      goto out;
  } else {
    /*
    ** A backup (perm_checkpoint_to): never through a symbolic link, which
    ** the commit would replace by the image and keep as NAME.prev (checked
    ** here, before its lock file is made, and again by the commit).
    */
    if ((rc = perm__commit_check_target(target, "perm_checkpoint_to")) != 0)
      goto out;
    /* Locked while it is written. */
    target_lock = perm__lock_image(target, api.trust);
    if (target_lock < 0) {
      rc = target_lock;
      goto out;
    }
    perm__commit_recover(target);
  }
  char *copy = perm__tstrdup(target);
  if (copy == NULL) {
    perm__unlock_image(target_lock);
    rc = perm__errorf(ENOMEM, "checkpoint: out of memory");
    goto out;
  }
  int locks[2] = {api.owner == getpid() ? api.lock_fd : -1, target_lock};
  perm_ckpt_plan_t plan = {0};
  api.ckpt_main = target_lock < 0;
  if (api.ckpt_main && api.chain.tracking) {
    plan.track = 1;
    plan.delta = api_chain_wants_delta();
    const api_chain_t *ch = &api.chain;
    if (ch->have_parent && !plan.delta)
      perm__verbose("checkpoint of '%s': a full image folds the chain (%" PRIu64
                    " images, at most PERM_CHAIN_MAX=%" PRIu64 "; its deltas "
                    "hold %" PRIu64 " bytes, %.2f of the full image's, at "
                    "most PERM_CHAIN_RATIO=%.2f)",
                    copy, ch->chain_length, ch->max_length, ch->chain_bytes,
                    ch->base_bytes ? (double)ch->chain_bytes /
                                         (double)ch->base_bytes
                                   : 0.0,
                    ch->max_ratio);
    plan.parent_generation = api.chain.parent_generation;
    plan.parent_checksum = api.chain.parent_checksum;
    plan.parent_chain = api.chain.chain_length;
    plan.child_prev = &api.chain.child_changes;
  }
  plan.readback = api.readback;
  api_collapse_hold("checkpoint");
  api.forking = 1;
  rc = perm__checkpoint_start(&api.ckpt, copy, &plan, locks, 2);
  api.forking = 0;
  if (rc != 0) {
    perm__unlock_image(target_lock);
    perm__tfree(copy);
    goto out;
  }
  api.ckpt_path = copy;
  api.last_pause_ns = api.ckpt.pause_ns;
  api.last_threads_waited = api.ckpt.threads_waited;
  if (!async || target_lock >= 0)
    rc = api_wait_locked();
  perm__unlock_image(target_lock);
out:
  pthread_mutex_unlock(&api.lock);
  return rc == 0 ? 0 : api_fail(rc);
}

PERM_EXPORT int perm_checkpoint(void) { return api_checkpoint(NULL, 0); }
PERM_EXPORT int perm_checkpoint_async(void) { return api_checkpoint(NULL, 1); }

PERM_EXPORT int perm_checkpoint_to(const char *path) {
  if (path == NULL || *path == '\0') {
    perm__errorf(EINVAL, "perm_checkpoint_to: the path is empty");
    errno = EINVAL;
    return -1;
  }
  return api_checkpoint(path, 0);
}

PERM_EXPORT int perm_wait(void) {
  perm__error_clear();
  pthread_mutex_lock(&api.lock);
  int rc = api_wait_locked();
  pthread_mutex_unlock(&api.lock);
  return rc == 0 ? 0 : api_fail(rc);
}

/* Threads of this process other than the caller and PERM's own. */
static int api_other_threads(void) {
  DIR *d = opendir("/proc/self/task");
  if (d == NULL)
    return perm__heap_other_threads();
  pid_t self = (pid_t)syscall(SYS_gettid);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    pid_t tid = (pid_t)atoi(e->d_name);
    if (tid > 0 && tid != self && !perm__is_own_thread(tid) &&
        !perm__collapse_is_worker(&api.collapser, tid))
      n++;
  }
  closedir(d);
  return n;
}

PERM_EXPORT int perm_rollback(const char *path) {
  perm__error_clear();
  if (path == NULL || *path == '\0') {
    perm__errorf(EINVAL, "perm_rollback: the path is empty");
    errno = EINVAL;
    return -1;
  }
  perm_config_t cfg;
  int rc = perm__config_load(&cfg);
  if (rc != 0)
    return api_fail(rc);
  pthread_mutex_lock(&api.lock);
  if ((rc = api_wait_locked()) != 0)
    goto out;
  /*
  ** Any other live thread may hold pointers into the heap being replaced,
  ** and one created while the heap was persistent has its thread data
  ** (glibc's dtv) in it: only the calling thread may be running.
  */
  int others = api_other_threads();
  /* A thread just joined may linger in /proc for a moment while it exits. */
  for (int i = 0; others > 0 && i < 50; i++) {
    struct timespec pause = {0, 2 * 1000 * 1000};
    nanosleep(&pause, NULL);
    others = api_other_threads();
  }
  if (others > 0) {
    rc = perm__errorf(EBUSY,
                      "perm_rollback('%s'): %d other thread%s running and "
                      "may hold pointers into the heap being replaced; roll "
                      "back when the calling thread is alone (join the "
                      "others first)",
                      path, others, others == 1 ? " is" : "s are");
    goto out;
  }
  perm_restore_opts_t o = {.verify_full = cfg.verify_full,
                           .allow_rebuild = cfg.allow_rebuild,
                           .eager = cfg.eager || api.mode.eager,
                           .rollback = 1,
                           .trust = cfg.trust_image};
  api_collapse_hold("perm_rollback");
  rc = perm__restore(path, &o, NULL, NULL);
  if (rc == 0) {
    api.restored = 1;
    /* Another heap in the same place: the next image is a full one. */
    if (api.chain.tracking) {
      perm_config_t chain_cfg = cfg;
      chain_cfg.incremental = 1;
      api_chain_start(&chain_cfg, 1, NULL);
    }
  }
out:
  pthread_mutex_unlock(&api.lock);
  return rc == 0 ? 0 : api_fail(rc);
}

int perm__is_open(int *writable) {
  pthread_mutex_lock(&api.lock);
  int open = api.open;
  if (writable != NULL)
    *writable = api.writable;
  pthread_mutex_unlock(&api.lock);
  return open;
}

PERM_EXPORT int perm_close(void) {
  perm__error_clear();
  pthread_mutex_lock(&api.lock);
  int rc = 0;
  if (!api.open) {
    rc = perm__errorf(EBADF, "perm_close: no image is open");
  } else {
    rc = api_wait_locked();
    perm__checkpoint_reap(&api.ckpt, 1);
    perm__collapse_quit(&api.collapser);
    __atomic_store_n(&perm__dispatch.persistent, 0, __ATOMIC_RELAXED);
    api.open = 0;
    perm__registry_set_open(0);
    if (api.owner == getpid())
      perm__unlock_image(api.lock_fd);
    api.lock_fd = -1;
    perm__track_stop();
    api.chain.tracking = api.chain.have_parent = 0;
    perm__ranges_free(&api.chain.child_changes);
    perm__tfree(api.path);
    api.path = NULL;
  }
  pthread_mutex_unlock(&api.lock);
  return rc == 0 ? 0 : api_fail(rc);
}

PERM_EXPORT int perm_stats(perm_stats_t *s) {
  if (s == NULL) {
    perm__errorf(EINVAL, "perm_stats: NULL argument");
    errno = EINVAL;
    return -1;
  }
  memset(s, 0, sizeof *s);
  perm__heap_flush_thread_cache(); /* exact for this thread: cache is free */
  perm__heap_stats(&s->allocated, &s->active, &s->resident, &s->mapped);
  pthread_mutex_lock(&api.lock);
  s->region_base = perm__saved.region.base;
  s->region_size = perm__saved.region.capacity;
  s->generation = perm__saved.generation;
  s->restored = api.restored;
  s->open = api.open;
  s->last_pause_ns = api.last_pause_ns;
  s->last_duration_ns = api.last_duration_ns;
  s->last_bytes_written = api.last_bytes;
  s->last_bytes_dirtied = api.last_dirtied;
  s->last_data_bytes = api.last_data;
  s->last_incremental = api.last_delta;
  s->chain_length = api.chain.chain_length;
  s->tracking = api.chain.tracking;
  s->last_threads_waited = api.last_threads_waited;
  pthread_mutex_unlock(&api.lock);
  perm_restore_counts_t c;
  perm__registry_counts(&c);
  s->globals_restored = c.restored;
  s->globals_new = c.fresh;
  s->globals_dropped = c.dropped;
  return 0;
}

PERM_EXPORT const char *perm_error(void) { return perm__error_message(); }
