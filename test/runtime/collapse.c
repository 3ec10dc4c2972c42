// Huge pages given back after a checkpoint (PERM_COLLAPSE, collapse.c):
// the program writes one word of every page of a 96 MiB heap of 1 MiB
// chunks while an asynchronous checkpoint's child lives, which splits the
// huge pages it shares with the child; after perm_wait they are whole
// again: at once with PERM_COLLAPSE=sync, within seconds with
// PERM_COLLAPSE=1 (the runtime's own thread, while the program runs).
// Without it (unset or 0) they stay split (the control, so the test can
// fail), and every byte is intact.  With the background thread alive, a
// checkpoint, a perm_rollback (which needs the caller alone: the worker
// does not count) and a child forked by the program that closes the heap
// all work.
//
// REQUIRES: wp-async, thp
// RUN: %clang %cflags %s %ldflags -o %t.exe
// RUN: rm -rf %t.d && mkdir -p %t.d
// RUN: env PERM_COLLAPSE=1 %t.exe %t.d/a.img | FileCheck --check-prefix=ON %s
// RUN: env PERM_COLLAPSE=sync %t.exe %t.d/c.img | FileCheck --check-prefix=SYNC %s
// RUN: env PERM_COLLAPSE=0 %t.exe %t.d/b.img | FileCheck --check-prefix=OFF %s
// RUN: %t.exe %t.d/e.img | FileCheck --check-prefix=OFF %s
// RUN: not env PERM_COLLAPSE=later %t.exe %t.d/d.img 2>&1 | FileCheck --check-prefix=BAD %s
// ON: huge pages after the writes: whole again
// ON: rolled back with the collapse thread alive: ok
// ON: child closed the heap: ok
// SYNC: huge pages after the writes: whole again (at once)
// OFF: huge pages after the writes: split
// BAD: PERM_COLLAPSE='later': use 1 (or background), sync or 0
#include "../Inputs/zdtm.h"
#include <perm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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
  const char *how = getenv("PERM_COLLAPSE");
  int off = how == NULL || strcmp(how, "0") == 0;
  int sync = how != NULL && strcmp(how, "sync") == 0;
  /* The background pass runs while the program does: give it 20 s. */
  for (int i = 0; !sync && !off && after < before * 9 / 10 && i < 200; i++) {
    struct timespec tick = {0, 100 * 1000 * 1000};
    nanosleep(&tick, NULL);
    after = region_huge_kib();
  }
  for (int i = 0; i < CHUNKS; i++) {
    for (size_t o = 0; o < MIB; o += 4096)
      chunk[i][o] ^= 0x5a;
    check(zdtm_verify(chunk[i], MIB, (uint64_t)i) == (size_t)-1,
          "chunk %d changed", i);
  }
  printf("huge pages after the writes: %s%s (%ld KiB before, %ld after)\n",
         after >= before * 9 / 10 ? "whole again" : "split",
         sync ? " (at once)" : "", before, after);
  if (off || sync)
    return 0;
  /* The worker is alive (it waits for the next request). */
  if (perm_checkpoint() != 0)
    fail("checkpoint: %s", perm_error());
  for (int i = 0; i < CHUNKS; i++)
    chunk[i][7] ^= 0x33; /* undone by the rollback */
  if (perm_rollback(argv[1]) != 0)
    fail("perm_rollback: %s", perm_error());
  for (int i = 0; i < CHUNKS; i++)
    check(zdtm_verify(chunk[i], MIB, (uint64_t)i) == (size_t)-1,
          "chunk %d not rolled back", i);
  printf("rolled back with the collapse thread alive: ok\n");
  if (perm_checkpoint() != 0) /* and a new request to the worker */
    fail("checkpoint: %s", perm_error());
  fflush(stdout);
  pid_t pid = fork();
  check(pid >= 0, "fork");
  if (pid == 0) /* no worker here, and its lock may be copied held */
    _exit(perm_close() == 0 ? 0 : 1);
  int status;
  check(waitpid(pid, &status, 0) == pid, "waitpid");
  check(WIFEXITED(status) && WEXITSTATUS(status) == 0,
        "the child's perm_close failed (status %d)", status);
  printf("child closed the heap: ok\n");
  if (perm_close() != 0)
    fail("perm_close: %s", perm_error());
  return 0;
}
