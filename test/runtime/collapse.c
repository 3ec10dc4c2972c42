// Huge pages given back after a checkpoint (PERM_COLLAPSE=1, collapse.c):
// the program writes one word of every page of a 96 MiB heap of 1 MiB
// chunks while an asynchronous checkpoint's child lives, which splits the
// huge pages it shares with the child; after perm_wait they are whole
// again.  Without PERM_COLLAPSE they stay split (the control, so the test
// can fail), and either way every byte is intact.
//
// REQUIRES: wp-async, thp
// RUN: %clang %cflags %s %ldflags -o %t.exe
// RUN: rm -rf %t.d && mkdir -p %t.d
// RUN: env PERM_COLLAPSE=1 %t.exe %t.d/a.img | FileCheck --check-prefix=ON %s
// RUN: %t.exe %t.d/b.img | FileCheck --check-prefix=OFF %s
// ON: huge pages after the writes: whole again
// OFF: huge pages after the writes: split
#include "../Inputs/zdtm.h"
#include <perm.h>
#include <stdio.h>

#define CHUNKS 96
#define MIB (1u << 20)

static char *chunk[CHUNKS];

/* AnonHugePages of the mappings inside the region, in KiB. */
static long region_huge_kib(void) {
  FILE *f = fopen("/proc/self/smaps", "r");
  check(f != NULL, "cannot read /proc/self/smaps");
  char line[512];
  int inside = 0;
  long kib = 0;
  while (fgets(line, sizeof line, f) != NULL) {
    unsigned long lo, hi;
    if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2)
      inside = lo >= 0x7e0000000000ul && hi <= 0x7f0000000000ul;
    long v;
    if (inside && sscanf(line, "AnonHugePages: %ld kB", &v) == 1)
      kib += v;
  }
  fclose(f);
  return kib;
}

int main(int argc, char **argv) {
  check(argc == 2, "usage: collapse IMAGE");
  if (perm_open(argv[1], "w+") != 0)
    fail("perm_open: %s", perm_error());
  for (int i = 0; i < CHUNKS; i++) {
    chunk[i] = malloc(MIB);
    check(chunk[i] != NULL, "malloc");
    zdtm_fill(chunk[i], MIB, (uint64_t)i);
  }
  long before = region_huge_kib();
  check(before >= 32 * 1024, "only %ld KiB of huge pages to begin with", before);
  if (perm_checkpoint_async() != 0)
    fail("checkpoint: %s", perm_error());
  for (int i = 0; i < CHUNKS; i++)
    for (size_t o = 0; o < MIB; o += 4096)
      chunk[i][o] ^= 0x5a; /* the child still shares this page */
  if (perm_wait() != 0)
    fail("perm_wait: %s", perm_error());
  long after = region_huge_kib();
  for (int i = 0; i < CHUNKS; i++) {
    for (size_t o = 0; o < MIB; o += 4096)
      chunk[i][o] ^= 0x5a;
    check(zdtm_verify(chunk[i], MIB, (uint64_t)i) == (size_t)-1,
          "chunk %d changed", i);
  }
  printf("huge pages after the writes: %s (%ld KiB before, %ld after)\n",
         after >= before * 9 / 10 ? "whole again" : "split", before, after);
  return 0;
}
