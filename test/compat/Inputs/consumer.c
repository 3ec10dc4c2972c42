/*
** consumer.c - another program with the same PERM globals: opens the
** producer's heap read-only with mopen "r" and verifies every block.
** -DUSE_PERM_OPEN: perm_open with the mode given as the argument instead.
*/
#include <stdio.h>

#include "shared-heap.h"

int main(int argc, char **argv) {
  (void)argc, (void)argv;
  perm(PERM_START, PERM_SIZE);
#ifdef USE_PERM_OPEN /* perm_open with the mode given: "r" or "rs" */
  if (perm_open(SHARED_IMAGE, argv[1]) != 0) {
#else
  if (mopen(SHARED_IMAGE, "r", SHARED_SIZE) != 0) {
#endif
    printf("consumer: %s\n", perm_error());
    return 1;
  }
  size_t sum = 0;
  for (int i = 0; i < SHARED_BLOCKS; i++) {
    const unsigned char *p = addr[i];
    if (p == NULL || size[i] != shared_block_size(i)) {
      printf("consumer: block %d is missing or has size %zu\n", i, size[i]);
      return 1;
    }
    for (size_t k = 0; k < size[i]; k++)
      if (p[k] != (unsigned char)(i & 0xff)) {
        printf("consumer: block %d corrupted at %zu\n", i, k);
        return 1;
      }
    sum += size[i];
  }
  if (sum != total) {
    printf("consumer: %zu bytes, the producer counted %zu\n", sum, total);
    return 1;
  }
  if (mclose() != 0) {
    printf("consumer: %s\n", perm_error());
    return 1;
  }
  printf("consumer: %d blocks verified, %zu bytes, idx=%d\n", SHARED_BLOCKS,
         sum, (int)idx);
  return 0;
}
