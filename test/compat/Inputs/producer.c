/*
** producer.c - builds a heap of SHARED_BLOCKS blocks with PERM's API: mopen
** "w+", a backup file, mflush and backup as it goes, one restore() back to
** the backup half-way (whose blocks it then allocates again), mclose.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared-heap.h"

int main(void) {
  perm(PERM_START, PERM_SIZE); /* as PERM programs do; the plugin names them */
  if (mopen(SHARED_IMAGE, "w+", SHARED_SIZE) != 0 ||
      bopen(SHARED_BACKUP, "w+") != 0) {
    printf("producer: %s\n", perm_error());
    return 1;
  }
  int rolled_back = 0;
  for (idx = 0; idx < SHARED_BLOCKS; idx++) {
    size_t n = shared_block_size(idx);
    unsigned char *p = malloc(n);
    if (p == NULL) {
      printf("producer: malloc(%zu) failed\n", n);
      return 1;
    }
    memset(p, idx & 0xff, n);
    addr[idx] = p;
    size[idx] = n;
    total += n;
    if ((idx & 0x7f) == 0x40 && mflush() != 0)
      printf("producer: mflush: %s\n", perm_error());
    if ((idx & 0x3f) == 0x20 && backup() != 0)
      printf("producer: backup: %s\n", perm_error());
    if (idx == 0x8f && !rolled_back) {
      rolled_back = 1;
      if (restore() != 0) { /* back to the backup taken at 0x60 */
        printf("producer: restore: %s\n", perm_error());
        return 1;
      }
      printf("producer: rolled back to block %d\n", idx); /* 0x60 */
    }
  }
  if (mclose() != 0 || bclose() != 0) {
    printf("producer: %s\n", perm_error());
    return 1;
  }
  printf("producer: %d blocks, %zu bytes\n", idx, total);
  return 0;
}
