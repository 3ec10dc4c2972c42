/*
** subset.c - a program of the same application that declares only two of
** the shared globals (addr, size): it opens the heap "r+", checks the
** blocks it can see, and checkpoints.  The globals it does not declare
** (total, idx) are kept in the image for the programs that do.
*/
#include <perm.h>
#include <stdio.h>

#define SHARED_BLOCKS 256

PERM void *addr[SHARED_BLOCKS];
PERM size_t size[SHARED_BLOCKS];

int main(void) {
  if (mopen("heap/persist.mmap", "r+", (size_t)1 << 26) != 0) {
    printf("subset: %s\n", perm_error());
    return 1;
  }
  size_t sum = 0;
  for (int i = 0; i < SHARED_BLOCKS; i++)
    sum += addr[i] != NULL ? size[i] : 0;
  perm_stats_t st;
  perm_stats(&st);
  if (mclose() != 0) { /* checkpoints: the mode is r+ */
    printf("subset: %s\n", perm_error());
    return 1;
  }
  printf("subset: %zu bytes in the blocks, %llu globals restored, %llu not "
         "declared here\n",
         sum, (unsigned long long)st.globals_restored,
         (unsigned long long)st.globals_dropped);
  return 0;
}
