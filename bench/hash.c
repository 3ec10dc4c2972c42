/*
** hash.c - how fast this CPU checksums and scans memory: the numbers the
** durable checkpoint's write pass and PERM_VERIFY=full depend on.
**
**   perm-bench-hash [--reps N] [--quick] [--set mib=M]
**
** Over a buffer of M MiB (default 256; pre-faulted, so warm in memory):
**   xxh3_lib     XXH3_64bits from Debian's libxxhash, as the runtime calls
**                it (that build dispatches nothing: its SIMD level is the
**                one the library was compiled for);
**   xxh3_sse2, xxh3_avx2, xxh3_avx512
**                XXH3_64bits inlined (XXH_INLINE_ALL) and compiled for that
**                instruction set (hash_simd.c), when the CPU has it;
**   zero_scan    the all-zero page test of runtime/image_write.c;
**   memcpy       a copy of the buffer, for scale.
** Reported in GB/s (10^9 bytes per second).
*/
#define _GNU_SOURCE
#include <sys/mman.h>
#include <xxhash.h>

#include "bench.h"

uint64_t perm_bench_xxh3_sse2(const void *p, size_t n);
uint64_t perm_bench_xxh3_avx2(const void *p, size_t n);
uint64_t perm_bench_xxh3_avx512(const void *p, size_t n);

BENCHMARK_DECLARE(hash)

BENCHMARK_LIST_START
  BENCHMARK_ENTRY(hash)
BENCHMARK_LIST_END

static int zero_page(const void *p, size_t page) {
  const uint64_t *w = p;
  for (size_t i = 0; i < page / 8; i += 8)
    if ((w[i] | w[i + 1] | w[i + 2] | w[i + 3] | w[i + 4] | w[i + 5] |
         w[i + 6] | w[i + 7]) != 0)
      return 0;
  return 1;
}

static volatile uint64_t sink;

BENCHMARK_IMPL(hash) {
  size_t len = (size_t)bench_param_int("mib", bench_quick ? 64 : 256) << 20;
  char *buf = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
  char *dst = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
  if (buf == MAP_FAILED || dst == MAP_FAILED)
    return bench_fail("hash", "mmap failed");
  uint64_t r = 3;
  for (size_t i = 0; i < len; i += 8)
    *(uint64_t *)(buf + i) = bench_rand(&r) | 1;
  memset(buf + len - 4096, 0, 4096); /* the scan sees non-zero pages but one */
  memset(dst, 1, len);
  __builtin_cpu_init();
  struct {
    const char *name;
    int ok;
  } v[] = {{"xxh3_lib", 1},
           {"xxh3_sse2", 1},
           {"xxh3_avx2", __builtin_cpu_supports("avx2")},
           {"xxh3_avx512", __builtin_cpu_supports("avx512f")},
           {"zero_scan", 1},
           {"memcpy", 1}};
  for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
    double gbs[BENCH_MAX_SAMPLES];
    if (!v[k].ok)
      continue;
    for (int rep = 0; rep < bench_reps; rep++) {
      uint64_t t0 = bench_now_ns();
      switch (k) {
      case 0: sink = XXH3_64bits(buf, len); break;
      case 1: sink = perm_bench_xxh3_sse2(buf, len); break;
      case 2: sink = perm_bench_xxh3_avx2(buf, len); break;
      case 3: sink = perm_bench_xxh3_avx512(buf, len); break;
      case 4: {
        size_t z = 0;
        for (size_t off = 0; off < len; off += 4096)
          z += zero_page(buf + off, 4096);
        sink = z;
        break;
      }
      default: memcpy(dst, buf, len); sink = (uint64_t)dst[len / 2]; break;
      }
      gbs[rep] = (double)len / (double)(bench_now_ns() - t0);
    }
    bench_report(v[k].name, "speed", "GB/s", gbs, bench_reps);
  }
  munmap(buf, len);
  munmap(dst, len);
  return 0;
}

int main(int argc, char **argv) {
  bench_label = "cpu";
  return bench_main(argc, argv, bench_list);
}
