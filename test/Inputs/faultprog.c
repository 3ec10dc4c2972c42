/*
** faultprog.c - one process, many checkpoints, faults injected between
** them through the system-call seam (PERM_TEST_FAULT, runtime/sys.c), set
** and cleared with setenv as it runs.
**
**   faultprog IMAGE SNAPDIR STEP...
**
** opens IMAGE a+ (a new heap gets a first checkpoint), then runs each STEP:
**   fault=SPEC   change the heap, copy IMAGE and IMAGE.prev into SNAPDIR,
**                checkpoint with PERM_TEST_FAULT=SPEC, print
**                "SPEC: ok generation G" or "SPEC: error errno=E: MESSAGE";
**                after an error, "  NAME unchanged" / "  NAME CHANGED" (and
**                the same for NAME.prev) and "  temporaries: N [names]";
**                then, the fault gone, checkpoint again: "  then: ok
**                generation G" or "  then: error ..."
**   grow=MIB     allocate MIB MiB of data that do not compress to zero
**   sparse=MIB   allocate MIB MiB of zeros but for one byte in each MiB
**                (most of its pages never touched: holes in the image)
**   holes=N      allocate N blocks of 16 KiB and free every other one (the
**                checkpoint's child purges N/2 separate ranges)
**   fill=MIB     grow=MIB and checkpoint (snapshots first) until a
**                checkpoint fails: prints the checkpoints that succeeded,
**                then the failure as fault= does (without the "then")
**   ckpt         checkpoint: "ckpt: ok generation G" or the error
**   rm=PATH      unlink PATH (to free space): "rm: ok"
** At the end the heap is verified (every chunk's bytes) and closed:
** "verified N chunks, generation G".  Exit 0, or 1 when the heap is wrong.
*/
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <perm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct chunk_s {
  struct chunk_s *next;
  uint64_t seed;
  size_t n;
  int sparse; /* zeros, but byte i is 1 where i % 1 MiB == 0 */
  unsigned char bytes[];
} chunk_t;

static chunk_t *chunks;
static uint64_t nchunks, counter;

static uint64_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  return x;
}

static void add_chunk(size_t n, int sparse) {
  chunk_t *c = malloc(sizeof *c + n);
  if (c == NULL) {
    printf("out of memory\n");
    exit(1);
  }
  c->seed = ++nchunks;
  c->n = n;
  c->sparse = sparse;
  if (sparse) {
    /* Fresh memory from the region is zero: touch one byte per MiB. */
    for (size_t i = 0; i < n; i += 1u << 20)
      c->bytes[i] = 1;
    c->next = chunks;
    chunks = c;
    return;
  }
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = mix(c->seed * 1000003 + i);
    memcpy(c->bytes + i, &v, n - i < 8 ? n - i : 8);
  }
  c->next = chunks;
  chunks = c;
}

static int verify(void) {
  uint64_t k = 0;
  for (chunk_t *c = chunks; c != NULL; c = c->next, k++)
    for (size_t i = 0; i < c->n && c->sparse; i++)
      if (c->bytes[i] != (i % (1u << 20) == 0)) {
        printf("sparse chunk %llu damaged at %zu\n",
               (unsigned long long)c->seed, i);
        return 0;
      }
  for (chunk_t *c = chunks; c != NULL; c = c->next)
    for (size_t i = 0; i < c->n && !c->sparse; i += 8) {
      uint64_t v = mix(c->seed * 1000003 + i);
      if (memcmp(c->bytes + i, &v, c->n - i < 8 ? c->n - i : 8) != 0) {
        printf("chunk %llu damaged at %zu\n", (unsigned long long)c->seed, i);
        return 0;
      }
    }
  if (k != nchunks) {
    printf("%llu chunks, %llu expected\n", (unsigned long long)k,
           (unsigned long long)nchunks);
    return 0;
  }
  return 1;
}

static uint64_t generation(void) {
  perm_stats_t s;
  perm_stats(&s);
  return s.generation;
}

/* Copies src to dst (missing: dst removed); returns 0 when src exists. */
static int copy(const char *src, const char *dst) {
  unlink(dst);
  int in = open(src, O_RDONLY | O_CLOEXEC);
  if (in < 0)
    return -1;
  int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  static char buf[1 << 16];
  ssize_t n;
  while (out >= 0 && (n = read(in, buf, sizeof buf)) > 0)
    if (write(out, buf, (size_t)n) != n) {
      printf("cannot write the snapshot %s\n", dst);
      exit(1);
    }
  close(in);
  if (out >= 0)
    close(out);
  return 0;
}

/* 1 when both are missing, or both exist with the same bytes. */
static int same(const char *a, const char *b) {
  int x = open(a, O_RDONLY | O_CLOEXEC), y = open(b, O_RDONLY | O_CLOEXEC);
  int r = x < 0 && y < 0;
  if (x >= 0 && y >= 0) {
    static char p[1 << 16], q[1 << 16];
    r = 1;
    for (;;) {
      ssize_t m = read(x, p, sizeof p), n = read(y, q, sizeof q);
      if (m != n || m < 0 || memcmp(p, q, (size_t)m) != 0) {
        r = 0;
        break;
      }
      if (m == 0)
        break;
    }
  }
  if (x >= 0)
    close(x);
  if (y >= 0)
    close(y);
  return r;
}

/*
** Until no child of this process is running: the child of the last
** checkpoint goes on removing what its commit replaced after it reported,
** and its NAME.old-R must not count as a failure's leftover.
*/
static void settle(void) {
  for (int tries = 0; tries < 60000; tries++) {
    int running = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL && !running) {
      char path[300], st[512];
      snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
      FILE *f = fopen(path, "r");
      if (f == NULL)
        continue;
      size_t n = fread(st, 1, sizeof st - 1, f);
      fclose(f);
      st[n] = '\0';
      char *p = strrchr(st, ')'), state;
      int ppid;
      if (p != NULL && sscanf(p + 2, "%c %d", &state, &ppid) == 2 &&
          ppid == getpid() && state != 'Z')
        running = 1;
    }
    if (d != NULL)
      closedir(d);
    if (!running)
      return;
    usleep(1000);
  }
}

static const char *image, *snapdir;
static char prev[4200], snap[4200], snap_prev[4200];

static void snapshot(void) {
  settle();
  copy(image, snap);
  copy(prev, snap_prev);
}

static void temporaries(void) {
  char buf[4096], base[4096];
  snprintf(buf, sizeof buf, "%s", image);
  snprintf(base, sizeof base, "%s", image);
  const char *name = basename(base);
  size_t nl = strlen(name);
  DIR *d = opendir(dirname(buf));
  char list[2048] = "";
  int n = 0;
  struct dirent *e;
  while (d != NULL && (e = readdir(d)) != NULL) {
    if (strncmp(e->d_name, name, nl) != 0)
      continue;
    const char *r = e->d_name + nl;
    if (strncmp(r, ".tmp-", 5) == 0 || strncmp(r, ".prev.tmp-", 10) == 0 ||
        strncmp(r, ".old-", 5) == 0) {
      n++;
      strncat(list, " ", sizeof list - strlen(list) - 1);
      strncat(list, e->d_name, sizeof list - strlen(list) - 1);
    }
  }
  if (d != NULL)
    closedir(d);
  printf("  temporaries: %d%s\n", n, list);
}

static void report_failure(void) {
  printf("  NAME %s\n", same(image, snap) ? "unchanged" : "CHANGED");
  printf("  NAME.prev %s\n", same(prev, snap_prev) ? "unchanged" : "CHANGED");
  temporaries();
}

static int checkpoint(const char *label) {
  int rc = perm_checkpoint();
  if (rc == 0)
    printf("%s: ok generation %llu\n", label,
           (unsigned long long)generation());
  else
    printf("%s: error errno=%s: %s\n", label, strerrorname_np(errno),
           perm_error());
  fflush(stdout);
  return rc;
}

int main(int argc, char **argv) {
  if (argc < 3)
    return 2;
  image = argv[1];
  snapdir = argv[2];
  snprintf(prev, sizeof prev, "%s.prev", image);
  snprintf(snap, sizeof snap, "%s/snap", snapdir);
  snprintf(snap_prev, sizeof snap_prev, "%s/snap.prev", snapdir);
  perm_register(&chunks, sizeof chunks, "chunks");
  perm_register(&nchunks, sizeof nchunks, "nchunks");
  perm_register(&counter, sizeof counter, "counter");
  if (perm_open(image, "a+") != 0) {
    printf("perm_open: error errno=%s: %s\n", strerrorname_np(errno),
           perm_error());
    return 1;
  }
  if (!verify())
    return 1;
  if (!perm_restored()) {
    add_chunk(100000, 0);
    if (checkpoint("create") != 0)
      return 1;
  }
  for (int i = 3; i < argc; i++) {
    const char *s = argv[i];
    if (strncmp(s, "fault=", 6) == 0) {
      counter++;
      add_chunk(5000 + (size_t)(mix(counter) % 50000), 0);
      snapshot();
      setenv("PERM_TEST_FAULT", s + 6, 1);
      int rc = checkpoint(s + 6);
      unsetenv("PERM_TEST_FAULT");
      if (rc != 0) {
        report_failure();
        checkpoint("  then");
      }
    } else if (strncmp(s, "grow=", 5) == 0) {
      add_chunk((size_t)atol(s + 5) << 20, 0);
    } else if (strncmp(s, "sparse=", 7) == 0) {
      add_chunk((size_t)atol(s + 7) << 20, 1);
    } else if (strncmp(s, "holes=", 6) == 0) {
      long n = atol(s + 6);
      void **v = calloc((size_t)n, sizeof *v);
      for (long k = 0; v != NULL && k < n; k++)
        v[k] = malloc(16 << 10);
      for (long k = 0; v != NULL && k < n; k += 2)
        free(v[k]);
      /* The odd ones stay: v itself is dropped (a leak, on purpose). */
    } else if (strncmp(s, "fill=", 5) == 0) {
      int ok = 0;
      for (;;) {
        add_chunk((size_t)atol(s + 5) << 20, 0);
        snapshot();
        if (perm_checkpoint() != 0)
          break;
        ok++;
      }
      printf("fill: %d checkpoints, then error errno=%s: %s\n", ok,
             strerrorname_np(errno), perm_error());
      report_failure();
    } else if (strcmp(s, "ckpt") == 0) {
      checkpoint("ckpt");
    } else if (strncmp(s, "rm=", 3) == 0) {
      printf("rm: %s\n", unlink(s + 3) == 0 ? "ok" : strerror(errno));
    } else {
      printf("bad step %s\n", s);
      return 2;
    }
    fflush(stdout);
  }
  int ok = verify();
  uint64_t g = generation();
  perm_close();
  printf("verified %llu chunks, generation %llu\n",
         (unsigned long long)nchunks, (unsigned long long)g);
  return ok ? 0 : 1;
}
