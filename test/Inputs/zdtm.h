/*
** zdtm.h - helpers for PERM's end-to-end tests, after CRIU's zdtm: set up
** state, checkpoint, restore in a new process, verify, then pass() or fail().
*/
#ifndef PERM_TEST_ZDTM_H
#define PERM_TEST_ZDTM_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define fail(...)                                                              \
  do {                                                                         \
    fprintf(stdout, "FAIL %s:%d: ", __FILE__, __LINE__);                      \
    fprintf(stdout, __VA_ARGS__);                                              \
    fprintf(stdout, "\n");                                                     \
    fflush(stdout);                                                            \
    exit(1);                                                                   \
  } while (0)

#define check(cond, ...)                                                       \
  do {                                                                         \
    if (!(cond))                                                               \
      fail(__VA_ARGS__);                                                       \
  } while (0)

/* Deterministic bytes for an object: a function of (seed, offset). */
static inline uint64_t zdtm_mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return x;
}

static inline void zdtm_fill(void *p, size_t n, uint64_t seed) {
  unsigned char *c = p;
  uint64_t s = zdtm_mix(seed + 1);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    memcpy(c + i, &s, 8);
  }
  for (; i < n; i++)
    c[i] = (unsigned char)(seed + i);
}

/* Returns the first offset that differs, or (size_t)-1. */
static inline size_t zdtm_verify(const void *p, size_t n, uint64_t seed) {
  const unsigned char *c = p;
  uint64_t s = zdtm_mix(seed + 1);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    if (memcmp(c + i, &s, 8) != 0)
      return i;
  }
  for (; i < n; i++)
    if (c[i] != (unsigned char)(seed + i))
      return i;
  return (size_t)-1;
}

#endif
