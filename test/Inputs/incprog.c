/*
** incprog.c - a heap of 110,000 objects (16 B to 4 MiB, 85 MB) in a 256 MiB
** region, changed a little between incremental checkpoints.
**   incprog IMAGE step     open "a+i": build the heap, or verify it and
**                          change it (rewrite 1% of the objects, free and
**                          reallocate 0.5%, free and reallocate a 1-4 MiB
**                          object, whose freed pages are purged); record
**                          what a restore must find; checkpoint
**   incprog IMAGE steps N  the same N times in one process, each image
**                          verified by "verify" in a new process, lazy and
**                          eager: checkpoints after the first in a process
**                          depend on what the previous child changed
**   incprog IMAGE verify   open read-only (PERM_RESTORE picks lazy or
**                          eager), check every object's bytes and the
**                          allocator's allocated bytes
** Every object's bytes are a function of its seed (zdtm.h), so a verify is
** exact, not a checksum.
*/
#include "zdtm.h"
#include <perm.h>

#define NOBJ 110000

typedef struct obj_s {
  unsigned char *p;
  size_t n;
  uint64_t seed;
} obj_t;

typedef struct incprog_s {
  obj_t *objs;       /* in the persistent heap */
  uint64_t gen;      /* steps taken */
  uint64_t next_seed;
  uint64_t allocated; /* perm_stats().allocated at the checkpoint */
} incprog_t;

static incprog_t st;

static size_t pick_size(uint64_t r, size_t i) {
  if (i % 20000 == 11)
    return (1u << 20) + (size_t)(r % (3u << 20)); /* 1-4 MiB */
  if (i % 1000 == 3)
    return 16384 + (size_t)(r % (240u << 10)); /* 16-256 KiB */
  return 16 + (size_t)(r % 1009);
}

static void set(size_t i) {
  obj_t *o = &st.objs[i];
  o->seed = ++st.next_seed;
  o->n = pick_size(zdtm_mix(o->seed), i);
  o->p = malloc(o->n);
  check(o->p != NULL, "malloc(%zu) failed", o->n);
  zdtm_fill(o->p, o->n, o->seed);
}

static void verify(void) {
  for (size_t i = 0; i < NOBJ; i++) {
    obj_t *o = &st.objs[i];
    size_t bad = zdtm_verify(o->p, o->n, o->seed);
    check(bad == (size_t)-1, "object %zu (%zu bytes at %p) differs at %zu", i,
          o->n, (void *)o->p, bad);
  }
  perm_stats_t s;
  perm_stats(&s);
  check(s.allocated == st.allocated,
        "allocated %llu bytes after the restore, %llu at the checkpoint",
        (unsigned long long)s.allocated, (unsigned long long)st.allocated);
}

static void change(void) {
  uint64_t r = zdtm_mix(st.gen * 7919);
  for (size_t k = 0; k < NOBJ / 100; k++) { /* rewrite in place */
    r = zdtm_mix(r);
    obj_t *o = &st.objs[r % NOBJ];
    o->seed = ++st.next_seed;
    zdtm_fill(o->p, o->n, o->seed);
  }
  for (size_t k = 0; k < NOBJ / 200; k++) { /* free, reallocate */
    r = zdtm_mix(r);
    size_t i = r % NOBJ;
    free(st.objs[i].p);
    set(i);
  }
  size_t big = 11 + 20000 * (size_t)(st.gen % 5); /* one of the 1-4 MiB ones */
  free(st.objs[big].p);
  set(big);
}

/* Verifies the image just written in new processes, lazily and eagerly. */
static void verify_elsewhere(const char *self, const char *image) {
  char cmd[8400];
  snprintf(cmd, sizeof cmd,
           "'%s' '%s' verify && PERM_RESTORE=eager '%s' '%s' verify", self,
           image, self, image);
  fflush(stdout);
  check(system(cmd) == 0, "generation %llu does not verify",
        (unsigned long long)st.gen);
}

static void checkpoint(void) {
  st.gen++;
  perm_stats_t s;
  perm_stats(&s);
  st.allocated = s.allocated;
  if (perm_checkpoint() != 0)
    fail("perm_checkpoint: %s", perm_error());
  perm_stats(&s);
  printf("generation %llu: %s, chain %llu, %llu bytes dirtied, %llu bytes of "
         "data written\n",
         (unsigned long long)s.generation, s.last_incremental ? "delta" : "full",
         (unsigned long long)s.chain_length,
         (unsigned long long)s.last_bytes_dirtied,
         (unsigned long long)s.last_data_bytes);
}

int main(int argc, char **argv) {
  check(argc == 3 || (argc == 4 && strcmp(argv[2], "steps") == 0),
        "usage: incprog IMAGE step|steps N|verify");
  perm_register(&st, sizeof st, "incprog");
  int steps = argc == 4 ? atoi(argv[3]) : 0;
  int step = steps > 0 || strcmp(argv[2], "step") == 0;
  if (perm_open(argv[1], step ? "a+i" : "r") != 0)
    fail("perm_open: %s", perm_error());
  if (!step) {
    verify();
    printf("verified generation %llu: %d objects, allocated equal\n",
           (unsigned long long)st.gen, NOBJ);
    return 0;
  }
  if (!perm_restored()) {
    st.objs = calloc(NOBJ, sizeof *st.objs);
    for (size_t i = 0; i < NOBJ; i++)
      set(i);
  } else {
    verify();
    change();
  }
  checkpoint();
  for (int k = 1; k < steps; k++) {
    verify_elsewhere(argv[0], argv[1]);
    change();
    checkpoint();
  }
  if (steps > 0)
    verify_elsewhere(argv[0], argv[1]);
  return 0;
}
