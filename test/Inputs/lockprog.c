/*
** lockprog.c - processes sharing one image, for the locking tests
** (test/Inputs/locks.py).  Its heap: a counter and, for "big", a buffer.
**   lockprog IMAGE create            a new heap (w+), checkpointed
**   lockprog IMAGE open MODE          open, print "ok" or the error, exit
**   lockprog IMAGE hold MODE DIR [ckpt]
**        open (exit 1 with the error), write DIR/ready, wait for DIR/go,
**        then (ckpt) add 1 to the counter and checkpoint; print "counter N"
**   lockprog IMAGE fork-hold DIR     open a+, fork a child that waits for
**        DIR/go2 and then checkpoints (a daemon's child), write DIR/ready
**        with the child's pid, exit at once (the child keeps running)
**   lockprog IMAGE stop-child DIR MIB
**        open a+, fill MIB MiB, start an asynchronous checkpoint, stop its
**        child with SIGSTOP at once, write "PARENT CHILD" to DIR/ready and
**        end without waiting (_exit): the child outlives its parent
**   lockprog IMAGE incr               open a+ (retrying while another
**        process writes it: EBUSY), add 1, checkpoint, print "counter N"
**   lockprog IMAGE counter            open r, print "counter N"
**   lockprog IMAGE ckpt-to TARGET     a new heap (w+) with counter 7,
**        perm_checkpoint_to(TARGET), print "ok" or the error
** Errors print "WHAT: error errno=NAME: message" and exit 1.
*/
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <perm.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static long counter;
static char *buf;

static void report(int rc, const char *what) {
  if (rc == 0)
    return;
  printf("%s: error errno=%s: %s\n", what, strerrorname_np(errno), perm_error());
  fflush(stdout);
  exit(1);
}

static void nap(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static void put(const char *dir, const char *name, const char *text) {
  char path[4096], tmp[4200];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  snprintf(tmp, sizeof tmp, "%s.part", path);
  FILE *f = fopen(tmp, "w");
  if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0 ||
      rename(tmp, path) != 0) {
    printf("cannot write %s\n", path);
    exit(2);
  }
}

static void await(const char *dir, const char *name) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  for (int i = 0; i < 60000; i++) {
    if (access(path, F_OK) == 0)
      return;
    nap(1);
  }
  printf("%s never appeared\n", path);
  exit(2);
}

/* The child of this process, found in /proc (the checkpoint's). */
static pid_t child_of_self(void) {
  DIR *d = opendir("/proc");
  struct dirent *e;
  pid_t found = 0;
  while (d != NULL && (e = readdir(d)) != NULL && found == 0) {
    char path[300], stat[512];
    snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
    FILE *f = fopen(path, "r");
    if (f == NULL)
      continue;
    size_t n = fread(stat, 1, sizeof stat - 1, f);
    fclose(f);
    stat[n] = '\0';
    char *p = strrchr(stat, ')');
    int ppid;
    if (p != NULL && sscanf(p + 2, "%*c %d", &ppid) == 1 && ppid == getpid())
      found = atoi(e->d_name);
  }
  if (d != NULL)
    closedir(d);
  return found;
}

int main(int argc, char **argv) {
  if (argc < 3)
    return 2;
  const char *img = argv[1], *act = argv[2];
  perm_register(&counter, sizeof counter, "counter");
  perm_register(&buf, sizeof buf, "buf");
  if (strcmp(act, "create") == 0) {
    report(perm_open(img, "w+"), "perm_open");
    report(perm_checkpoint(), "perm_checkpoint");
    printf("ok\n");
    return 0;
  }
  if (strcmp(act, "open") == 0 && argc == 4) {
    report(perm_open(img, argv[3]), "perm_open");
    printf("ok\n");
    return 0;
  }
  if (strcmp(act, "hold") == 0 && argc >= 5) {
    report(perm_open(img, argv[3]), "perm_open");
    char pid[32];
    snprintf(pid, sizeof pid, "%d\n", (int)getpid());
    put(argv[4], "ready", pid);
    await(argv[4], "go");
    if (argc > 5 && strcmp(argv[5], "ckpt") == 0) {
      counter++;
      report(perm_checkpoint(), "perm_checkpoint");
    }
    printf("counter %ld\n", counter);
    return 0;
  }
  if (strcmp(act, "fork-hold") == 0 && argc == 4) {
    report(perm_open(img, "a+"), "perm_open");
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
      char out[4096];
      snprintf(out, sizeof out, "%s/child.out", argv[3]);
      if (freopen(out, "w", stdout) == NULL)
        _exit(2);
      await(argv[3], "go2");
      counter += 10;
      report(perm_checkpoint(), "perm_checkpoint (the forked child)");
      printf("child counter %ld\n", counter);
      return 0;
    }
    char text[32];
    snprintf(text, sizeof text, "%d\n", (int)c);
    put(argv[3], "ready", text);
    _exit(0);
  }
  if (strcmp(act, "stop-child") == 0 && argc == 5) {
    report(perm_open(img, "a+"), "perm_open");
    size_t n = (size_t)atol(argv[4]) << 20;
    free(buf);
    buf = malloc(n);
    for (size_t i = 0; i < n; i++)
      buf[i] = (char)(i * 2654435761u >> 13);
    counter++;
    report(perm_checkpoint_async(), "perm_checkpoint_async");
    pid_t c = child_of_self();
    if (c <= 0 || kill(c, SIGSTOP) != 0) {
      printf("cannot stop the checkpoint's child\n");
      _exit(2);
    }
    char text[64];
    snprintf(text, sizeof text, "%d %d\n", (int)getpid(), (int)c);
    put(argv[3], "ready", text);
    _exit(0);
  }
  if (strcmp(act, "incr") == 0) {
    int tries = 0;
    while (perm_open(img, "a+") != 0) {
      if (errno != EBUSY || ++tries > 60000)
        report(-1, "perm_open");
      nap(1);
    }
    counter++;
    report(perm_checkpoint(), "perm_checkpoint");
    printf("counter %ld\n", counter);
    return 0;
  }
  if (strcmp(act, "counter") == 0) {
    report(perm_open(img, "r"), "perm_open");
    printf("counter %ld\n", counter);
    return 0;
  }
  if (strcmp(act, "ckpt-to") == 0 && argc == 4) {
    report(perm_open(img, "w+"), "perm_open");
    counter = 7;
    report(perm_checkpoint_to(argv[3]), "perm_checkpoint_to");
    printf("ok\n");
    return 0;
  }
  return 2;
}
