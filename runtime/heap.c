/*
** heap.c - the private, persistent jemalloc instance: its system-call
** shims, its creation and re-arming after a restore, and fork.
**
** The instance is Debian's libjemalloc_pic.a turned private at build time
** (runtime/jemalloc/mkprivate.sh).  Its whole state is either in the region
** or in the sections permje_data/permje_bss, which images save.  What does
** not survive a process is rebuilt here:
**   - the tsd pthread key (re-created on restore, with our destructor);
**   - fork handlers (installed once per process by us; jemalloc's own
**     pthread_atfork call is swallowed, so we choose the order);
**   - decay timers (rewritten so they re-arm on the new clock).
**
** Threads: each thread that calls into the instance has a slot in the
** table of threads.c before it can change anything in it, and the
** pthread_setspecific shim records its jemalloc tsd there.  A fork child
** flushes and destroys the tcaches of the threads that do not exist in it;
** without this every checkpoint would leak the objects they cached.  The
** fork gate (heap.h) makes sure none of them was inside jemalloc at the
** fork, so their tcaches are consistent when flushed.
**
** Lock order: threads_lock -> (gate closed, threads outside) -> rtree
** init_lock -> jemalloc's locks -> region lock.
*/
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "heap.h"
#include "region.h"
#include "config.h"
#include "safepoint.h"
#include "track.h"

/* More internals the runtime drives (renamed by mkprivate.sh). */
extern void permje_jemalloc_prefork(void);
extern void permje_jemalloc_postfork_parent(void);
extern void permje_jemalloc_postfork_child(void);
extern void permje_tcache_cleanup(void *tsd);
extern void permje_arena_cleanup(void *tsd);
extern void permje_iarena_cleanup(void *tsd);
extern void permje_tsd_cleanup(void *tsd);
extern void permje_tsd_state_set(void *tsd, uint8_t state);
extern bool permje_opt_cache_oblivious;
extern bool permje_opt_tcache;
extern pthread_key_t permje_tsd_tsd;
extern const char *permje_malloc_conf;
extern char permje_arena_emap_global[];

#define TSD_STATE_PURGATORY 4     /* jemalloc 5.3.0 tsd_state_purgatory */
#define TSD_STATE_UNINITIALIZED 6 /* tsd_state_uninitialized */

/*
** jemalloc options.  No background threads, no per-CPU arenas, no THP for
** metadata: none of them survive a restore.  dss is off so all memory comes
** through the mmap shim.
**
** retain is off: jemalloc gives freed address space back to the region
** (munmap, after its decay time) instead of keeping it per arena.  With
** retain on, it grows by ever larger mappings (2, 2.5, 3 ... 12 MiB) that it
** never merges or returns: their tails are lost to requests bigger than what
** is left, and one arena's freed memory stays out of reach of the others.
** With it off the region is the only keeper of free address space: it
** coalesces, and any arena can use any free byte.
**
** Each arena costs at least a 2 MiB block of metadata address space, and
** holds freed pages for itself until they decay: narenas is one per 128 MiB
** of region (jemalloc's default, 4 per CPU, from 1 GiB on 2 CPUs), and the
** dedicated arena for allocations of 8 MiB or more only from 1 GiB up.
*/
#define HEAP_CONF_BASE                                                         \
  "abort_conf:true,dss:disabled,background_thread:false,"                      \
  "percpu_arena:disabled,metadata_thp:disabled,retain:false,"                  \
  "muzzy_decay_ms:0"
#define HEAP_ARENA_SPAN (128ull << 20) /* region bytes per arena */
#define HEAP_OVERSIZE_MIN (1ull << 30) /* smallest region with a huge arena */

static unsigned heap_cpus(void) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) != 0)
    return 1;
  int n = CPU_COUNT(&set);
  return n > 0 ? (unsigned)n : 1;
}

/* The options of a new heap in a region of capacity bytes, in buf. */
static const char *heap_conf_for(uint64_t capacity, char *buf, size_t size) {
  unsigned cpus = heap_cpus();
  uint64_t narenas = capacity / HEAP_ARENA_SPAN, most = cpus > 1 ? 4 * cpus : 1;
  if (narenas < 1)
    narenas = 1;
  if (narenas > most)
    narenas = most;
  snprintf(buf, size, "%s,narenas:%u%s", HEAP_CONF_BASE, (unsigned)narenas,
           capacity < HEAP_OVERSIZE_MIN ? ",oversize_threshold:0" : "");
  return buf;
}

#define HEAP_JEMALLOC_VERSION                                                  \
  "5.3.0-0-g54eaed1d8b56b1aa528be3bdd1877e59c56fa90c"

perm_dispatch_t perm__dispatch;

typedef struct heap_s {
  pthread_mutex_t threads_lock; /* Recursive; serialises forks, tsd cleanup */
  int ready;           /* the instance holds a heap in this process */
  int checkpoint_fork; /* the next fork is a checkpoint's */
  void (*at_fork)(void *); /* called in a checkpoint's prefork, locks held */
  void (*at_child)(void *); /* first in a checkpoint's child */
  void *at_fork_arg;
  int atfork_installed;
  int creating; /* inside perm__heap_create: learn the rtree lock */
  int stuck_tid; /* the last fork went ahead with this thread inside, or 0 */
  int stuck_silent; /* ...which never answered (rather than: was inside) */
  int waited;    /* threads the last fork found inside */
  uint64_t opened_ns; /* when the last fork's parent opened the gate, or 0 */
  pthread_key_t
      rollback_key;   /* this process's tsd key, kept across a rollback */
  void *rollback_tsd; /* the rolling-back thread's tsd */
  char conf[256];     /* jemalloc's options, read while it boots */
} heap_t;

static heap_t heap = {.threads_lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP};

perm_gate_t perm__gate;
static void *heap_first_tsd; /* the first thread's tsd in this process */

/*------------------------------------------------------------------ gate ---*/

void perm__heap_gate_slow(perm_thread_t *t) {
  if (t->depth > 1)
    return; /* already inside: a fork waits for this thread, not it for one */
  __atomic_thread_fence(__ATOMIC_SEQ_CST); /* strict mode's half of Dekker */
  int w;
  while ((w = __atomic_load_n(&perm__gate.word, __ATOMIC_ACQUIRE)) &
         PERM_GATE_PENDING) {
    __atomic_store_n(&t->depth, t->depth - 1, __ATOMIC_RELEASE);
    syscall(SYS_futex, &perm__gate.word, FUTEX_WAIT_PRIVATE, w, NULL, NULL, 0);
    __atomic_store_n(&t->depth, t->depth + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
  }
}

void perm__heap_threads_begin(void) {
  int w = __atomic_load_n(&perm__gate.word, __ATOMIC_ACQUIRE);
  if (w & PERM_GATE_MULTI)
    return;
  int publish;
  if (perm__config_gate(&publish) != 0) /* perm_open will say so */
    publish = 0;
  if (publish || perm__safepoint_init() != 0) {
    /* Said under PERM_VERBOSE: the program runs, each call a little slower. */
    if (!publish)
      perm__verbose("%s", perm__error_message());
    if (syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0,
                0) != 0)
      __atomic_fetch_or(&perm__gate.word, PERM_GATE_STRICT, __ATOMIC_SEQ_CST);
    __atomic_fetch_or(&perm__gate.word, PERM_GATE_TLS, __ATOMIC_SEQ_CST);
  }
  __atomic_fetch_or(&perm__gate.word, PERM_GATE_MULTI, __ATOMIC_SEQ_CST);
}

/* TLS mode: every call publishes its depth; wait for those inside. */
static void heap_gate_wait_depths(int w) {
  if (!(w & PERM_GATE_STRICT) &&
      syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0) {
    /* From now on threads fence themselves; wait for those that did not. */
    __atomic_fetch_or(&perm__gate.word, PERM_GATE_STRICT, __ATOMIC_SEQ_CST);
    struct timespec settle = {0, 1000 * 1000};
    nanosleep(&settle, NULL);
  }
  perm_threads_iter_t it = {0};
  perm_thread_t *t;
  while ((t = perm__threads_each(&it)) != NULL) {
    if (t == perm__me || __atomic_load_n(&t->depth, __ATOMIC_ACQUIRE) == 0)
      continue;
    heap.waited++;
    while (__atomic_load_n(&t->depth, __ATOMIC_ACQUIRE) > 0)
      sched_yield();
  }
}

/*
** How long a fork waits for a thread to leave the allocator.  One that stays
** longer is stopped (a debugger, SIGSTOP) or blocks the signal by means we
** do not see; the fork goes ahead without it and a checkpoint says so.
*/
#define HEAP_GATE_PATIENCE_NS (2ull * 1000 * 1000 * 1000)

/* Asks every other thread until none is inside (safepoint.c). */
static void heap_gate_ask(void) {
  perm__safepoint_round();
  heap.stuck_tid = 0;
  uint64_t deadline = perm__now_ns() + HEAP_GATE_PATIENCE_NS;
  for (int pass = 0;; pass++) {
    int waiting = 0, stuck = 0, silent = 0;
    perm_threads_iter_t it = {0};
    perm_thread_t *t;
    while ((t = perm__threads_each(&it)) != NULL) {
      if (t == perm__me || t->asked < 0)
        continue; /* the caller; or settled in this round */
      int a = perm__safepoint_ask(t);
      if (a == PERM_SAFEPOINT_OUTSIDE) {
        t->asked = -1;
        continue;
      }
      if (a == PERM_SAFEPOINT_INSIDE && !t->seen_inside) {
        t->seen_inside = 1;
        heap.waited++;
      }
      waiting++;
      stuck = t->tid;
      silent = a == PERM_SAFEPOINT_ASKED;
    }
    if (waiting == 0)
      break;
    if (perm__now_ns() > deadline) {
      heap.stuck_tid = stuck;
      heap.stuck_silent = silent;
      break;
    }
    if (pass < 64)
      sched_yield();
    else {
      struct timespec nap = {0, 50 * 1000};
      nanosleep(&nap, NULL);
    }
  }
  perm_threads_iter_t it = {0};
  perm_thread_t *t;
  while ((t = perm__threads_each(&it)) != NULL)
    t->asked = t->seen_inside = 0;
}

/* Closes the gate and waits until no other thread is inside jemalloc. */
static void heap_gate_close(void) {
  int w =
      __atomic_or_fetch(&perm__gate.word, PERM_GATE_PENDING, __ATOMIC_SEQ_CST);
  heap.waited = 0;
  heap.stuck_tid = 0;
  heap.opened_ns = 0;
  if (w & PERM_GATE_TLS)
    heap_gate_wait_depths(w);
  else if (w & PERM_GATE_MULTI)
    heap_gate_ask();
}

static void heap_gate_open(void) {
  __atomic_fetch_and(&perm__gate.word, ~PERM_GATE_PENDING, __ATOMIC_RELEASE);
  heap.opened_ns = perm__now_ns();
  syscall(SYS_futex, &perm__gate.word, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL,
          NULL, 0);
}

uint64_t perm__heap_fork_opened_ns(void) { return heap.opened_ns; }

int perm__heap_fork_stuck(int *silent) {
  *silent = heap.stuck_silent;
  return heap.stuck_tid;
}
int perm__heap_fork_waited(void) { return heap.waited; }

/*--------------------------------------------------------------- threads ---*/

/*
** jemalloc's tsd key destructor.  Holding threads_lock across jemalloc's
** cleanup means a fork never sees a half-cleaned tsd; the thread leaves
** the table after (it joins again if a later destructor allocates).
*/
static void heap_tsd_destructor(void *tsd) {
  pthread_mutex_lock(&heap.threads_lock);
  permje_tsd_cleanup(tsd);
  perm_thread_t *t = perm__me;
  if (t != NULL) {
    perm__me = NULL;
    perm__thread_free(t);
  }
  pthread_mutex_unlock(&heap.threads_lock);
}

/*
** Gives back everything a thread holds, as its exit would: the objects in
** its tcache go back to their arenas, the tcache itself is freed, the thread
** is unbound from its arenas and leaves jemalloc's list of live tsds.
*/
static void heap_forget_thread(void *tsd) {
  permje_tcache_cleanup(tsd);
  permje_arena_cleanup(tsd);
  permje_iarena_cleanup(tsd);
  permje_tsd_state_set(tsd, TSD_STATE_PURGATORY);
}

/*------------------------------------------------------------------ shims ---*/

/* A region result (0 or -errno) as a system call returns it. */
static int heap_sys_result(int rc) {
  if (rc == 0)
    return 0;
  errno = -rc;
  return -1;
}

static void *heap_sys_mmap(void *addr, size_t len, int prot, int flags, int fd,
                      off_t off) {
  (void)off;
  perm_region_t *r = &perm__saved.region;
  if (fd != -1 || !(flags & MAP_ANONYMOUS) || r->base == 0) {
    errno = ENOMEM;
    return MAP_FAILED;
  }
  if (flags & MAP_FIXED) {
    /* Commit or decommit of pages jemalloc already owns (no overcommit). */
    if (!perm__in_region(addr)) {
      errno = EINVAL;
      return MAP_FAILED;
    }
    return heap_sys_result(perm__region_protect(r, addr, len, prot)) == 0
               ? addr
               : MAP_FAILED;
  }
  /* Refusals are silent: see perm__heap_out_of_memory. */
  void *p = perm__region_alloc(r, len, addr, prot);
  return p == NULL ? MAP_FAILED : p;
}

static int heap_sys_munmap(void *addr, size_t len) {
  if (!perm__in_region(addr)) {
    errno = EINVAL;
    return -1;
  }
  return heap_sys_result(perm__region_release(&perm__saved.region, addr, len));
}

static int heap_sys_madvise(void *addr, size_t len, int advice) {
  if (advice == MADV_DONTNEED && perm__in_region(addr))
    return heap_sys_result(perm__region_purge(&perm__saved.region, addr, len));
  if (advice == MADV_FREE) {
    /* Lazily freed pages keep stale bytes that images would save. */
    errno = EINVAL;
    return -1;
  }
  return madvise(addr, len, advice);
}

static int heap_sys_mprotect(void *addr, size_t len, int prot) {
  if (!perm__in_region(addr))
    return mprotect(addr, len, prot);
  return heap_sys_result(
      perm__region_protect(&perm__saved.region, addr, len, prot));
}

void *permje_sys_sbrk(intptr_t increment);
PERM_GATED void *permje_sys_sbrk(intptr_t increment) {
  (void)increment;
  errno = ENOMEM;
  return (void *)-1;
}

/* The instance never reads MALLOC_CONF: PERM configures it. */
char *permje_sys_secure_getenv(const char *name);
PERM_GATED char *permje_sys_secure_getenv(const char *name) {
  (void)name;
  return NULL;
}

/* ...nor /etc/malloc.conf. */
ssize_t permje_sys_readlink(const char *path, char *buf, size_t size);
PERM_GATED ssize_t permje_sys_readlink(const char *path, char *buf, size_t size) {
  (void)path, (void)buf, (void)size;
  errno = ENOENT;
  return -1;
}

/* Answered directly: dlsym may allocate, and we are inside malloc. */
static void *heap_sys_dlsym(void *handle, const char *symbol) {
  if (strcmp(symbol, "pthread_create") == 0)
    return (void *)pthread_create;
  return dlsym(handle, symbol);
}

/* jemalloc's own fork handlers are driven by ours (heap_prefork & co). */
int permje_sys_pthread_atfork(void (*prepare)(void), void (*parent)(void),
                              void (*child)(void));
PERM_GATED int permje_sys_pthread_atfork(void (*prepare)(void), void (*parent)(void),
                              void (*child)(void)) {
  (void)prepare, (void)parent, (void)child;
  return 0;
}

int permje_sys_atexit(void (*fn)(void));
PERM_GATED int permje_sys_atexit(void (*fn)(void)) {
  (void)fn; /* stats_print and prof_final are never enabled */
  return 0;
}

static int heap_sys_pthread_key_create(pthread_key_t *key, void (*dtor)(void *)) {
  (void)dtor; /* always permje_tsd_cleanup, called by heap_tsd_destructor */
  return pthread_key_create(key, heap_tsd_destructor);
}

/* A new thread's cache (28 KiB) and a new arena (a 2 MiB block, aligned). */
#define HEAP_THREAD_BOOT_ROOM (4ull << 20)

int permje_sys_pthread_setspecific(pthread_key_t key, const void *value);
PERM_GATED int permje_sys_pthread_setspecific(pthread_key_t key,
                                              const void *value) {
  perm_thread_t *t = perm__heap_call_enter();
  void *first = __atomic_load_n(&heap_first_tsd, __ATOMIC_ACQUIRE);
  if (value != NULL && t->tsd == NULL && heap.ready && first != NULL &&
      first != value) {
    /*
    ** Another thread's first call: jemalloc builds its cache next
    ** (tsd_data_init), and maybe a new arena for it; if the region cannot
    ** hold them it carries on with a cache that has no stacks, and crashes
    ** at the next allocation.  With too little room the thread goes without
    ** a cache, so its allocations fail as malloc fails; the choice is made
    ** again for every new thread.  The process's first thread keeps its
    ** cache: its arena exists, and a restored heap's statistics count it.
    */
    permje_opt_tcache =
        perm__region_largest(&perm__saved.region) >= HEAP_THREAD_BOOT_ROOM;
  }
  if (value != NULL) {
    t->tsd = (void *)value;
    /*
    ** A second thread in jemalloc that pthread_create did not announce (a
    ** thread libc made for itself): the gate starts now.
    */
    first = NULL;
    if (!__atomic_compare_exchange_n(&heap_first_tsd, &first, (void *)value, 0,
                                     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE) &&
        first != value)
      perm__heap_threads_begin();
  }
  int rc = pthread_setspecific(key, value);
  perm__heap_call_leave(t);
  return rc;
}

/*
** The rtree's init_lock is taken outside jemalloc's fork handlers; learn its
** address while the instance boots (it is the first mutex initialised inside
** the global emap) so ours can take it.
*/
static int heap_sys_pthread_mutex_init(pthread_mutex_t *m,
                                  const pthread_mutexattr_t *attr) {
  char *p = (char *)m;
  if (heap.creating && perm__saved.rtree_lock == 0 &&
      p >= permje_arena_emap_global && p < permje_arena_emap_global + 4096)
    perm__saved.rtree_lock = (uint64_t)m;
  return pthread_mutex_init(m, attr);
}

/*
** The shims that call out of the allocator count as inside it meanwhile
** (heap.h, "The gate"): the code they call is not jemalloc's.
*/
#define HEAP_SHIM(type, name, params, args)                                    \
  type permje_sys_##name params;                                               \
  PERM_GATED type permje_sys_##name params {                                   \
    perm_thread_t *t_ = perm__heap_call_enter();                               \
    type r_ = heap_sys_##name args;                                            \
    perm__heap_call_leave(t_);                                                 \
    return r_;                                                                 \
  }

HEAP_SHIM(void *, mmap, (void *addr, size_t len, int prot, int flags, int fd, off_t off), (addr, len, prot, flags, fd, off))
HEAP_SHIM(int, munmap, (void *addr, size_t len), (addr, len))
HEAP_SHIM(int, madvise, (void *addr, size_t len, int advice), (addr, len, advice))
HEAP_SHIM(int, mprotect, (void *addr, size_t len, int prot), (addr, len, prot))
HEAP_SHIM(void *, dlsym, (void *handle, const char *symbol), (handle, symbol))
HEAP_SHIM(int, pthread_key_create, (pthread_key_t *key, void (*dtor)(void *)), (key, dtor))
HEAP_SHIM(int, pthread_mutex_init, (pthread_mutex_t *m, const pthread_mutexattr_t *attr), (m, attr))

/*------------------------------------------------------------------- fork ---*/

static void heap_prefork(void) {
  pthread_mutex_lock(&heap.threads_lock);
  if (!heap.ready)
    return;
  heap_gate_close();
  if (perm__saved.rtree_lock)
    pthread_mutex_lock((pthread_mutex_t *)perm__saved.rtree_lock);
  permje_jemalloc_prefork();
  pthread_mutex_lock(&perm__saved.region.lock);
  /* Nothing in the allocator moves now: the instant of the snapshot. */
  if (heap.checkpoint_fork && heap.at_fork != NULL)
    heap.at_fork(heap.at_fork_arg);
}

static void heap_postfork_parent(void) {
  if (heap.ready) {
    pthread_mutex_unlock(&perm__saved.region.lock);
    permje_jemalloc_postfork_parent();
    if (perm__saved.rtree_lock)
      pthread_mutex_unlock((pthread_mutex_t *)perm__saved.rtree_lock);
    heap_gate_open();
  }
  pthread_mutex_unlock(&heap.threads_lock);
}

/*
** In the child only the forking thread exists.  Release every lock as the
** parent does (so jemalloc's lists stay intact), give back what the other
** threads held, then, for an ordinary fork, let jemalloc reset its lists to
** this thread; a checkpoint child instead quiesces this thread too
** (perm__heap_child_quiesce) so the image holds no thread at all.
*/
static void heap_postfork_child(void) {
  /*
  ** Before the child writes a byte of the region (giving back the other
  ** threads' caches does): its own changes are tracked from here, or the
  ** delta after its image would miss them.
  */
  if (heap.checkpoint_fork && heap.at_child != NULL)
    heap.at_child(heap.at_fork_arg);
  if (heap.ready) {
    perm__region_lock_reinit(&perm__saved.region);
    permje_jemalloc_postfork_parent();
    if (perm__saved.rtree_lock)
      pthread_mutex_unlock((pthread_mutex_t *)perm__saved.rtree_lock);
    perm__thread_forked();
    perm_threads_iter_t it = {0};
    perm_thread_t *t;
    while ((t = perm__threads_each(&it)) != NULL) {
      if (t == perm__me)
        continue;
      /* Outside jemalloc, the gate saw to it; one stuck inside is leaked. */
      if (t->tsd != NULL && t->tid != heap.stuck_tid)
        heap_forget_thread(t->tsd);
      perm__thread_free(t);
    }
    perm__gate.word &= ~PERM_GATE_PENDING;
    if (!heap.checkpoint_fork)
      permje_jemalloc_postfork_child();
  }
  /* A recursive mutex belongs to the parent's thread id: make a new one. */
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  pthread_mutex_init(&heap.threads_lock, &attr);
  pthread_mutexattr_destroy(&attr);
}

void perm__heap_install_atfork(void) {
  pthread_mutex_lock(&heap.threads_lock);
  if (!heap.atfork_installed) {
    pthread_atfork(heap_prefork, heap_postfork_parent, heap_postfork_child);
    heap.atfork_installed = 1;
  }
  pthread_mutex_unlock(&heap.threads_lock);
}

void perm__heap_set_checkpoint_fork(int on, void (*at_fork)(void *),
                                    void (*at_child)(void *), void *arg) {
  heap.checkpoint_fork = on;
  heap.at_fork = on ? at_fork : NULL;
  heap.at_child = on ? at_child : NULL;
  heap.at_fork_arg = on ? arg : NULL;
}

/* For perm_stats: this thread's cached objects count as free again. */
void perm__heap_flush_thread_cache(void) {
  if (!heap.ready)
    return;
  perm_thread_t *t = perm__heap_enter();
  permje_mallctl("thread.tcache.flush", NULL, NULL, NULL, 0);
  perm__heap_leave(t);
}

void perm__heap_child_quiesce(void) {
  if (!heap.ready)
    return;
  permje_mallctl("thread.tcache.flush", NULL, NULL, NULL, 0);
  permje_mallctl("arena.4096.purge", NULL, NULL, NULL, 0); /* all arenas */
  if (perm__me != NULL && perm__me->tsd != NULL) {
    heap_forget_thread(perm__me->tsd);
    perm__me->tsd = NULL;
  }
}

/*-------------------------------------------------------------- rollback ---*/

static void heap_rearm_all_decay(void);

int perm__heap_other_threads(void) {
  pthread_mutex_lock(&heap.threads_lock);
  int n = 0;
  perm_threads_iter_t it = {0};
  perm_thread_t *t;
  while ((t = perm__threads_each(&it)) != NULL)
    n += t != perm__me && t->tsd != NULL;
  pthread_mutex_unlock(&heap.threads_lock);
  return n;
}

/*
** Before the heap is replaced: the calling thread gives back its cache and
** leaves the old heap's bookkeeping, as a thread exit would.
*/
void perm__heap_rollback_begin(void) {
  pthread_mutex_lock(&heap.threads_lock);
  heap.rollback_key = permje_tsd_tsd;
  perm_thread_t *self = perm__thread_self();
  heap.rollback_tsd = self->tsd;
  if (self->tsd != NULL) {
    heap_forget_thread(self->tsd);
    self->tsd = NULL;
  }
}

/*
** The new heap's state is in place: keep this process's tsd key, and let the
** calling thread start afresh in it (uninitialized: its next allocation
** builds a new tcache in the new heap).
*/
int perm__heap_rollback_end(void) {
  permje_tsd_tsd = heap.rollback_key;
  if (heap.rollback_tsd != NULL)
    permje_tsd_state_set(heap.rollback_tsd, TSD_STATE_UNINITIALIZED);
  heap.rollback_tsd = NULL;
  int rc = perm__region_rearm(&perm__saved.region);
  pthread_mutex_unlock(&heap.threads_lock);
  heap_rearm_all_decay();
  return rc;
}

/*---------------------------------------------------------- out of memory ---*/

/*
** jemalloc returned NULL for bytes.  What is missing may be pages that
** arenas freed but still hold until their decay time: they give them all
** back to the region.  Returns 1 when that freed something, so a second try
** can succeed.
*/
int perm__heap_reclaim(size_t bytes) {
  perm_region_t *r = &perm__saved.region;
  if (!heap.ready || bytes > r->capacity)
    return 0;
  uint64_t before = perm__region_available(r);
  perm_thread_t *t = perm__heap_enter();
  permje_mallctl("arena.4096.purge", NULL, NULL, NULL, 0); /* all arenas */
  perm__heap_leave(t);
  return perm__region_available(r) > before;
}

/* The request truly does not fit: malloc's answer, and one message. */
void perm__heap_out_of_memory(size_t bytes) {
  if (perm__verbose_enabled() && heap.ready) {
    perm_region_t *r = &perm__saved.region;
    uint64_t allocated, active, resident, mapped;
    perm__heap_stats(&allocated, &active, &resident, &mapped);
    uint64_t used = r->capacity - perm__region_available(r);
    perm__verbose("out of persistent memory: cannot allocate %zu bytes; "
                  "%.1f of the region's %.1f MiB are in use, %.1f MiB by "
                  "live blocks (README.PERM, section 9: raise PERM_SIZE)",
                  bytes, (double)used / 1048576.0,
                  (double)r->capacity / 1048576.0,
                  (double)allocated / 1048576.0);
  }
  errno = ENOMEM;
}

/*------------------------------------------------------------ life cycle ---*/

int perm__heap_ready(void) { return heap.ready; }

const char *perm__heap_version(void) { return HEAP_JEMALLOC_VERSION; }

static int heap_check_version(void) {
  const char *v = NULL;
  size_t sz = sizeof v;
  if (permje_mallctl("version", &v, &sz, NULL, 0) != 0 || v == NULL)
    return perm__errorf(EIO, "the private jemalloc did not start");
  if (strcmp(v, HEAP_JEMALLOC_VERSION) != 0)
    return perm__errorf(EIO, "the private jemalloc is %s, PERM needs %s", v,
                        HEAP_JEMALLOC_VERSION);
  return 0;
}

/* A heap's name in its images: deltas of one heap never mix with another's. */
static uint64_t heap_new_id(void) {
  uint64_t id = 0;
  if (getrandom(&id, sizeof id, GRND_NONBLOCK) != (ssize_t)sizeof id)
    id = perm__now_ns() ^ ((uint64_t)getpid() << 40);
  return id != 0 ? id : 1;
}

int perm__heap_create(uint64_t base, uint64_t capacity) {
  if (heap.ready)
    return 0;
  perm__heap_install_atfork();
  int rc = perm__region_reserve(&perm__saved.region, base, capacity);
  if (rc != 0)
    return rc;
  perm__dispatch.lo = base;
  perm__dispatch.hi = base + capacity;
  perm__saved.magic = PERM_SAVED_MAGIC;
  perm__saved.generation = 0;
  perm__saved.heap_id = heap_new_id();
  perm__saved.rtree_lock = 0;
  permje_malloc_conf = heap_conf_for(capacity, heap.conf, sizeof heap.conf);
  /*
  ** No padding page in front of large blocks: it randomises cache-line
  ** placement, and costs a page per block, so a 4 MiB block would not fit
  ** a 4 MiB piece of the region.  5.3.0 reads it at boot but has no
  ** option for it (5.3.1 added one); it then lives in the saved state.
  */
  permje_opt_cache_oblivious = false;
  heap.creating = 1;
  rc = heap_check_version(); /* the first call boots the instance */
  heap.creating = 0;
  if (rc != 0)
    return rc;
  heap.ready = 1;
  return 0;
}

/* Rewrites an arena's decay times so its timers start from this process's
 * clock. */
static void heap_rearm_decay(unsigned arena) {
  static const char *const names[] = {"dirty_decay_ms", "muzzy_decay_ms"};
  for (int i = 0; i < 2; i++) {
    char name[64];
    ssize_t ms;
    size_t sz = sizeof ms;
    snprintf(name, sizeof name, "arena.%u.%s", arena, names[i]);
    if (permje_mallctl(name, &ms, &sz, NULL, 0) == 0)
      permje_mallctl(name, NULL, NULL, &ms, sizeof ms);
  }
}

static void heap_rearm_all_decay(void) {
  unsigned narenas = 0;
  size_t sz = sizeof narenas;
  permje_mallctl("arenas.narenas", &narenas, &sz, NULL, 0);
  for (unsigned i = 0; i < narenas; i++)
    heap_rearm_decay(i);
}

int perm__heap_rearm(void) {
  perm__heap_install_atfork();
  int rc = perm__region_rearm(&perm__saved.region);
  if (rc != 0)
    return rc;
  perm__dispatch.lo = perm__saved.region.base;
  perm__dispatch.hi = perm__saved.region.base + perm__saved.region.capacity;
  /* The key of the process that wrote the image means nothing here. */
  if (pthread_key_create(&permje_tsd_tsd, heap_tsd_destructor) != 0)
    return perm__errorf(EAGAIN, "cannot create the allocator's thread key");
  heap.ready = 1;
  rc = heap_check_version();
  if (rc != 0)
    return rc;
  heap_rearm_all_decay();
  return 0;
}

int perm__heap_stats(uint64_t *allocated, uint64_t *active, uint64_t *resident,
                     uint64_t *mapped) {
  if (!heap.ready) {
    *allocated = *active = *resident = *mapped = 0;
    return 0;
  }
  perm_thread_t *t = perm__heap_enter();
  uint64_t epoch = 1;
  size_t sz = sizeof epoch;
  permje_mallctl("epoch", &epoch, &sz, &epoch, sz);
  size_t v;
  sz = sizeof v;
  *allocated = permje_mallctl("stats.allocated", &v, &sz, NULL, 0) == 0 ? v : 0;
  *active = permje_mallctl("stats.active", &v, &sz, NULL, 0) == 0 ? v : 0;
  *resident = permje_mallctl("stats.resident", &v, &sz, NULL, 0) == 0 ? v : 0;
  *mapped = permje_mallctl("stats.mapped", &v, &sz, NULL, 0) == 0 ? v : 0;
  perm__heap_leave(t);
  return 0;
}
