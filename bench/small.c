/*
** small.c - small checkpoints: how many durable checkpoints per second a
** program with a 1 MiB heap can take, against the rate at which the same
** disk commits 1 MiB files with the same protocol; and how large the image
** of a 4 KiB heap is.
**
**   perm-bench-small --dir D [--reps N] [--quick] [--set heap_kib=K]
**                    [--set commits=C] [benchmark...]
**
**   rate     perm_open(D/small.img, "w+"), a heap of K KiB (1 KiB objects,
**            written), then per sample C times: change one object,
**            perm_checkpoint() (durable when it returns); checkpoints/s.
**   files    per sample C times: write K KiB to D/file.tmp, fsync, rename
**            over D/file, fsync D; commits/s.
**   files_prev  the same, keeping the previous file as PERM keeps
**            NAME.prev: unlink(D/file.prev), link(D/file, D/file.prev),
**            then the rename and the directory fsync.
**   image    (only when named) one checkpoint of the heap, then the image's
**            size on disk (allocated blocks) and its length.
*/
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <perm.h>

#include "bench.h"

BENCHMARK_DECLARE(rate)
BENCHMARK_DECLARE(files)
BENCHMARK_DECLARE(files_prev)
BENCHMARK_DECLARE(image)

BENCHMARK_LIST_START
  BENCHMARK_ENTRY(rate)
  BENCHMARK_ENTRY(files)
  BENCHMARK_ENTRY(files_prev)
  BENCHMARK_ENTRY_NAMED(image)
BENCHMARK_LIST_END

static char sm_image[4096];
static char **sm_obj;
static size_t sm_n;
static int sm_ready;

static int sm_setup(void) {
  if (sm_ready)
    return 0;
  if (bench_dir == NULL)
    return bench_fail("setup", "needs --dir");
  snprintf(sm_image, sizeof sm_image, "%s/small.img", bench_dir);
  if (perm_open(sm_image, "w+") != 0) {
    fprintf(stderr, "perm_open(%s, w+): %s\n", sm_image, perm_error());
    return 1;
  }
  long long kib = bench_param_int("heap_kib", 1024);
  sm_n = (size_t)kib;
  sm_obj = malloc(sm_n * sizeof *sm_obj);
  if (sm_obj == NULL)
    return bench_fail("setup", "malloc failed");
  uint64_t r = 5;
  for (size_t i = 0; i < sm_n; i++) {
    if ((sm_obj[i] = malloc(1024)) == NULL)
      return bench_fail("setup", "malloc failed");
    for (int k = 0; k < 1024; k += 8)
      *(uint64_t *)(sm_obj[i] + k) = bench_rand(&r) | 1;
  }
  sm_ready = 1;
  return 0;
}

static int sm_commits(void) {
  return (int)bench_param_int("commits", bench_quick ? 20 : 50);
}

BENCHMARK_IMPL(rate) {
  double v[BENCH_MAX_SAMPLES], ms[BENCH_MAX_SAMPLES];
  if (sm_setup() != 0)
    return 1;
  int c = sm_commits();
  if (perm_checkpoint() != 0) /* the first: creates NAME */
    return bench_fail("rate", perm_error());
  if (perm_checkpoint() != 0) /* the second: creates NAME.prev */
    return bench_fail("rate", perm_error());
  for (int rep = 0; rep < bench_reps; rep++) {
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < c; i++) {
      sm_obj[(size_t)i % sm_n][8] ^= 1;
      if (perm_checkpoint() != 0)
        return bench_fail("rate", perm_error());
    }
    double s = (double)(bench_now_ns() - t0) / 1e9;
    v[rep] = c / s;
    ms[rep] = s * 1e3 / c;
  }
  bench_report("rate", "rate", "1/s", v, bench_reps);
  bench_report("rate", "per_commit", "ms", ms, bench_reps);
  return 0;
}

static int sm_fsync_dir(void) {
  int dfd = open(bench_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return -1;
  int rc = fsync(dfd);
  close(dfd);
  return rc;
}

static int sm_files(const char *name, int keep_prev) {
  double v[BENCH_MAX_SAMPLES], ms[BENCH_MAX_SAMPLES];
  char path[4200], tmp[4300], prev[4300];
  if (sm_setup() != 0)
    return 1;
  size_t len = sm_n * 1024;
  char *buf = malloc(len);
  if (buf == NULL)
    return bench_fail(name, "malloc failed");
  for (size_t i = 0; i < sm_n; i++)
    memcpy(buf + i * 1024, sm_obj[i], 1024);
  snprintf(path, sizeof path, "%s/%s.bin", bench_dir, name);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  snprintf(prev, sizeof prev, "%s.prev", path);
  int c = sm_commits();
  for (int rep = -1; rep < bench_reps; rep++) { /* rep -1: creates the files */
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < (rep < 0 ? 2 : c); i++) {
      buf[8] ^= 1;
      int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      if (fd < 0)
        return bench_fail(name, strerror(errno));
      size_t done = 0;
      while (done < len) {
        ssize_t n = write(fd, buf + done, len - done);
        if (n < 0 && errno == EINTR)
          continue;
        if (n <= 0)
          return bench_fail(name, strerror(errno));
        done += (size_t)n;
      }
      if (fsync(fd) != 0 || close(fd) != 0)
        return bench_fail(name, strerror(errno));
      if (keep_prev) {
        if (unlink(prev) != 0 && errno != ENOENT)
          return bench_fail(name, strerror(errno));
        if (link(path, prev) != 0 && errno != ENOENT)
          return bench_fail(name, strerror(errno));
      }
      if (rename(tmp, path) != 0 || sm_fsync_dir() != 0)
        return bench_fail(name, strerror(errno));
    }
    if (rep < 0)
      continue;
    double s = (double)(bench_now_ns() - t0) / 1e9;
    v[rep] = c / s;
    ms[rep] = s * 1e3 / c;
  }
  unlink(path);
  unlink(prev);
  free(buf);
  bench_report(name, "rate", "1/s", v, bench_reps);
  bench_report(name, "per_commit", "ms", ms, bench_reps);
  return 0;
}

BENCHMARK_IMPL(files) { return sm_files("files", 0); }
BENCHMARK_IMPL(files_prev) { return sm_files("files_prev", 1); }

BENCHMARK_IMPL(image) {
  if (sm_setup() != 0)
    return 1;
  if (perm_checkpoint() != 0)
    return bench_fail("image", perm_error());
  struct stat sb;
  if (stat(sm_image, &sb) != 0)
    return bench_fail("image", strerror(errno));
  perm_stats_t st;
  perm_stats(&st);
  double v[3] = {(double)sb.st_blocks * 512 / 1024, (double)sb.st_size / 1024,
                 (double)st.allocated / 1024};
  bench_report("image", "on_disk", "KiB", &v[0], 1);
  bench_report("image", "length", "KiB", &v[1], 1);
  bench_report("image", "allocated", "KiB", &v[2], 1);
  return 0;
}

int main(int argc, char **argv) {
  bench_label = "perm";
  int rc = bench_main(argc, argv, bench_list);
  if (sm_ready) {
    char prev[4200];
    perm_close();
    snprintf(prev, sizeof prev, "%s.prev", sm_image);
    unlink(sm_image);
    unlink(prev);
  }
  return rc;
}
