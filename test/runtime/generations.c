// Lazy restore (the default), eager restore and metadata-only verification
// each restore one of the generations.
//
// Three generations of a heap of 200k live objects of mixed sizes (small,
// large and huge classes).  Each generation verifies every object's bytes,
// checks that the allocator's allocated bytes equal those at the checkpoint,
// then frees a third, reallocs a third (contents preserved), allocates new.
//
// RUN: %clang %cflags %s %ldflags -o %t.exe
// RUN: rm -rf %t.d && mkdir -p %t.d
// RUN: %t.exe %t.d/heap.img | FileCheck --check-prefix=GEN1 %s
// RUN: %t.exe %t.d/heap.img | FileCheck --check-prefix=GEN2 %s
// RUN: env PERM_RESTORE=eager %t.exe %t.d/heap.img | FileCheck --check-prefix=GEN3 %s
// RUN: env PERM_VERIFY=metadata %t.exe %t.d/heap.img | FileCheck --check-prefix=GEN4 %s
// GEN1: fresh heap: 200000 objects
// GEN1: checkpoint generation 1
// GEN2: restored generation 1: 200000 objects verified, allocated equal
// GEN2: checkpoint generation 2
// GEN3: restored generation 2: 200000 objects verified, allocated equal
// GEN4: restored generation 3: 200000 objects verified, allocated equal
#include "../Inputs/zdtm.h"
#include <perm.h>

#define NOBJ 200000

typedef struct obj_s {
  unsigned char *p;
  size_t n;
  uint64_t seed;
} obj_t;

static obj_t *objs;            /* in the persistent heap */
static uint64_t saved_allocated;
static uint64_t next_seed;

static size_t pick_size(uint64_t r, size_t i) {
  if (i % 25000 == 7)
    return (2u << 20) + (size_t)(r % (6u << 20)); /* huge: 2-8 MiB */
  if (i % 1000 == 3)
    return 16384 + (size_t)(r % (1u << 20)); /* large: 16 KiB-1 MiB */
  return 16 + (size_t)(r % 1000);            /* small */
}

static void make(obj_t *o, size_t i) {
  uint64_t seed = ++next_seed;
  o->n = pick_size(zdtm_mix(seed), i);
  o->p = malloc(o->n);
  check(o->p != NULL, "malloc(%zu)", o->n);
  o->seed = seed;
  zdtm_fill(o->p, o->n, seed);
}

int main(int argc, char **argv) {
  check(argc == 2, "usage: generations IMAGE");
  perm_register(&objs, sizeof objs, "objs");
  perm_register(&saved_allocated, sizeof saved_allocated, "saved_allocated");
  perm_register(&next_seed, sizeof next_seed, "next_seed");
  if (perm_open(argv[1], "a+") != 0)
    fail("perm_open: %s", perm_error());
  perm_stats_t st;
  if (perm_restored()) {
    perm_stats(&st); /* before anything else can allocate */
    uint64_t allocated = st.allocated;
    for (size_t i = 0; i < NOBJ; i++) {
      size_t bad = zdtm_verify(objs[i].p, objs[i].n, objs[i].seed);
      check(bad == (size_t)-1, "object %zu (%zu bytes) differs at %zu", i,
            objs[i].n, bad);
    }
    check(allocated == saved_allocated,
          "allocated %llu after restore, %llu at the checkpoint",
          (unsigned long long)allocated, (unsigned long long)saved_allocated);
    printf("restored generation %llu: %d objects verified, allocated equal\n",
           (unsigned long long)st.generation, NOBJ);
    for (size_t i = 0; i < NOBJ; i++) {
      obj_t *o = &objs[i];
      if (i % 3 == 0) {
        free(o->p);
        make(o, i);
      } else if (i % 3 == 1) {
        size_t keep = o->n;
        size_t n = pick_size(zdtm_mix(++next_seed), i);
        unsigned char *q = realloc(o->p, n);
        check(q != NULL, "realloc");
        size_t common = (keep < n ? keep : n) & ~(size_t)7; /* whole words */
        size_t bad = zdtm_verify(q, common, o->seed);
        check(bad == (size_t)-1, "realloc of object %zu lost bytes at %zu", i, bad);
        o->p = q;
        o->n = n;
        o->seed = ++next_seed;
        zdtm_fill(q, n, o->seed);
      }
    }
  } else {
    objs = calloc(NOBJ, sizeof *objs);
    check(objs != NULL, "calloc");
    for (size_t i = 0; i < NOBJ; i++)
      make(&objs[i], i);
    printf("fresh heap: %d objects\n", NOBJ);
  }
  fflush(stdout);
  perm_stats(&st);
  saved_allocated = st.allocated;
  if (perm_checkpoint() != 0)
    fail("perm_checkpoint: %s", perm_error());
  perm_stats(&st);
  printf("checkpoint generation %llu\n", (unsigned long long)st.generation);
  return 0;
}
