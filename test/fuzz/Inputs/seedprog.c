/*
** seedprog.c - writes the images the fuzzer starts from: a small heap
** (objects of a few sizes, a freed large object so the region has a free
** run, three registered globals).
**   seedprog IMAGE full    one process, mode "a+": three full images
**   seedprog IMAGE chain   mode "a+i": a full image and two deltas (the first round is not saved)
*/
#include <perm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *names[64];
static long counter;
static char label[40];

static void change(int round) {
  for (int i = 0; i < 64; i++) {
    if (i % (round + 2) == 0) {
      free(names[i]);
      names[i] = NULL;
    }
    if (names[i] == NULL) {
      size_t n = 16 + (size_t)(i * 131 + round * 7) % 3000;
      names[i] = malloc(n);
      memset(names[i], 'a' + (i + round) % 26, n);
    }
  }
  counter += round + 1;
  snprintf(label, sizeof label, "round %d", round);
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: seedprog IMAGE full|chain\n");
    return 2;
  }
  int chain = strcmp(argv[2], "chain") == 0;
  perm_register(names, sizeof names, "names");
  perm_register(&counter, sizeof counter, "counter");
  perm_register(label, sizeof label, "label");
  if (perm_open(argv[1], chain ? "a+i" : "a+") != 0) {
    fprintf(stderr, "perm_open: %s\n", perm_error());
    return 1;
  }
  /* A large object given back: its pages leave the image. */
  char *big = malloc(8u << 20);
  memset(big, 1, 8u << 20);
  free(big);
  for (int round = 0; round < 4; round++) {
    change(round);
    if (round > 0 || !chain) {
      if (perm_checkpoint() != 0) {
        fprintf(stderr, "perm_checkpoint: %s\n", perm_error());
        return 1;
      }
    }
  }
  perm_stats_t st;
  perm_stats(&st);
  printf("generation %llu, chain %llu\n", (unsigned long long)st.generation,
         (unsigned long long)st.chain_length);
  return 0;
}
