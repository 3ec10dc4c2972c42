// A region of N bytes holds what its size says: live blocks whose requested
// sizes add up to 80 % of N at 64 MiB and 85 % at 256 MiB, of mixed sizes
// (7 B to 1 MiB) or all of 4 MiB, survive a checkpoint and a restore in a new
// process with their bytes and the allocator's statistics; then allocating
// on until the region refuses gives NULL with ENOMEM, the heap still works
// (free, allocate again, checkpoint again) and the next process restores it.
// Filling to the target never prints "region full", even under PERM_VERBOSE;
// the one refused request prints one message saying so.
//
// capacity-4m.test runs the same with blocks of 4 MiB, capacity-arenas.test
// with memory that another thread's arena freed.  "capacity IMAGE probe MIX"
// (with PERM_SIZE) allocates until refused and prints how far it got: the
// figures of README.PERM, section 2.
//
// RUN: %clang %cflags %s %ldflags -lm -o %t.exe
// RUN: rm -rf %t.d && mkdir -p %t.d
//
// RUN: env PERM_SIZE=64M PERM_VERBOSE=1 %t.exe %t.d/64.img fill mixed 80 2>%t.d/64.fill | FileCheck --check-prefix=FILL %s
// RUN: not grep -E "region full|out of persistent memory" %t.d/64.fill
// RUN: env PERM_VERBOSE=1 %t.exe %t.d/64.img full 2>%t.d/64.full | FileCheck --check-prefix=FULL %s
// RUN: grep -c "out of persistent memory" %t.d/64.full | FileCheck --check-prefix=ONE %s
// RUN: %t.exe %t.d/64.img verify | FileCheck --check-prefix=VERIFY %s
//
// RUN: env PERM_SIZE=256M PERM_VERBOSE=1 %t.exe %t.d/256.img fill mixed 85 2>%t.d/256.fill | FileCheck --check-prefix=FILL %s
// RUN: not grep -E "region full|out of persistent memory" %t.d/256.fill
// RUN: env PERM_VERBOSE=1 %t.exe %t.d/256.img full 2>%t.d/256.full | FileCheck --check-prefix=FULL %s
// RUN: grep -c "out of persistent memory" %t.d/256.full | FileCheck --check-prefix=ONE %s
// RUN: %t.exe %t.d/256.img verify | FileCheck --check-prefix=VERIFY %s
//
// FILL: filled to {{[0-9]+}}.{{[0-9]}}% of the region: {{[0-9]+}} blocks, checkpoint generation 1
// FULL: restored {{[0-9]+}} blocks intact, allocated and active equal
// FULL-NEXT: refused at {{[0-9]+}}.{{[0-9]}}% of the region: NULL, errno ENOMEM
// FULL-NEXT: freed a block and allocated it again, checkpoint generation 2
// ONE: {{^1$}}
// VERIFY: restored {{[0-9]+}} blocks intact, allocated and active equal
#include "../Inputs/zdtm.h"
#include <errno.h>
#include <math.h>
#include <perm.h>
#include <pthread.h>

#define MAX_BLOCKS 16384u

typedef struct block_s {
  unsigned char *p;
  size_t n;
} block_t;

/* The persistent state: the blocks, the mix, and statistics to compare. */
typedef struct capacity_s {
  block_t *blocks;     /* in the persistent heap, MAX_BLOCKS entries (256 KiB) */
  uint64_t nblocks;    /* blocks[0, nblocks) are live */
  uint64_t requested;  /* bytes asked for, the table included */
  uint64_t next;       /* blocks drawn from the mix so far */
  int mix;             /* 0: 7 B to 1 MiB, log-uniform; 1: 4 MiB */
  uint64_t allocated;  /* jemalloc's statistics at the last checkpoint */
  uint64_t active;
} capacity_t;

static capacity_t cap;

/* The size of the i-th block of the mix. */
static size_t mix_size(int mix, uint64_t i) {
  if (mix == 1)
    return 4u << 20;
  double u = (double)(zdtm_mix(i) >> 11) / (double)(1ull << 53);
  return (size_t)exp(log(7.0) + u * (log(1048576.0) - log(7.0)));
}

static double percent(uint64_t bytes) {
  perm_stats_t st;
  perm_stats(&st);
  return 100.0 * (double)bytes / (double)st.region_size;
}

/* Allocates the next block of the mix; 0 when the heap refused it. */
static int add_block(void) {
  check(cap.nblocks < MAX_BLOCKS, "more than %u blocks", MAX_BLOCKS);
  size_t n = mix_size(cap.mix, cap.next);
  errno = 0;
  unsigned char *p = malloc(n);
  if (p == NULL)
    return 0;
  zdtm_fill(p, n, (uint64_t)p);
  cap.blocks[cap.nblocks++] = (block_t){p, n};
  cap.requested += n;
  cap.next++;
  return 1;
}

static void save_stats(void) {
  perm_stats_t st;
  perm_stats(&st);
  cap.allocated = st.allocated;
  cap.active = st.active;
}

static void checkpoint(void) {
  save_stats();
  if (perm_checkpoint() != 0)
    fail("perm_checkpoint: %s", perm_error());
}

static uint64_t generation(void) {
  perm_stats_t st;
  perm_stats(&st);
  return st.generation;
}

static void reopen(const char *path) {
  if (perm_open(path, "r+") != 0)
    fail("perm_open: %s", perm_error());
  check(perm_restored(), "'%s' was not restored", path);
  perm_stats_t st;
  perm_stats(&st); /* before anything else allocates */
  for (uint64_t i = 0; i < cap.nblocks; i++) {
    block_t *b = &cap.blocks[i];
    size_t bad = zdtm_verify(b->p, b->n, (uint64_t)b->p);
    check(bad == (size_t)-1, "block %llu (%zu bytes) differs at %zu",
          (unsigned long long)i, b->n, bad);
  }
  check(st.allocated == cap.allocated && st.active == cap.active,
        "allocated %llu, active %llu after restore; %llu, %llu at the "
        "checkpoint",
        (unsigned long long)st.allocated, (unsigned long long)st.active,
        (unsigned long long)cap.allocated, (unsigned long long)cap.active);
  printf("restored %llu blocks intact, allocated and active equal\n",
         (unsigned long long)cap.nblocks);
}

static void fill_to(double target) {
  while (percent(cap.requested) < target)
    if (!add_block())
      fail("malloc(%zu) refused at %.1f%% of the region (errno %d)",
           mix_size(cap.mix, cap.next), percent(cap.requested), errno);
}

/*
** Fills to the target and frees it all again, in a thread of its own (so an
** arena of its own), then stays alive until main is done: the last thread
** of an arena leaving would make jemalloc purge the arena.
*/
typedef struct handoff_s {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  double target;
  int freed, done;
} handoff_t;

static void *handoff_thread(void *arg) {
  handoff_t *h = arg;
  fill_to(h->target);
  while (cap.nblocks > 0) {
    block_t *b = &cap.blocks[--cap.nblocks];
    cap.requested -= b->n;
    free(b->p);
  }
  pthread_mutex_lock(&h->lock);
  h->freed = 1;
  pthread_cond_broadcast(&h->cond);
  while (!h->done)
    pthread_cond_wait(&h->cond, &h->lock);
  pthread_mutex_unlock(&h->lock);
  return NULL;
}

int main(int argc, char **argv) {
  check(argc >= 3, "usage: capacity IMAGE fill|handoff MIX PERCENT | full | "
                   "verify | probe MIX");
  perm_register(&cap, sizeof cap, "cap");
  const char *path = argv[1], *op = argv[2];
  if (!strcmp(op, "fill") || !strcmp(op, "handoff") || !strcmp(op, "probe")) {
    check(argc >= 4, "%s needs a mix", op);
    if (perm_open(path, "w+") != 0)
      fail("perm_open: %s", perm_error());
    cap.mix = !strcmp(argv[3], "4m");
    cap.blocks = calloc(MAX_BLOCKS, sizeof *cap.blocks);
    check(cap.blocks != NULL, "calloc of the table");
    cap.requested = MAX_BLOCKS * sizeof *cap.blocks;
    if (!strcmp(op, "probe")) {
      while (add_block())
        ;
      perm_stats_t st;
      perm_stats(&st);
      printf("probe %s: refused at %.1f%% of the region (%llu blocks; "
             "allocated %.1f%%, active %.1f%%, mapped %.1f%%), errno %d\n",
             argv[3], percent(cap.requested), (unsigned long long)cap.nblocks,
             percent(st.allocated), percent(st.active), percent(st.mapped),
             errno);
      return 0;
    }
    check(argc == 5, "%s needs a percentage", op);
    double target = atof(argv[4]);
    handoff_t h = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
                   target, 0, 0};
    pthread_t t;
    if (!strcmp(op, "handoff")) {
      /* Its arena keeps what it freed: this thread's arena needs it too. */
      check(pthread_create(&t, NULL, handoff_thread, &h) == 0,
            "pthread_create");
      pthread_mutex_lock(&h.lock);
      while (!h.freed)
        pthread_cond_wait(&h.cond, &h.lock);
      pthread_mutex_unlock(&h.lock);
      printf("another thread filled to %.1f%% and freed it all\n", target);
    }
    fill_to(target);
    if (!strcmp(op, "handoff")) {
      /* Its thread cache goes with it, as it would in the image. */
      pthread_mutex_lock(&h.lock);
      h.done = 1;
      pthread_cond_broadcast(&h.cond);
      pthread_mutex_unlock(&h.lock);
      pthread_join(t, NULL);
    }
    checkpoint();
    printf("filled to %.1f%% of the region: %llu blocks, checkpoint "
           "generation %llu\n",
           percent(cap.requested), (unsigned long long)cap.nblocks,
           (unsigned long long)generation());
    return 0;
  }
  reopen(path);
  if (!strcmp(op, "verify"))
    return 0;
  check(!strcmp(op, "full"), "unknown operation '%s'", op);
  while (add_block())
    ;
  check(errno == ENOMEM, "malloc returned NULL with errno %d, not ENOMEM",
        errno);
  printf("refused at %.1f%% of the region: NULL, errno ENOMEM\n",
         percent(cap.requested));
  /* The heap still works: give back a block, take the same size again. */
  check(cap.nblocks > 1, "nothing to free");
  block_t *last = &cap.blocks[--cap.nblocks];
  size_t n = last->n;
  free(last->p);
  cap.requested -= n;
  unsigned char *p = malloc(n);
  check(p != NULL, "malloc(%zu) after a free: %s", n, strerror(errno));
  zdtm_fill(p, n, (uint64_t)p);
  cap.blocks[cap.nblocks++] = (block_t){p, n};
  cap.requested += n;
  checkpoint();
  printf("freed a block and allocated it again, checkpoint generation %llu\n",
         (unsigned long long)generation());
  return 0;
}
