/*
** stress.c - PERM under load: 8 threads of random malloc, calloc, realloc,
** free and posix_memalign on a shared table of objects while the main
** thread takes asynchronous checkpoints every 10 ms; then restores in new
** processes that walk every live object.
**
**   stress IMAGE run SECONDS [i]   a new heap (mode "w+", "w+i" with i):
**                                  load for SECONDS with checkpoints, then
**                                  stop the threads, record the live
**                                  objects and perm_stats().allocated, and
**                                  take a last checkpoint
**   stress IMAGE verify            open read-only: every live object's
**                                  size, alignment and bytes, the count and
**                                  bytes recorded, and, for an image taken
**                                  after the threads stopped, allocated
**                                  equal to the value recorded
**   stress IMAGE gen [i]           one generation of a heap of constant
**                                  live data (mode "a+", "a+i"): restore,
**                                  verify every object (and allocated,
**                                  when recorded), check the runtime's own
**                                  bytes in the heap and the image files'
**                                  size against the first generation's; 8
**                                  threads replace objects by ones of the
**                                  same size and kind, a checkpoint is
**                                  taken while they are alive; stop them;
**                                  every other generation, record and
**                                  checkpoint again
**
** Each object's bytes are a function of its seed (zdtm.h), so verifying is
** exact.  A slot holds a record {object, size, seed, alignment} that is
** complete before it is published with an atomic exchange: a checkpoint at
** any instant sees whole records.  An operation takes a record out of its
** slot (exchange with NULL), checks its bytes, and frees or reallocates it:
** objects move between threads, and frees are often remote.
**
** The checkpoint's child gives back the caches of every thread, so an
** image's allocated bytes equal the parent's only when no thread holds a
** cache: the value is recorded after the workers have exited, by
** perm_stats() (which empties the caller's cache), and the main thread
** allocates nothing between it and the checkpoint (stdout has a static
** buffer).
*/
#define _GNU_SOURCE
#include "../../Inputs/zdtm.h"
#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <perm.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NTHREADS 8
#define NSLOTS 8192

typedef struct rec_s {
  unsigned char *p;
  size_t size;
  uint64_t seed;
  size_t align; /* 0: malloc, calloc or realloc */
} rec_t;

/* The persistent root: the table and what the last run recorded. */
typedef struct root_s {
  rec_t *slot[NSLOTS];
  uint64_t quiet;         /* 1: recorded after the workers stopped */
  uint64_t objects;       /* live objects then */
  uint64_t bytes;         /* their sizes */
  uint64_t allocated;     /* perm_stats().allocated then */
  uint64_t generation;    /* perm_stats().generation of that checkpoint */
  uint64_t gens;          /* gen: generations run */
  uint64_t base_allocated; /* gen: allocated after the first */
  uint64_t base_files;    /* gen: bytes of the image's files after it */
  uint64_t max_files;     /* gen: the largest seen */
  int64_t base_overhead;  /* gen: allocated less the live objects, first */
} root_t;

static root_t *root;
static int stop;
static unsigned long long ops[NTHREADS];

static char outbuf[1 << 16];

/* Sizes: mostly small, some pages, a few large (their own extents). */
static size_t pick_size(uint64_t r) {
  unsigned k = (unsigned)(r % 1000);
  r >>= 10;
  if (k < 900)
    return 1 + (size_t)(r % 1024);
  if (k < 998)
    return 1024 + (size_t)(r % (7u << 10));
  return (16u << 10) + (size_t)(r % (112u << 10));
}

static void verify_rec(const rec_t *x, const char *when) {
  size_t bad = zdtm_verify(x->p, x->size, x->seed);
  check(bad == (size_t)-1, "%s: object %p (%zu bytes, seed %llu) differs at %zu",
        when, (void *)x->p, x->size, (unsigned long long)x->seed, bad);
  check(x->align == 0 || (uintptr_t)x->p % x->align == 0,
        "%s: object %p is not aligned to %zu", when, (void *)x->p, x->align);
}

static void drop(rec_t *x) {
  if (x == NULL)
    return;
  verify_rec(x, "before free");
  free(x->p);
  free(x);
}

static void publish(int i, rec_t *x) {
  drop(__atomic_exchange_n(&root->slot[i], x, __ATOMIC_ACQ_REL));
}

static rec_t *take(int i) {
  return __atomic_exchange_n(&root->slot[i], NULL, __ATOMIC_ACQ_REL);
}

/* A new object in slot i, made by one of the four allocating calls. */
static void make(int i, uint64_t r, int how) {
  rec_t *x = malloc(sizeof *x);
  check(x != NULL, "malloc of a record failed");
  x->size = pick_size(zdtm_mix(r));
  x->seed = r;
  x->align = 0;
  if (how == 0) {
    x->p = malloc(x->size);
  } else if (how == 1) {
    size_t n = 1 + (size_t)(r >> 40) % 8;
    x->size = (x->size + n - 1) / n * n;
    x->p = calloc(n, x->size / n);
    check(x->p != NULL, "calloc(%zu, %zu) failed", n, x->size / n);
    for (size_t k = 0; k < x->size; k++)
      check(x->p[k] == 0, "calloc'ed %zu bytes not zero at %zu", x->size, k);
  } else {
    x->align = (size_t)1 << (4 + (r >> 44) % 9); /* 16 B to 4 KiB */
    void *p = NULL;
    int rc = posix_memalign(&p, x->align, x->size);
    check(rc == 0, "posix_memalign(%zu, %zu): %d", x->align, x->size, rc);
    x->p = p;
  }
  check(x->p != NULL, "allocation of %zu bytes failed", x->size);
  zdtm_fill(x->p, x->size, x->seed);
  publish(i, x);
}

/* Reallocates the object of slot i: its first bytes must survive. */
static void resize(int i, uint64_t r) {
  rec_t *x = take(i);
  if (x == NULL) {
    make(i, r, 0);
    return;
  }
  verify_rec(x, "before realloc");
  size_t n = pick_size(zdtm_mix(r + 1));
  unsigned char *q = realloc(x->p, n);
  check(q != NULL, "realloc to %zu bytes failed", n);
  size_t keep = n < x->size ? n : x->size;
  size_t bad = zdtm_verify(q, keep, x->seed);
  check(bad == (size_t)-1 || bad >= keep - keep % 8,
        "realloc from %zu to %zu bytes lost byte %zu", x->size, n, bad);
  x->p = q;
  x->size = n;
  x->seed = r;
  x->align = 0;
  zdtm_fill(q, n, r);
  publish(i, x);
}

static void *worker(void *arg) {
  int t = (int)(intptr_t)arg;
  uint64_t r = zdtm_mix((uint64_t)t * 7919 + (uint64_t)time(NULL) * 31 +
                        (uint64_t)getpid());
  unsigned long long n = 0;
  while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
    r = zdtm_mix(r);
    /* Mostly the thread's own part of the table, sometimes anyone's. */
    int i = (int)((r >> 8) % (NSLOTS / NTHREADS));
    i += (r & 7) == 0 ? (int)((r >> 3) % NTHREADS) * (NSLOTS / NTHREADS)
                      : t * (NSLOTS / NTHREADS);
    switch ((r >> 4) % 10) {
    case 0:
    case 1:
    case 2:
      make(i, r, 0);
      break;
    case 3:
      make(i, r, 1);
      break;
    case 4:
      make(i, r, 2);
      break;
    case 5:
    case 6:
      resize(i, r);
      break;
    default:
      drop(take(i));
      break;
    }
    n++;
  }
  ops[t] = n;
  return NULL;
}

static void start(pthread_t *th) {
  __atomic_store_n(&stop, 0, __ATOMIC_RELAXED);
  for (int t = 0; t < NTHREADS; t++)
    check(pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t) == 0,
          "pthread_create failed");
}

static unsigned long long finish(pthread_t *th) {
  __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
  unsigned long long n = 0;
  for (int t = 0; t < NTHREADS; t++) {
    pthread_join(th[t], NULL);
    n += ops[t];
  }
  return n;
}

/* Every live object; returns their count, their bytes in *bytes. */
static uint64_t walk(uint64_t *bytes) {
  uint64_t n = 0;
  *bytes = 0;
  for (int i = 0; i < NSLOTS; i++) {
    const rec_t *x = root->slot[i];
    if (x == NULL)
      continue;
    verify_rec(x, "after restore");
    n++;
    *bytes += x->size;
  }
  return n;
}

/* What the threads left: recorded for the restore to compare. */
static void record(void) {
  perm_stats_t st;
  root->objects = walk(&root->bytes);
  perm_stats(&st);
  root->allocated = st.allocated;
  root->generation = st.generation + 1; /* the checkpoint that follows */
  root->quiet = 1;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms) {
  struct timespec d = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&d, &d) != 0 && errno == EINTR)
    ;
}

static int run(const char *path, double seconds, int incremental) {
  if (perm_open(path, incremental ? "w+i" : "w+") != 0)
    fail("perm_open: %s", perm_error());
  root = calloc(1, sizeof *root);
  check(root != NULL, "calloc of the root failed");
  pthread_t th[NTHREADS];
  start(th);
  unsigned long long checkpoints = 0, deltas = 0;
  double end = now() + seconds;
  while (now() < end) {
    if (perm_checkpoint_async() != 0)
      fail("perm_checkpoint_async: %s", perm_error());
    sleep_ms(10);
    if (perm_wait() != 0)
      fail("perm_wait: %s", perm_error());
    checkpoints++;
    perm_stats_t st;
    perm_stats(&st);
    deltas += st.last_incremental != 0;
  }
  unsigned long long n = finish(th);
  record();
  if (perm_checkpoint() != 0)
    fail("perm_checkpoint: %s", perm_error());
  perm_stats_t st;
  perm_stats(&st);
  check(st.generation == root->generation, "generation %llu, expected %llu",
        (unsigned long long)st.generation,
        (unsigned long long)root->generation);
  check(checkpoints >= 2, "only %llu checkpoints", checkpoints);
  check(!incremental || !st.tracking || deltas > 0,
        "incremental, tracking, but no delta among %llu checkpoints",
        checkpoints);
  printf("%d threads, %s: more than one checkpoint while they ran%s\n",
         NTHREADS, incremental ? "incremental" : "full",
         incremental && st.tracking ? ", deltas among them" : "");
  printf("stopped: %llu objects (%llu bytes) live, allocated %llu\n",
         (unsigned long long)root->objects, (unsigned long long)root->bytes,
         (unsigned long long)root->allocated);
  fprintf(stderr, "stress: %llu operations, %llu checkpoints (%llu deltas) "
                  "in %.1f s\n",
          n, checkpoints, deltas, seconds);
  return 0;
}

static int verify(const char *path) {
  perm_register(&root, sizeof root, "root");
  if (perm_open(path, "r") != 0)
    fail("perm_open: %s", perm_error());
  check(perm_restored() && root != NULL, "nothing restored from %s", path);
  perm_stats_t st;
  perm_stats(&st);
  uint64_t bytes, n = walk(&bytes);
  if (root->quiet && root->generation == st.generation) {
    check(n == root->objects && bytes == root->bytes,
          "%llu objects (%llu bytes), recorded %llu (%llu bytes)",
          (unsigned long long)n, (unsigned long long)bytes,
          (unsigned long long)root->objects, (unsigned long long)root->bytes);
    check(st.allocated == root->allocated,
          "allocated %llu after the restore, %llu at the checkpoint",
          (unsigned long long)st.allocated,
          (unsigned long long)root->allocated);
    printf("verified every live object, as recorded; allocated as recorded\n");
  } else {
    /* Taken while the threads ran: whole records, nothing to compare. */
    check(st.allocated >= bytes, "allocated %llu, less than the %llu bytes of "
                                 "the live objects",
          (unsigned long long)st.allocated, (unsigned long long)bytes);
    printf("verified every live object of an image taken under load\n");
  }
  fprintf(stderr, "stress: generation %llu: %llu objects, %llu bytes, "
                  "allocated %llu\n",
          (unsigned long long)st.generation, (unsigned long long)n,
          (unsigned long long)bytes, (unsigned long long)st.allocated);
  return 0;
}

/* Bytes of the image and the files of its chains (NAME.GEN-CHECKSUM). */
static uint64_t image_files(const char *path) {
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  const char *base = slash ? slash + 1 : path;
  if (slash)
    *slash = '\0';
  else
    snprintf(dir, sizeof dir, ".");
  size_t bl = strlen(base);
  DIR *d = opendir(dir);
  check(d != NULL, "cannot list %s", dir);
  uint64_t total = 0;
  ino_t seen[64]; /* NAME is also a chain member's name: count inodes */
  unsigned nseen = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    const char *s = e->d_name;
    if (strncmp(s, base, bl) != 0)
      continue;
    if (s[bl] != '\0' && !(s[bl] == '.' && s[bl + 1] >= '0' && s[bl + 1] <= '9'))
      continue;
    struct stat st;
    if (fstatat(dirfd(d), s, &st, 0) != 0)
      continue;
    unsigned k = 0;
    while (k < nseen && seen[k] != st.st_ino)
      k++;
    if (k < nseen)
      continue;
    if (nseen < sizeof seen / sizeof seen[0])
      seen[nseen++] = st.st_ino;
    total += (uint64_t)st.st_size;
  }
  closedir(d);
  return total;
}

/* Bytes the allocator gives the live objects and their records. */
static uint64_t usable(void) {
  uint64_t n = malloc_usable_size(root);
  for (int i = 0; i < NSLOTS; i++) {
    const rec_t *x = root->slot[i];
    if (x != NULL)
      n += malloc_usable_size(x->p) + malloc_usable_size((void *)x);
  }
  return n;
}

/*
** Replaces objects by ones of the same size and kind, until stopped; parks
** between two replacements while asked to (pause), holding no object
** outside the table, but its cache full of them.
*/
static int pause_req, parked;

static void *replacer(void *arg) {
  int t = (int)(intptr_t)arg;
  uint64_t r = zdtm_mix((uint64_t)t + (uint64_t)getpid() * 131);
  while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
    for (int i = t; i < NSLOTS; i += NTHREADS) {
      if (__atomic_load_n(&pause_req, __ATOMIC_ACQUIRE)) {
        __atomic_add_fetch(&parked, 1, __ATOMIC_ACQ_REL);
        while (__atomic_load_n(&pause_req, __ATOMIC_ACQUIRE))
          sleep_ms(1);
        __atomic_sub_fetch(&parked, 1, __ATOMIC_ACQ_REL);
      }
      if (__atomic_load_n(&stop, __ATOMIC_RELAXED))
        break;
      const rec_t *x = __atomic_load_n(&root->slot[i], __ATOMIC_ACQUIRE);
      if (x == NULL)
        continue; /* slots of this thread only: nobody else changes it */
      r = zdtm_mix(r);
      rec_t *y = malloc(sizeof *y);
      check(y != NULL, "malloc of a record failed");
      *y = *x;
      y->seed = r;
      if (x->align) {
        void *p = NULL;
        check(posix_memalign(&p, x->align, x->size) == 0, "posix_memalign");
        y->p = p;
      } else {
        y->p = malloc(x->size);
      }
      check(y->p != NULL, "allocation failed");
      zdtm_fill(y->p, y->size, y->seed);
      publish(i, y);
    }
  }
  return NULL;
}

/*
** One generation.  Odd ones end with a checkpoint taken after the threads
** stopped (allocated is then recorded exactly), even ones with the last
** checkpoint taken while 8 threads were alive with full caches (parked
** between two replacements), which the checkpoint's child gives back.
** Either way, allocated less the bytes of the live objects and records
** (the runtime's own) must stay what it was after the first generation.
*/
static int gen(const char *path, int incremental) {
  perm_register(&root, sizeof root, "root");
  if (perm_open(path, incremental ? "a+i" : "a+") != 0)
    fail("perm_open: %s", perm_error());
  pthread_t th[NTHREADS];
  if (!perm_restored()) {
    root = calloc(1, sizeof *root);
    check(root != NULL, "calloc of the root failed");
    /* The live data: a random heap made by the load, then kept. */
    start(th);
    sleep_ms(300);
    finish(th);
    record();
    root->base_allocated = root->allocated;
    root->gens = 1;
    printf("fresh heap: %llu objects\n", (unsigned long long)root->objects);
  } else {
    perm_stats_t st;
    perm_stats(&st);
    uint64_t bytes, n = walk(&bytes);
    if (root->quiet && root->generation == st.generation) {
      check(n == root->objects && bytes == root->bytes,
            "%llu objects (%llu bytes), recorded %llu (%llu bytes)",
            (unsigned long long)n, (unsigned long long)bytes,
            (unsigned long long)root->objects, (unsigned long long)root->bytes);
      check(st.allocated == root->allocated,
            "allocated %llu after the restore, %llu at the checkpoint",
            (unsigned long long)st.allocated,
            (unsigned long long)root->allocated);
    } else {
      /* Taken with the threads parked: nothing was in their hands. */
      check(n == root->objects, "%llu objects, %llu before the load",
            (unsigned long long)n, (unsigned long long)root->objects);
    }
    /*
    ** Constant live data.  allocated less the live objects and records --
    ** what the runtime keeps in the heap for itself -- stays as it was: a
    ** cache the checkpoint's child did not give back would count there.
    ** The files: a full image stays within 1.5 times the first one and a
    ** megabyte; with deltas, NAME's chain and NAME.prev's (each at most a
    ** full image, deltas up to PERM_CHAIN_RATIO = 0.5 of it, and one more
    ** delta of up to a full image), within four times.
    */
    int64_t overhead = (int64_t)(st.allocated - usable());
    uint64_t files = image_files(path);
    if (root->gens == 1) {
      root->base_files = files;
      root->base_overhead = overhead;
    }
    if (files > root->max_files)
      root->max_files = files;
    int64_t growth = overhead - root->base_overhead;
    check(growth == 0,
          "the runtime's own bytes in the heap moved by %lld over %llu "
          "generations (allocated %llu)",
          (long long)growth, (unsigned long long)root->gens,
          (unsigned long long)st.allocated);
    uint64_t bound = (incremental ? 4 * root->base_files
                                  : root->base_files + root->base_files / 2) +
                     (1u << 20);
    check(files <= bound,
          "the image's files hold %llu bytes after %llu generations, %llu "
          "after the first",
          (unsigned long long)files, (unsigned long long)root->gens,
          (unsigned long long)root->base_files);
    printf("generation %llu ok\n", (unsigned long long)root->gens);
    fprintf(stderr,
            "stress: after gen %llu (%s): %llu objects, allocated %llu, own "
            "bytes %lld (%+lld), files %llu (first %llu, max %llu)\n",
            (unsigned long long)root->gens,
            root->quiet && root->generation == st.generation ? "quiet"
                                                              : "threads alive",
            (unsigned long long)n, (unsigned long long)st.allocated,
            (long long)overhead, (long long)growth, (unsigned long long)files,
            (unsigned long long)root->base_files,
            (unsigned long long)root->max_files);
    int quiet_end = root->gens % 2 == 1;
    root->gens++;
    root->quiet = 0;
    __atomic_store_n(&stop, 0, __ATOMIC_RELAXED);
    for (int t = 0; t < NTHREADS; t++)
      check(pthread_create(&th[t], NULL, replacer, (void *)(intptr_t)t) == 0,
            "pthread_create failed");
    sleep_ms(20);
    __atomic_store_n(&pause_req, 1, __ATOMIC_RELEASE);
    while (__atomic_load_n(&parked, __ATOMIC_ACQUIRE) < NTHREADS)
      sleep_ms(1);
    if (perm_checkpoint_async() != 0)
      fail("perm_checkpoint_async: %s", perm_error());
    __atomic_store_n(&pause_req, 0, __ATOMIC_RELEASE);
    sleep_ms(10);
    if (perm_wait() != 0)
      fail("perm_wait: %s", perm_error());
    __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
    for (int t = 0; t < NTHREADS; t++)
      pthread_join(th[t], NULL);
    if (!quiet_end)
      return 0; /* the image taken under load is the last */
    record();
  }
  if (perm_checkpoint() != 0)
    fail("perm_checkpoint: %s", perm_error());
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, outbuf, _IOLBF, sizeof outbuf);
  if (argc >= 4 && strcmp(argv[2], "run") == 0) {
    perm_register(&root, sizeof root, "root");
    return run(argv[1], atof(argv[3]), argc > 4 && strcmp(argv[4], "i") == 0);
  }
  if (argc == 3 && strcmp(argv[2], "verify") == 0)
    return verify(argv[1]);
  if (argc >= 3 && strcmp(argv[2], "gen") == 0)
    return gen(argv[1], argc > 3 && strcmp(argv[3], "i") == 0);
  fprintf(stderr, "usage: stress IMAGE run SECONDS [i] | verify | gen [i]\n");
  return 2;
}
