/*
** stl.cpp - where users live: several threads inserting small objects into
** std::unordered_map and std::map, while the main thread checkpoints
** asynchronously every N ms.
**
** One source, two binaries (bench/CMakeLists.txt):
**   perm-bench-stl       linked with libpermrt, perm_open("w+") first: every
**                        node and string is in the persistent heap;
**   perm-bench-stl-base  without PERM (glibc, or a system allocator under
**                        LD_PRELOAD); it cannot checkpoint.
**
**   prog [--quick] [--reps N] [--dir D] [--set threads=T]
**        [--set inserts=N] [--set ckpt_ms=MS] [--set ckpt=0|1] [inserts]
**
** Each of T threads owns an unordered_map<uint64_t, std::string> (strings of
** 8-40 bytes, so about half are heap-allocated) and a map<uint64_t,
** uint64_t>; it inserts N keys into each and erases one earlier key every
** 8 inserts.  Reported per sample (one sample = one fresh set of maps):
** throughput (inserts/s, all threads, first start to last end); with
** ckpt=1, the pause of every checkpoint taken meanwhile (pooled: median and
** max over all samples), how many there were, and the heap at the end.
*/
#include <atomic>
#include <cinttypes>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef BENCH_PERM
#include <perm.h>
#endif

extern "C" {
#include "bench.h"
}

BENCHMARK_DECLARE(inserts)

BENCHMARK_LIST_START
  BENCHMARK_ENTRY(inserts)
BENCHMARK_LIST_END

namespace {

struct Maps {
  std::unordered_map<uint64_t, std::string> hash;
  std::map<uint64_t, uint64_t> tree;
};

void worker(Maps *m, uint64_t seed, long n, std::atomic<int> *go) {
  uint64_t r = seed, lag = seed; /* lag replays the keys, 8x slower */
  while (go->load(std::memory_order_acquire) == 0)
    std::this_thread::yield();
  char buf[48];
  for (long i = 0; i < n; i++) {
    uint64_t k = bench_rand(&r);
    size_t len = 8 + (size_t)(k % 33);
    std::memset(buf, 'a' + (int)(k % 26), len);
    m->hash.emplace(k, std::string(buf, len));
    m->tree.emplace(k ^ 0x5555, k);
    if ((i & 7) == 7) { /* erase the oldest key not yet erased */
      uint64_t victim = bench_rand(&lag);
      m->hash.erase(victim);
      m->tree.erase(victim ^ 0x5555);
    }
  }
}

const char *identify() {
#ifdef BENCH_PERM
  return "perm";
#else
  if (dlsym(RTLD_DEFAULT, "mi_version") != nullptr)
    return "mimalloc";
  if (dlsym(RTLD_DEFAULT, "tc_version") != nullptr)
    return "tcmalloc";
  if (dlsym(RTLD_DEFAULT, "mallctl") != nullptr)
    return "jemalloc";
  return "glibc";
#endif
}

#ifdef BENCH_PERM
double ms_of(uint64_t ns) { return (double)ns / 1e6; }
#endif

} // namespace

BENCHMARK_IMPL(inserts) {
  int threads = (int)bench_param_int("threads", 2);
  long n = (long)bench_param_int("inserts", bench_quick ? 200000 : 1000000);
#ifdef BENCH_PERM
  int ckpt_ms = (int)bench_param_int("ckpt_ms", 100);
  int ckpt = (int)bench_param_int("ckpt", 1);
#else
  int ckpt = 0;
#endif
  double tput[BENCH_MAX_SAMPLES], count[BENCH_MAX_SAMPLES];
  double heap_mib[BENCH_MAX_SAMPLES];
  std::vector<double> pauses;
  for (int rep = 0; rep < bench_reps; rep++) {
    std::vector<Maps *> maps;
    for (int t = 0; t < threads; t++)
      maps.push_back(new Maps);
    std::atomic<int> go{0};
    std::atomic<int> done{0};
    std::vector<std::thread> th;
    for (int t = 0; t < threads; t++)
      th.emplace_back([&, t] {
        worker(maps[t], 1000 + (uint64_t)t * 31 + (uint64_t)rep * 7, n, &go);
        done.fetch_add(1);
      });
    uint64_t t0 = bench_now_ns();
    go.store(1, std::memory_order_release);
    int taken = 0;
    if (ckpt) {
#ifdef BENCH_PERM
      int running = 0;
      while (done.load() < threads) {
        struct timespec ts = {ckpt_ms / 1000, (long)(ckpt_ms % 1000) * 1000000};
        nanosleep(&ts, nullptr);
        if (done.load() == threads)
          break;
        if (running && perm_wait() != 0)
          return bench_fail("inserts", perm_error());
        if (perm_checkpoint_async() != 0)
          return bench_fail("inserts", perm_error());
        running = 1;
        perm_stats_t st;
        perm_stats(&st);
        pauses.push_back(ms_of(st.last_pause_ns));
        taken++;
      }
      if (running && perm_wait() != 0)
        return bench_fail("inserts", perm_error());
#endif
    }
    for (auto &x : th)
      x.join();
    uint64_t t1 = bench_now_ns();
    tput[rep] = (double)n * threads / ((double)(t1 - t0) / 1e9);
    count[rep] = taken;
    heap_mib[rep] = 0;
#ifdef BENCH_PERM
    perm_stats_t st;
    perm_stats(&st);
    heap_mib[rep] = (double)st.allocated / 1048576;
#endif
    for (auto *m : maps)
      delete m;
  }
  bench_report("inserts", "throughput", "ops/s", tput, bench_reps);
  if (ckpt) {
    bench_report("inserts", "checkpoints", "n", count, bench_reps);
    bench_report("inserts", "heap", "MiB", heap_mib, bench_reps);
    /* All pauses pooled; bench_report takes at most BENCH_MAX_SAMPLES. */
    std::vector<double> v = pauses;
    if (v.size() > BENCH_MAX_SAMPLES) {
      std::vector<double> s;
      for (size_t i = 0; i < BENCH_MAX_SAMPLES; i++)
        s.push_back(v[i * v.size() / BENCH_MAX_SAMPLES]);
      v = s;
    }
    if (!v.empty())
      bench_report("inserts", "pause", "ms", v.data(), (int)v.size());
  }
  return 0;
}

int main(int argc, char **argv) {
  bench_label = identify();
#ifdef BENCH_PERM
  static char dir[] = "/var/tmp/perm-bench-stl-XXXXXX";
  char image[4200];
  const char *d = nullptr;
  for (int i = 1; i + 1 < argc; i++)
    if (!std::strcmp(argv[i], "--dir"))
      d = argv[i + 1];
  if (d == nullptr) {
    if (mkdtemp(dir) == nullptr) {
      perror("mkdtemp");
      return 1;
    }
    d = dir;
  }
  snprintf(image, sizeof image, "%s/stl.img", d);
  if (perm_open(image, "w+") != 0) {
    fprintf(stderr, "perm_open: %s\n", perm_error());
    return 1;
  }
#endif
  int rc = bench_main(argc, argv, bench_list);
#ifdef BENCH_PERM
  perm_close();
  std::string prev = std::string(image) + ".prev";
  unlink(image);
  unlink(prev.c_str());
  if (d == dir)
    rmdir(dir);
#endif
  return rc;
}
