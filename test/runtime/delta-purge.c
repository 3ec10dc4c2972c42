// Pages the allocator purges between checkpoints come back as zero (or not
// at all) from a delta, never as the bytes the full image before it holds.
//
// REQUIRES: wp-async
// RUN: %clang %cflags %s %ldflags -o %t.exe
// RUN: rm -rf %t.d && mkdir -p %t.d
// RUN: %t.exe %t.d/img write | FileCheck --check-prefix=WRITE %s
// RUN: %t.exe %t.d/img check | FileCheck --check-prefix=CHECK %s
// RUN: env PERM_RESTORE=eager %t.exe %t.d/img check | FileCheck --check-prefix=CHECK %s
// WRITE: generation 1: full
// WRITE: generation 2: delta
// CHECK: the freed 16777216 bytes are {{zero|absent}}; the kept object is intact
#include "../Inputs/zdtm.h"
#include <perm.h>

#define BIG (16u << 20)

typedef struct state_s {
  unsigned char *big;  /* freed before the second checkpoint */
  unsigned char *kept; /* still there */
} state_t;

static state_t st;

static void checkpoint(void) {
  if (perm_checkpoint() != 0)
    fail("checkpoint: %s", perm_error());
  perm_stats_t s;
  perm_stats(&s);
  printf("generation %llu: %s\n", (unsigned long long)s.generation,
         s.last_incremental ? "delta" : "full");
}

/* Is [p, p+n) mapped readable?  A range given back may be PROT_NONE. */
static int readable(const void *p, size_t n) {
  FILE *f = fopen("/proc/self/maps", "r");
  char line[512];
  int ok = 0;
  while (f != NULL && fgets(line, sizeof line, f) != NULL) {
    unsigned long lo, hi;
    char perms[8];
    if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 &&
        lo <= (unsigned long)p && (unsigned long)p + n <= hi)
      ok = perms[0] == 'r';
  }
  if (f != NULL)
    fclose(f);
  return ok;
}

int main(int argc, char **argv) {
  check(argc == 3, "usage: delta-purge IMAGE write|check");
  perm_register(&st, sizeof st, "st");
  int write = strcmp(argv[2], "write") == 0;
  if (perm_open(argv[1], write ? "w+i" : "r") != 0)
    fail("perm_open: %s", perm_error());
  if (write) {
    st.big = malloc(BIG);
    memset(st.big, 0xab, BIG);
    st.kept = malloc(4096);
    zdtm_fill(st.kept, 4096, 7);
    checkpoint();
    free(st.big); /* purged by the checkpoint's child, if not before */
    checkpoint();
    return 0;
  }
  check(zdtm_verify(st.kept, 4096, 7) == (size_t)-1, "the kept object changed");
  if (!readable(st.big, BIG)) {
    printf("the freed %u bytes are absent; the kept object is intact\n", BIG);
    return 0;
  }
  for (size_t i = 0; i < BIG; i++)
    check(st.big[i] == 0, "byte %zu of the freed object is 0x%02x", i,
          st.big[i]);
  printf("the freed %u bytes are zero; the kept object is intact\n", BIG);
  return 0;
}
