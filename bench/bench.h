/*
** bench.h - the benchmark runner shared by the bench programs: libuv's
** test/benchmark-list.h and test/run-benchmarks.c, folded into one header.
**
** A program declares and lists its benchmarks,
**
**     BENCHMARK_DECLARE(small64)
**     BENCHMARK_LIST_START
**       BENCHMARK_ENTRY(small64)
**       BENCHMARK_ENTRY_NAMED(restore)      (runs only when named)
**     BENCHMARK_LIST_END
**
** implements each with BENCHMARK_IMPL(name), and has main() call
** bench_main().  Command line of every bench program:
**
**     prog [--reps N] [--quick] [--label L] [--dir D] [--image F]
**          [--set KEY=VALUE]... [--list] [name...]
**
** --set passes a program-specific parameter, read with bench_param() or
** bench_param_int() (e.g. --set heap_mib=1024 --set threads=4).
**
** Results: one tab-separated line per measured quantity on stdout,
**
**     RESULT <benchmark> <label> <metric> <unit> <median> <min> <max> <n> <s1,s2,...>
**
** which bench/run.sh turns into tables; a readable summary goes to stderr.
** Nothing here asserts a timing: a benchmark fails only when an operation
** fails.
*/
#ifndef PERM_BENCH_H
#define PERM_BENCH_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef int (*bench_fn_t)(void);

typedef struct bench_entry_s {
  const char *name;
  bench_fn_t fn;
  int named_only; /* runs only when named on the command line */
} bench_entry_t;

#define BENCHMARK_DECLARE(name) int bench_impl_##name(void);
#define BENCHMARK_IMPL(name) int bench_impl_##name(void)
#define BENCHMARK_LIST_START static const bench_entry_t bench_list[] = {
#define BENCHMARK_ENTRY(name) {#name, bench_impl_##name, 0},
#define BENCHMARK_ENTRY_NAMED(name) {#name, bench_impl_##name, 1},
#define BENCHMARK_LIST_END {NULL, NULL, 0}};

/* Options, set by bench_main() before any benchmark runs. */
static int bench_reps = 5;           /* samples per benchmark */
static int bench_quick = 0;          /* smaller workloads */
static const char *bench_label = ""; /* what is measured: perm, jemalloc... */
static const char *bench_dir = NULL; /* scratch directory (--dir) */
static const char *bench_image = NULL; /* an existing image (--image) */

#define BENCH_MAX_SAMPLES 64
#define BENCH_MAX_PARAMS 16

static const char *bench_params[BENCH_MAX_PARAMS]; /* "key=value" */
static int bench_nparams;

/* The value of --set KEY=VALUE (the last one given), or dflt. */
static inline const char *bench_param(const char *key, const char *dflt) {
  size_t n = strlen(key);
  for (int i = bench_nparams - 1; i >= 0; i--)
    if (!strncmp(bench_params[i], key, n) && bench_params[i][n] == '=')
      return bench_params[i] + n + 1;
  return dflt;
}

static inline long long bench_param_int(const char *key, long long dflt) {
  const char *v = bench_param(key, NULL);
  return v != NULL ? strtoll(v, NULL, 0) : dflt;
}

static inline uint64_t bench_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* splitmix64: the same seed gives every allocator the same workload. */
static inline uint64_t bench_rand(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static int bench_cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static inline double bench_median(const double *v, int n) {
  double s[BENCH_MAX_SAMPLES];
  if (n <= 0)
    return 0;
  memcpy(s, v, (size_t)n * sizeof *s);
  qsort(s, (size_t)n, sizeof *s, bench_cmp_double);
  return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* One RESULT line (stdout) and one summary line (stderr). */
static inline void bench_report(const char *bench, const char *metric,
                                const char *unit, const double *v, int n) {
  double lo = v[0], hi = v[0];
  for (int i = 1; i < n; i++) {
    lo = v[i] < lo ? v[i] : lo;
    hi = v[i] > hi ? v[i] : hi;
  }
  double med = bench_median(v, n);
  printf("RESULT\t%s\t%s\t%s\t%s\t%.6g\t%.6g\t%.6g\t%d\t", bench, bench_label,
         metric, unit, med, lo, hi, n);
  for (int i = 0; i < n; i++)
    printf("%s%.6g", i ? "," : "", v[i]);
  printf("\n");
  fflush(stdout);
  fprintf(stderr, "  %-16s %-10s %-18s median %.4g %s (min %.4g, max %.4g, n=%d)\n",
          bench, bench_label, metric, med, unit, lo, hi, n);
}

/* Prints why a benchmark failed; returns 1 for BENCHMARK_IMPL to return. */
static inline int bench_fail(const char *bench, const char *what) {
  fprintf(stderr, "bench %s: %s\n", bench, what);
  return 1;
}

/*
** The raw writers' half of an image's commit protocol: LEN bytes from BUF
** written whole to FD (at OFF with pwrite(), or OFF < 0 with write() at
** the file offset), then bench_commit: FD fsync'ed and closed, TMP renamed
** over PATH (which frees the previous file), the directory DIR fsync'ed.
** Both return 0 or an errno.
*/
static inline int bench_write_all(int fd, const char *buf, size_t len, off_t off) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = off < 0 ? write(fd, buf + done, len - done)
                        : pwrite(fd, buf + done, len - done, off + (off_t)done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return n < 0 ? errno : EIO;
    done += (size_t)n;
  }
  return 0;
}

static inline int bench_commit(int fd, const char *tmp, const char *path,
                               const char *dir) {
  if (fsync(fd) != 0) {
    int e = errno;
    close(fd);
    return e;
  }
  if (close(fd) != 0 || rename(tmp, path) != 0)
    return errno;
  int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return errno;
  int rc = fsync(dfd) != 0 ? errno : 0;
  close(dfd);
  return rc;
}

static inline int bench_main(int argc, char **argv, const bench_entry_t *list) {
  int named = 0, rc = 0, list_only = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--reps") && i + 1 < argc) {
      bench_reps = atoi(argv[++i]);
      if (bench_reps < 1 || bench_reps > BENCH_MAX_SAMPLES) {
        fprintf(stderr, "%s: --reps must be 1..%d\n", argv[0], BENCH_MAX_SAMPLES);
        return 2;
      }
    } else if (!strcmp(a, "--quick")) {
      bench_quick = 1;
    } else if (!strcmp(a, "--label") && i + 1 < argc) {
      bench_label = argv[++i];
    } else if (!strcmp(a, "--dir") && i + 1 < argc) {
      bench_dir = argv[++i];
    } else if (!strcmp(a, "--image") && i + 1 < argc) {
      bench_image = argv[++i];
    } else if (!strcmp(a, "--set") && i + 1 < argc) {
      if (bench_nparams == BENCH_MAX_PARAMS || strchr(argv[i + 1], '=') == NULL) {
        fprintf(stderr, "%s: --set KEY=VALUE (at most %d)\n", argv[0],
                BENCH_MAX_PARAMS);
        return 2;
      }
      bench_params[bench_nparams++] = argv[++i];
    } else if (!strcmp(a, "--list")) {
      list_only = 1;
    } else if (a[0] == '-') {
      fprintf(stderr,
              "usage: %s [--reps N] [--quick] [--label L] [--dir D] "
              "[--image F] [--set K=V] [--list] [benchmark...]\n",
              argv[0]);
      return 2;
    } else {
      named++;
    }
  }
  if (list_only) {
    for (const bench_entry_t *e = list; e->name; e++)
      printf("%s%s\n", e->name, e->named_only ? " (only when named)" : "");
    return 0;
  }
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (a[0] == '-') {
      if (strcmp(a, "--quick") && strcmp(a, "--list"))
        i++; /* skip the option's value */
      continue;
    }
    const bench_entry_t *e = list;
    while (e->name && strcmp(e->name, a))
      e++;
    if (e->name == NULL) {
      fprintf(stderr, "%s: no benchmark '%s' (--list lists them)\n", argv[0], a);
      return 2;
    }
    rc |= e->fn();
  }
  if (named == 0)
    for (const bench_entry_t *e = list; e->name; e++)
      if (!e->named_only)
        rc |= e->fn();
  return rc ? 1 : 0;
}

#endif /* PERM_BENCH_H */
