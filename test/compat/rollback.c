// perm_rollback (PERM's restore()): the running heap and globals go back to
// an image's, in the same process, and the program goes on allocating and
// checkpointing; a damaged image is refused before anything changes; another
// thread that used the allocator makes it refuse.
//
// RUN: %clang %cflags -pthread %s %ldflags -o %t.exe
// RUN: rm -rf %t.d && mkdir -p %t.d
// RUN: %t.exe %t.d | FileCheck %s
// RUN: %t.exe %t.d next | FileCheck --check-prefix=NEXT %s
// CHECK: before rollback: value=2 list=2
// CHECK-NEXT: damaged backup refused: {{.*}}is corrupted
// CHECK-NEXT: heap unchanged: value=2 list=2
// CHECK-NEXT: thread refused: perm_rollback('{{.*}}/backup.img'): 1 other thread is running and may hold pointers into the heap being replaced
// CHECK-NEXT: after rollback: value=1 list=1 restored=1
// CHECK-NEXT: allocating again: list=3
// NEXT: next run: value=1 list=3
#include "../Inputs/zdtm.h"
#include <perm.h>
#include <pthread.h>
#include <sys/stat.h>

typedef struct node_s {
  struct node_s *next;
  char pad[100];
} node_t;

static long value;
static node_t *list;

static int length(void) {
  int n = 0;
  for (node_t *p = list; p; p = p->next)
    n++;
  return n;
}

static void push(void) {
  node_t *n = malloc(sizeof *n);
  memset(n->pad, 0x5a, sizeof n->pad);
  n->next = list;
  list = n;
}

/* volatile: the compiler may not remove the pair */
static void *volatile sink;

static void *thread_alloc(void *arg) {
  (void)arg;
  sink = malloc(100);
  free(sink);
  pthread_exit(NULL);
}

int main(int argc, char **argv) {
  char img[4096], backup[4096], bad[4096];
  snprintf(img, sizeof img, "%s/heap.img", argv[1]);
  snprintf(backup, sizeof backup, "%s/backup.img", argv[1]);
  snprintf(bad, sizeof bad, "%s/bad.img", argv[1]);
  perm_register(&value, sizeof value, "value");
  perm_register(&list, sizeof list, "list");
  if (perm_open(img, "a+") != 0)
    fail("perm_open: %s", perm_error());
  if (argc > 2) {
    printf("next run: value=%ld list=%d\n", value, length());
    return 0;
  }
  value = 1;
  push();
  if (perm_checkpoint_to(backup) != 0)
    fail("backup: %s", perm_error());
  value = 2;
  free(list);
  list = NULL;
  push();
  push();
  printf("before rollback: value=%ld list=%d\n", value, length());

  /* A damaged copy of the backup: refused, nothing changes. */
  char cmd[10000];
  snprintf(cmd, sizeof cmd,
           "cp %s %s && printf 'XXXX' | dd of=%s bs=1 seek=8200 conv=notrunc 2>/dev/null",
           backup, bad, bad);
  check(system(cmd) == 0, "damaging the copy");
  check(perm_rollback(bad) == -1, "a damaged image was accepted");
  printf("damaged backup refused: %s\n", perm_error());
  printf("heap unchanged: value=%ld list=%d\n", value, length());

  /* A live thread that used the allocator: refused. */
  pthread_t th;
  pthread_create(&th, NULL, thread_alloc, NULL);
  struct timespec d = {0, 50 * 1000 * 1000};
  nanosleep(&d, NULL); /* it has allocated; it is exiting or gone */
  pthread_join(th, NULL);
  /* joined: its tsd is cleaned, so a rollback would now be allowed; keep one
     alive to see the refusal */
  pthread_t th2;
  static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
  pthread_mutex_lock(&m);
  void *hold(void *arg);
  pthread_create(&th2, NULL, hold, &m);
  nanosleep(&d, NULL);
  check(perm_rollback(backup) == -1, "a rollback with a live thread");
  printf("thread refused: %s\n", perm_error());
  pthread_mutex_unlock(&m);
  pthread_join(th2, NULL);

  if (perm_rollback(backup) != 0)
    fail("perm_rollback: %s", perm_error());
  printf("after rollback: value=%ld list=%d restored=%d\n", value, length(),
         perm_restored());
  push();
  push();
  printf("allocating again: list=%d\n", length());
  if (perm_checkpoint() != 0)
    fail("checkpoint: %s", perm_error());
  return 0;
}

void *hold(void *arg) {
  sink = malloc(64);
  free(sink);
  pthread_mutex_lock(arg); /* alive until main lets go */
  pthread_mutex_unlock(arg);
  return NULL;
}
