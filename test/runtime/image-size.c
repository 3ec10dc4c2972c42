// The image tracks the live heap: after freeing 90 % of a 512 MiB heap and
// checkpointing again, the image occupies at most 20 % of the disk space it
// did (freed pages are purged in the checkpoint child and left as holes).
//
// RUN: %clang %cflags %s %ldflags -o %t.exe
// RUN: rm -rf %t.d && mkdir -p %t.d
// RUN: %t.exe %t.d/img | FileCheck %s
// CHECK: full heap: {{[0-9]+}} MiB on disk
// CHECK: after freeing 90%: {{[0-9]+}} MiB on disk, {{[0-9]+}}% of before
// CHECK: restored {{[0-9]+}} live objects intact
#include "../Inputs/zdtm.h"
#include <perm.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NOBJ 2048
#define OBJ (256 << 10)

static unsigned char **objs;

static uint64_t disk_bytes(const char *path) {
  struct stat st;
  check(stat(path, &st) == 0, "stat %s", path);
  return (uint64_t)st.st_blocks * 512;
}

int main(int argc, char **argv) {
  check(argc == 2 || argc == 3, "usage: image-size IMAGE [verify]");
  perm_register(&objs, sizeof objs, "objs");
  if (argc == 3) {
    if (perm_open(argv[1], "r") != 0)
      fail("perm_open: %s", perm_error());
    int live = 0;
    for (int i = 0; i < NOBJ; i += 10, live++)
      check(zdtm_verify(objs[i], OBJ, (uint64_t)i) == (size_t)-1, "object %d", i);
    printf("restored %d live objects intact\n", live);
    return 0;
  }
  if (perm_open(argv[1], "w+") != 0)
    fail("perm_open: %s", perm_error());
  objs = calloc(NOBJ, sizeof *objs);
  for (int i = 0; i < NOBJ; i++) {
    objs[i] = malloc(OBJ);
    zdtm_fill(objs[i], OBJ, (uint64_t)i);
  }
  if (perm_checkpoint() != 0)
    fail("perm_checkpoint: %s", perm_error());
  uint64_t full = disk_bytes(argv[1]);
  printf("full heap: %llu MiB on disk\n", (unsigned long long)(full >> 20));
  for (int i = 0; i < NOBJ; i++)
    if (i % 10 != 0) {
      free(objs[i]);
      objs[i] = NULL;
    }
  if (perm_checkpoint() != 0)
    fail("perm_checkpoint: %s", perm_error());
  uint64_t after = disk_bytes(argv[1]);
  printf("after freeing 90%%: %llu MiB on disk, %llu%% of before\n",
         (unsigned long long)(after >> 20),
         (unsigned long long)(after * 100 / full));
  check(after * 5 <= full, "the image is %llu bytes, more than 20%% of %llu",
        (unsigned long long)after, (unsigned long long)full);
  fflush(stdout);
  /* A new process restores it. */
  pid_t pid = fork();
  if (pid == 0) {
    execl("/proc/self/exe", argv[0], argv[1], "verify", (char *)NULL);
    _exit(127);
  }
  int status;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
