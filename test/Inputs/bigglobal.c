/*
** bigglobal.c - an image whose registry block is over 1 MiB (one 2 MiB
** global), so the validator reads its table before the whole block
** (image_validate.c, validate_prebound).  bigglobal IMAGE: a new heap
** (w+), checkpointed; prints "ok".
*/
#include <perm.h>
#include <stdio.h>

static char big[2 << 20];

int main(int argc, char **argv) {
  if (argc != 2)
    return 2;
  perm_register(big, sizeof big, "big");
  if (perm_open(argv[1], "w+") != 0 || perm_checkpoint() != 0) {
    printf("error: %s\n", perm_error());
    return 1;
  }
  printf("ok\n");
  return 0;
}
