// What an image costs follows what the heap holds (issue 11, target 5):
//   - a heap of 4 KiB makes an image of at most 256 KiB on disk: the
//     allocator's sparse metadata is saved page by page, not in runs that
//     carry its zero pages along;
//   - a heap whose data lie in more pieces than the process may map
//     (vm.max_map_count, here lowered with PERM_TEST_MAP_LIMIT) still
//     restores lazily requested, read eagerly, with every byte intact.
//
// RUN: %clang %cflags %s %ldflags -o %t.exe
// RUN: rm -rf %t.d && mkdir -p %t.d
// RUN: %t.exe small %t.d/small | FileCheck --check-prefix=SMALL %s
// RUN: %t.exe small %t.d/small | FileCheck --check-prefix=SMALL-AGAIN %s
// RUN: %t.exe pieces %t.d/pieces | FileCheck --check-prefix=PIECES %s
// RUN: %perm info %t.d/pieces | FileCheck --check-prefix=INFO %s
// RUN: env PERM_TEST_MAP_LIMIT=100 PERM_VERBOSE=1 %t.exe pieces %t.d/pieces 2>&1 | FileCheck --check-prefix=EAGER %s
// RUN: %t.exe pieces %t.d/pieces | FileCheck --check-prefix=LAZY %s
//
// SMALL: 4 KiB heap: image of {{[0-9]+}} KiB on disk, at most 256
// SMALL-AGAIN: restored 64 objects intact
// PIECES: 1200 objects, one page in ten written: no zero page saved
// INFO: data: {{.*}} in {{1[2-9][0-9][0-9]}} extents
// EAGER: holds its data in {{[0-9]+}} pieces, more than this process may map, and it is a full image: restoring eagerly
// EAGER: restored 1200 objects intact
// LAZY-NOT: restoring eagerly
// LAZY: restored 1200 objects intact
#include "../Inputs/zdtm.h"
#include <perm.h>
#include <sys/stat.h>
#include <unistd.h>

static unsigned char **objs;

static uint64_t disk_bytes(const char *path) {
  struct stat st;
  check(stat(path, &st) == 0, "stat %s", path);
  return (uint64_t)st.st_blocks * 512;
}

/* 64 objects of 64 bytes. */
static int small(const char *path) {
  if (perm_restored()) {
    for (int i = 0; i < 64; i++)
      check(zdtm_verify(objs[i], 64, (uint64_t)i) == (size_t)-1,
            "object %d differs", i);
    printf("restored 64 objects intact\n");
    return 0;
  }
  objs = malloc(64 * sizeof *objs);
  for (int i = 0; i < 64; i++) {
    objs[i] = malloc(64);
    zdtm_fill(objs[i], 64, (uint64_t)i);
  }
  check(perm_checkpoint() == 0, "checkpoint: %s", perm_error());
  uint64_t kib = disk_bytes(path) >> 10;
  check(kib <= 256, "a 4 KiB heap made an image of %llu KiB",
        (unsigned long long)kib);
  printf("4 KiB heap: image of %llu KiB on disk, at most 256\n",
         (unsigned long long)kib);
  return 0;
}

/*
** 1200 objects of 40 KiB, each with its first page written and the nine
** after it left zero: one extent per object.
*/
#define NPIECES 1200
#define PIECE (40 << 10)

static int pieces(void) {
  if (perm_restored()) {
    for (int i = 0; i < NPIECES; i++) {
      check(zdtm_verify(objs[i], 4096, (uint64_t)i) == (size_t)-1,
            "object %d differs", i);
      for (size_t k = 4096; k < PIECE; k++)
        check(objs[i][k] == 0, "object %d: byte %zu is not zero", i, k);
    }
    printf("restored %d objects intact\n", NPIECES);
    return 0;
  }
  objs = malloc(NPIECES * sizeof *objs);
  for (int i = 0; i < NPIECES; i++) {
    objs[i] = aligned_alloc(4096, PIECE);
    check(objs[i] != NULL, "aligned_alloc: %m");
    zdtm_fill(objs[i], 4096, (uint64_t)i);
  }
  check(perm_checkpoint() == 0, "checkpoint: %s", perm_error());
  perm_stats_t st;
  perm_stats(&st);
  printf("%d objects, one page in ten written: %s\n", NPIECES,
         st.last_data_bytes < (uint64_t)NPIECES * 2 * 4096
             ? "no zero page saved"
             : "zero pages saved");
  return 0;
}

int main(int argc, char **argv) {
  check(argc == 3, "usage: small-image small|pieces IMAGE");
  perm_register(&objs, sizeof objs, "objs");
  if (perm_open(argv[2], "a+") != 0)
    fail("perm_open: %s", perm_error());
  return strcmp(argv[1], "small") == 0 ? small(argv[2]) : pieces();
}
