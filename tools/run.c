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
  const char *old = getenv("LD_PRELOAD");
  char *value;
  if (asprintf(&value, "%s%s%s", preload, old && *old ? ":" : "",
               old && *old ? old : "") < 0)
    return TOOL_EXIT_FAIL;
  setenv("LD_PRELOAD", value, 1);
  setenv("PERM_FNAME", image, 1);
  setenv("PERM_MODE", mode, 1);
  free(value);
  /* The program and its libraries at the same addresses in every run. */
  int pers = personality(0xffffffff);
  if (pers != -1)
    personality((unsigned long)pers | ADDR_NO_RANDOMIZE);
  execvp(prog[0], prog);
  tool_error("cannot run '%s': %s", prog[0], strerror(errno));
  return errno == ENOENT ? 127 : 126;
}
