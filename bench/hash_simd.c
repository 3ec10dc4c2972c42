/*
** hash_simd.c - XXH3_64bits inlined from Debian's xxhash.h (XXH_INLINE_ALL),
** compiled three times by bench/CMakeLists.txt, for SSE2, AVX2 and AVX-512,
** as PERM_BENCH_XXH3_FN: what the runtime would get by inlining XXH3 with a
** dispatch on the CPU instead of calling the shared library.
*/
#define XXH_INLINE_ALL
#include <stddef.h>
#include <stdint.h>
#include <xxhash.h>

uint64_t PERM_BENCH_XXH3_FN(const void *p, size_t n);
uint64_t PERM_BENCH_XXH3_FN(const void *p, size_t n) {
  return XXH3_64bits(p, n);
}
