/*
** run.c - perm run: an unmodified program with a persistent heap and
** persistent globals.
**
**   perm run [--image FILE] [--mode MODE] [--preload LIB] -- PROGRAM [ARGS]
**
** Sets LD_PRELOAD to libperm-preload.so (found next to this command, in
** ../lib), PERM_FNAME and PERM_MODE, turns address randomisation off for the
** program (personality, no root needed), and executes it.  The default image
** is PROGRAM's base name + ".img" in the current directory; the default mode
** is "a+": resume when the image exists, else start afresh.
**
** The program owns the image: PERM__OWNER names this process, which exec
** keeps, so the program and every program it execs in turn (a wrapper
** script's interpreter, env) own it, and their children run with no image
** (runtime/environ.c).  The image's path is made absolute here, so a wrapper
** that changes directory still finds the same file.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <unistd.h>

#include "tool.h"

/* libperm-preload.so beside the perm binary: BIN/../lib. */
static int run_find_preload(char *out, size_t size) {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0)
    return -1;
  self[n] = '\0';
  snprintf(out, size, "%s/../lib/libperm-preload.so", dirname(self));
  char real[PATH_MAX];
  if (realpath(out, real) == NULL)
    return -1;
  snprintf(out, size, "%s", real);
  return 0;
}

/*
** image relative to the current directory, as an absolute path.  PERM_FNAME
** expands %r, %p and %h: a '%' of the directory's name is doubled, one of
** image is the user's.
*/
static int run_absolute(const char *image, char *out, size_t size) {
  size_t k = 0;
  if (image[0] != '/') {
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof cwd) == NULL)
      return -errno;
    for (const char *p = cwd; *p; p++) {
      if (k + 3 >= size)
        return -ENAMETOOLONG;
      if (*p == '%')
        out[k++] = '%';
      out[k++] = *p;
    }
    if (k == 0 || out[k - 1] != '/')
      out[k++] = '/';
  }
  int n = snprintf(out + k, size - k, "%s", image);
  return n >= 0 && (size_t)n < size - k ? 0 : -ENAMETOOLONG;
}

int tool_run(const tool_command_t *cmd, int argc, char **argv) {
  static const struct option opts[] = {
      {"image", required_argument, NULL, 'i'},
      {"mode", required_argument, NULL, 'm'},
      {"preload", required_argument, NULL, 'p'},
      {NULL, 0, NULL, 0}};
  const char *image = NULL, *mode = "a+", *preload = NULL;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "+i:m:p:", opts, NULL)) != -1) {
    switch (c) {
    case 'i':
      image = optarg;
      break;
    case 'm':
      mode = optarg;
      break;
    case 'p':
      preload = optarg;
      break;
    default:
      return tool_usage_error(cmd, "unknown option");
    }
  }
  if (optind >= argc)
    return tool_usage_error(cmd, "no program to run");
  char **prog = &argv[optind];

  char lib[PATH_MAX];
  if (preload == NULL) {
    if (run_find_preload(lib, sizeof lib) != 0) {
      tool_error("cannot find libperm-preload.so next to this command (in "
                 "../lib); give it with --preload");
      return TOOL_EXIT_FAIL;
    }
    preload = lib;
  } else if (access(preload, R_OK) != 0) {
    tool_error("cannot read the preload library '%s': %s", preload,
               strerror(errno));
    return TOOL_EXIT_FAIL;
  }
  char deflt[PATH_MAX];
  if (image == NULL) {
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", prog[0]);
    snprintf(deflt, sizeof deflt, "%s.img", basename(tmp));
    image = deflt;
  }
  char path[PATH_MAX];
  int rc = run_absolute(image, path, sizeof path);
  if (rc != 0) {
    tool_error("cannot name the image '%s' by its absolute path: %s", image,
               strerror(-rc));
    return TOOL_EXIT_FAIL;
  }
  char owner[PATH_MAX + 32];
  snprintf(owner, sizeof owner, "%d:%s", (int)getpid(), path);
  const char *old = getenv("LD_PRELOAD");
  char *value;
  if (asprintf(&value, "%s%s%s", preload, old && *old ? ":" : "",
               old && *old ? old : "") < 0)
    return TOOL_EXIT_FAIL;
  setenv("LD_PRELOAD", value, 1);
  setenv("PERM_FNAME", path, 1);
  setenv("PERM_MODE", mode, 1);
  setenv("PERM__OWNER", owner, 1);
  free(value);
  /* The program and its libraries at the same addresses in every run. */
  int pers = personality(0xffffffff);
  if (pers != -1)
    personality((unsigned long)pers | ADDR_NO_RANDOMIZE);
  execvp(prog[0], prog);
  tool_error("cannot run '%s': %s", prog[0], strerror(errno));
  return errno == ENOENT ? 127 : 126;
}
