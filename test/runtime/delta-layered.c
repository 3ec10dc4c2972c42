// A chain whose deltas cut the heap into more pieces than the process may
// map (vm.max_map_count, here lowered with PERM_TEST_MAP_LIMIT), or into
// more pieces than the pages they hold, restores lazily layered: the full
// image mapped, the deltas' pages read over it, the pages they made zero
// cleared -- short ranges with memset, long ones mapped anew.  Every
// object's bytes are checked after layered and eager restores, and a
// process that restored layered goes on: it frees, allocates, rewrites and
// checkpoints, and the next restores find all of it.
//
// REQUIRES: wp-async
// RUN: %clang %cflags %s %ldflags -o %t.exe
// RUN: rm -rf %t.d && mkdir -p %t.d
// RUN: %t.exe %t.d/img write | FileCheck --check-prefix=WRITE %s
// RUN: env PERM_TEST_MAP_LIMIT=200 PERM_VERBOSE=1 %t.exe %t.d/img check 2>&1 | FileCheck --check-prefix=LAYERED %s
// RUN: env PERM_VERBOSE=1 %t.exe %t.d/img check 2>&1 | FileCheck --check-prefix=FEWER %s
// RUN: env PERM_RESTORE=eager %t.exe %t.d/img check | FileCheck --check-prefix=CHECK %s
// RUN: env PERM_TEST_MAP_LIMIT=200 PERM_VERBOSE=1 %t.exe %t.d/img step 2>&1 | FileCheck --check-prefix=STEP %s
// RUN: env PERM_TEST_MAP_LIMIT=200 %t.exe %t.d/img check | FileCheck --check-prefix=CHECK5 %s
// RUN: env PERM_RESTORE=eager %t.exe %t.d/img check | FileCheck --check-prefix=CHECK5 %s
// RUN: %perm check --quiet %t.d/img
//
// WRITE: generation 1: full
// WRITE: generation 4: delta, chain 4
// LAYERED: restoring '{{.*}}' layered: its data are in {{[0-9]+}} pieces, more than this process may map; mapping the full image's {{[0-9]+}} pieces lazily, reading the deltas' {{[0-9]+}} bytes and zeroing the ranges they dropped: {{[1-9][0-9]*}} mapped anew, {{[1-9][0-9]*}} cleared
// LAYERED: generation 4: 20240 objects verified, 144 of them zero
// FEWER: restoring '{{.*}}' layered: its data are in {{[0-9]+}} pieces, more than the {{[0-9]+}} mappings and page reads of a layered restore
// FEWER: generation 4: 20240 objects verified, 144 of them zero
// CHECK: generation 4: 20240 objects verified, 144 of them zero
// STEP: mapping the full image's
// STEP: generation 4: 20240 objects verified
// STEP: generation 5: delta, chain 5
// CHECK5: generation 5: 20240 objects verified, 144 of them zero
#include "../Inputs/zdtm.h"
#include <perm.h>

#define NSMALL 20000 /* 64 B to 2 KiB */
#define NPAGE 200    /* 8 KiB: whole pages */
#define NBIG 40      /* 256 KiB */
#define NOBJ (NSMALL + NPAGE + NBIG)

typedef struct obj_s {
  unsigned char *p;
  size_t n;
  uint64_t seed; /* 0: every byte zero */
} obj_t;

typedef struct state_s {
  obj_t *objs; /* in the persistent heap */
  uint64_t next_seed;
} state_t;

static state_t st;

static size_t obj_size(size_t i) {
  if (i < NSMALL)
    return 64 + (size_t)(zdtm_mix(i) % 1985);
  return i < NSMALL + NPAGE ? 8192 : 256u << 10;
}

static void set(obj_t *o, uint64_t seed) {
  o->seed = seed;
  if (seed == 0)
    memset(o->p, 0, o->n);
  else
    zdtm_fill(o->p, o->n, seed);
}

static void checkpoint(void) {
  if (perm_checkpoint() != 0)
    fail("checkpoint: %s", perm_error());
  perm_stats_t s;
  perm_stats(&s);
  printf("generation %llu: %s, chain %u\n", (unsigned long long)s.generation,
         s.last_incremental ? "delta" : "full", (unsigned)s.chain_length);
}

static void verify(void) {
  perm_stats_t s;
  perm_stats(&s);
  size_t zero = 0;
  for (size_t i = 0; i < NOBJ; i++) {
    const obj_t *o = &st.objs[i];
    check(o->n == obj_size(i), "object %zu: size %zu", i, o->n);
    if (o->seed == 0) {
      for (size_t b = 0; b < o->n; b++)
        check(o->p[b] == 0, "object %zu: byte %zu is 0x%02x, not zero", i, b,
              o->p[b]);
      zero++;
    } else {
      size_t bad = zdtm_verify(o->p, o->n, o->seed);
      check(bad == (size_t)-1, "object %zu (%zu bytes): byte %zu differs", i,
            o->n, bad);
    }
  }
  printf("generation %llu: %d objects verified, %zu of them zero\n",
         (unsigned long long)s.generation, NOBJ, zero);
}

/* Rewrites one object in step (scattered over the heap: many pieces). */
static void rewrite(size_t step, size_t phase) {
  for (size_t i = phase; i < NSMALL; i += step)
    set(&st.objs[i], st.next_seed++);
}

static void write_chain(void) {
  st.objs = malloc(NOBJ * sizeof *st.objs);
  check(st.objs != NULL, "malloc");
  st.next_seed = 1;
  for (size_t i = 0; i < NOBJ; i++) {
    st.objs[i].n = obj_size(i);
    st.objs[i].p = malloc(st.objs[i].n);
    check(st.objs[i].p != NULL, "malloc %zu", st.objs[i].n);
    set(&st.objs[i], st.next_seed++);
  }
  checkpoint();
  /* Every other page object and big object made zero: a delta drops them. */
  for (size_t i = NSMALL; i < NOBJ; i += 2)
    set(&st.objs[i], 0);
  for (size_t i = NSMALL + 1; i < NSMALL + 2 * 48; i += 4)
    set(&st.objs[i], 0); /* 24 more of the page objects */
  rewrite(61, 0);
  checkpoint();
  rewrite(53, 7);
  checkpoint();
  rewrite(47, 3);
  checkpoint();
}

/* After a restore: free and reallocate some, rewrite some, checkpoint. */
static void step(void) {
  for (size_t i = 5; i < NSMALL; i += 97) {
    free(st.objs[i].p);
    st.objs[i].p = malloc(st.objs[i].n);
    check(st.objs[i].p != NULL, "malloc %zu", st.objs[i].n);
    set(&st.objs[i], st.next_seed++);
  }
  rewrite(43, 11);
  checkpoint();
}

int main(int argc, char **argv) {
  check(argc == 3, "usage: delta-layered IMAGE write|check|step");
  perm_register(&st, sizeof st, "st");
  const char *what = argv[2];
  int write = strcmp(what, "write") == 0, go_on = strcmp(what, "step") == 0;
  if (perm_open(argv[1], write ? "w+i" : go_on ? "a+i" : "r") != 0)
    fail("perm_open: %s", perm_error());
  if (write) {
    write_chain();
    return 0;
  }
  check(perm_restored(), "nothing restored");
  verify();
  if (go_on)
    step();
  return 0;
}
