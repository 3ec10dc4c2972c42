// The region's list of free runs grows past the 256 entries its saved state
// holds, into a run of the region itself, and survives checkpoints and
// restores.  2048 blocks of 16 KiB (each its own mapping); every other one is
// freed and the arenas give the pages back to the region (an allocation too
// big for the region makes them purge before it fails), which leaves 1024
// holes; the blocks are allocated again with calloc, into the holes, which
// must read as zero (jemalloc does not clear memory it has just mapped), and
// every block is verified, in this process and in the next ones.
//
// RUN: %clang %cflags %s %ldflags -o %t.exe
// RUN: rm -rf %t.d && mkdir -p %t.d
// RUN: env PERM_SIZE=64M %t.exe %t.d/img 0 | FileCheck --check-prefix=GEN1 %s
// RUN: %t.exe %t.d/img 1 | FileCheck --check-prefix=GEN2 %s
// RUN: %t.exe %t.d/img 0 | FileCheck --check-prefix=GEN3 %s
// GEN1: fresh heap: 2048 blocks
// GEN1-NEXT: 1024 holes punched and filled again, all blocks intact
// GEN1-NEXT: checkpoint generation 1
// GEN2: restored generation 1: 2048 blocks intact, allocated equal
// GEN2-NEXT: 1024 holes punched and filled again, all blocks intact
// GEN2-NEXT: checkpoint generation 2
// GEN3: restored generation 2: 2048 blocks intact, allocated equal
#include "../Inputs/zdtm.h"
#include <errno.h>
#include <perm.h>

#define NBLOCKS 2048
#define BLOCK (16u << 10)

static unsigned char **blocks; /* in the persistent heap */
static uint64_t saved_allocated;

/* calloc: memory the region hands out again must read as zero. */
static void fill_block(size_t i) {
  blocks[i] = calloc(1, BLOCK);
  check(blocks[i] != NULL, "calloc of block %zu: %s", i, strerror(errno));
  for (size_t j = 0; j < BLOCK; j++)
    check(blocks[i][j] == 0, "block %zu from calloc has a byte %#x at %zu", i,
          blocks[i][j], j);
  zdtm_fill(blocks[i], BLOCK, (uint64_t)blocks[i]);
}

static void verify_all(void) {
  for (size_t i = 0; i < NBLOCKS; i++) {
    size_t bad = zdtm_verify(blocks[i], BLOCK, (uint64_t)blocks[i]);
    check(bad == (size_t)-1, "block %zu differs at %zu", i, bad);
  }
}

int main(int argc, char **argv) {
  check(argc == 3, "usage: region-holes IMAGE PHASE");
  perm_register(&blocks, sizeof blocks, "blocks");
  perm_register(&saved_allocated, sizeof saved_allocated, "saved_allocated");
  if (perm_open(argv[1], "a+") != 0)
    fail("perm_open: %s", perm_error());
  perm_stats_t st;
  if (perm_restored()) {
    perm_stats(&st);
    verify_all();
    check(st.allocated == saved_allocated,
          "allocated %llu after restore, %llu at the checkpoint",
          (unsigned long long)st.allocated,
          (unsigned long long)saved_allocated);
    printf("restored generation %llu: %d blocks intact, allocated equal\n",
           (unsigned long long)st.generation, NBLOCKS);
  } else {
    blocks = calloc(NBLOCKS, sizeof *blocks);
    check(blocks != NULL, "calloc");
    for (size_t i = 0; i < NBLOCKS; i++)
      fill_block(i);
    printf("fresh heap: %d blocks\n", NBLOCKS);
  }
  size_t phase = (size_t)atoi(argv[2]);
  for (size_t i = phase; i < NBLOCKS; i += 2)
    free(blocks[i]);
  /* Too big for the region: the arenas purge, the pages go to the region. */
  perm_stats(&st);
  errno = 0;
  void *volatile big = malloc(st.region_size - 4096);
  check(big == NULL && errno == ENOMEM,
        "an allocation as big as the region did not fail with ENOMEM");
  for (size_t i = phase; i < NBLOCKS; i += 2)
    fill_block(i);
  verify_all();
  printf("%d holes punched and filled again, all blocks intact\n",
         NBLOCKS / 2);
  fflush(stdout);
  perm_stats(&st);
  saved_allocated = st.allocated;
  if (perm_checkpoint() != 0)
    fail("perm_checkpoint: %s", perm_error());
  perm_stats(&st);
  printf("checkpoint generation %llu\n", (unsigned long long)st.generation);
  return 0;
}
