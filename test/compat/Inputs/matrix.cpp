/*
** matrix.cpp - one program for every way to open an image, every way to
** checkpoint it and every kind of persistent global (matrix.test, driven by
** test/Inputs/matrix.py).
**
**   matrix OPEN CKPT IMAGE MODULE
**     OPEN  perm_open   perm_open(IMAGE, "a+")
**           mopen       mopen(IMAGE, "w+" the first time, then "r+")
**           env         already open: PERM_FNAME (linked with libpermrt),
**                       LD_PRELOAD + PERM_FNAME or perm run (built with
**                       -DMATRIX_PRELOAD, not linked with libpermrt)
**     CKPT  call        perm_checkpoint()
**           mflush      mflush()
**           backup      bopen(IMAGE.back, "w+"), backup()
**           exit        nothing: the checkpoint at exit (PERM_FNAME)
**           signal      raise PERM_CHECKPOINT_SIGNAL (USR1), wait for it
**
** Every run pushes one node on the list of each kind of global: the
** executable's, a shared library's, a dlopen'ed module's (MODULE), a static
** local's and a C++ inline variable's, and prints "count/sum" of each.
*/
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "matrix-inline.h"

/*
** Built for the preload library, the program is not linked with libpermrt:
** it finds the API in the process with dlsym, as PMalloc programs do.
*/
#ifdef MATRIX_PRELOAD
template <class F> static F *matrix_api(const char *name) {
  F *f = reinterpret_cast<F *>(dlsym(RTLD_DEFAULT, name));
  if (f == nullptr) {
    printf("FAIL: %s is not in the process\n", name);
    exit(1);
  }
  return f;
}
#define API(fn) (matrix_api<decltype(fn)>(#fn))
#else
#define API(fn) (&fn)
#endif

PERM struct node *exe_list; /* the executable's */

static struct node **local_list() {
  static PERM struct node *list; /* a static local */
  return &list;
}

static int matrix_fail(const char *what) {
  printf("FAIL: %s: %s (%s)\n", what, API(perm_error)(), strerror(errno));
  return 1;
}

static int matrix_open(const char *how, const char *image) {
  if (strcmp(how, "perm_open") == 0)
    return API(perm_open)(image, "a+") == 0 ? 0 : matrix_fail("perm_open");
  if (strcmp(how, "mopen") == 0) {
    const char *mode = access(image, F_OK) == 0 ? "r+" : "w+";
    return API(mopen)(image, mode, 64u << 20) == 0 ? 0 : matrix_fail("mopen");
  }
  if (strcmp(how, "env") == 0) {
    perm_stats_t st;
    if (API(perm_stats)(&st) != 0 || !st.open) {
      printf("FAIL: the environment opened no image\n");
      return 1;
    }
    return 0;
  }
  printf("FAIL: unknown way to open '%s'\n", how);
  return 1;
}

/* Waits until the checkpoint the signal asked for is on disk. */
static int matrix_signal(void) {
  perm_stats_t st;
  API(perm_stats)(&st);
  unsigned long long before = st.generation;
  if (kill(getpid(), SIGUSR1) != 0)
    return matrix_fail("kill");
  for (int i = 0; i < 1000; i++) {
    API(perm_stats)(&st);
    if (st.generation > before)
      return 0;
    usleep(10000);
  }
  printf("FAIL: no checkpoint on signal after 10 s\n");
  return 1;
}

static int matrix_checkpoint(const char *how, const char *image) {
  if (strcmp(how, "call") == 0)
    return API(perm_checkpoint)() == 0 ? 0 : matrix_fail("perm_checkpoint");
  if (strcmp(how, "mflush") == 0)
    return API(mflush)() == 0 ? 0 : matrix_fail("mflush");
  if (strcmp(how, "backup") == 0) {
    char back[4096];
    snprintf(back, sizeof back, "%s.back", image);
    if (API(bopen)(back, "w+") != 0)
      return matrix_fail("bopen");
    return API(backup)() == 0 ? 0 : matrix_fail("backup");
  }
  if (strcmp(how, "exit") == 0)
    return 0;
  if (strcmp(how, "signal") == 0)
    return matrix_signal();
  printf("FAIL: unknown way to checkpoint '%s'\n", how);
  return 1;
}

static void matrix_print(const char *kind, const struct node *list) {
  long sum, n = matrix_count(list, &sum);
  printf(" %s=%ld/%ld", kind, n, sum);
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: matrix OPEN CKPT IMAGE MODULE\n");
    return 2;
  }
  if (matrix_open(argv[1], argv[3]) != 0)
    return 1;
  void *mod = dlopen(argv[4], RTLD_NOW);
  if (mod == nullptr) {
    printf("FAIL: dlopen: %s\n", dlerror());
    return 1;
  }
  auto mod_list = reinterpret_cast<struct node **(*)()>(
      dlsym(mod, "matrix_mod_list"));
  if (mod_list == nullptr) {
    printf("FAIL: matrix_mod_list: %s\n", dlerror());
    return 1;
  }
  long sum, run = matrix_count(exe_list, &sum) + 1;
  matrix_push(&exe_list, run);
  matrix_push(matrix_lib_list(), run);
  matrix_push(mod_list(), run);
  matrix_push(local_list(), run);
  matrix_push(matrix::inline_list_from_other(), run);
  printf("run=%ld", run);
  matrix_print("exe", exe_list);
  matrix_print("lib", *matrix_lib_list());
  matrix_print("mod", *mod_list());
  matrix_print("local", *local_list());
  matrix_print("inline", matrix::inline_list);
  printf(" restored=%d\n", API(perm_restored)());
  fflush(stdout);
  return matrix_checkpoint(argv[2], argv[3]);
}
