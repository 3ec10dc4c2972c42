/*
** cc.c - perm cc and perm c++ (also installed as permcc and perm++): the
** compiler driver of this installation, like mpicc.
**
**   perm cc  [--show] CLANG-ARGS...    runs clang-19
**   perm c++ [--show] CLANG-ARGS...    runs clang++-19
**
** The command line becomes
**
**   clang-19 -fplugin=LIB/libperm.so -IINC ARGS... -LLIB -Wl,-rpath,LIB
*-lpermrt
**
** where LIB and INC are found from where this executable is (BIN/../lib,
** BIN/../include), never from where it was configured, so an installed
** tree that is moved keeps working, and the build tree (which holds the
** same layout: build/bin, build/lib, build/include) works too.  The link
** flags are left out when ARGS do not link (-c, -S, -E, -M, -MM,
** -fsyntax-only, --precompile).  Every argument but --show goes to clang
** unchanged, in order; clang's exit status is ours.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tool.h"

/* Where this build installs libraries and headers, relative to PREFIX. */
#ifndef PERM_TOOL_LIBDIR
#define PERM_TOOL_LIBDIR "lib"
#endif
#ifndef PERM_TOOL_INCLUDEDIR
#define PERM_TOOL_INCLUDEDIR "include"
#endif

/* The files of one installation, as absolute paths. */
typedef struct cc_install_s {
  char lib[PATH_MAX];     /* holds libpermrt.so and libperm.so */
  char include[PATH_MAX]; /* holds perm.h */
  char plugin[PATH_MAX];  /* lib/libperm.so */
} cc_install_t;

/*
** DIR/REL if it holds FILE: out is the canonical directory.  The prefix is
** where the binary is, so symlinks such as permcc -> perm or a /usr/local/bin
** link to an installed perm resolve to the real tree.
*/
static int cc_find_dir(char *out, const char *prefix, const char *rel,
                       const char *file) {
  char dir[PATH_MAX], probe[PATH_MAX + 64];
  if ((size_t)snprintf(dir, sizeof dir, "%s/%s", prefix, rel) >= sizeof dir)
    return -1;
  if (realpath(dir, out) == NULL)
    return -1;
  snprintf(probe, sizeof probe, "%s/%s", out, file);
  return access(probe, R_OK) == 0 ? 0 : -1;
}

static int cc_find_install(cc_install_t *in) {
  char self[PATH_MAX], prefix[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) {
    tool_error("cannot find this command's own location (/proc/self/exe): %s; "
               "is /proc mounted?",
               n < 0 ? strerror(errno) : "empty");
    return -1;
  }
  self[n] = '\0';
  snprintf(prefix, sizeof prefix, "%s/..", dirname(self));
  /* The configured directory first; "lib" and "include" are the build
  ** tree's, and the install's whenever the two agree. */
  if (cc_find_dir(in->lib, prefix, PERM_TOOL_LIBDIR, "libpermrt.so") != 0 &&
      cc_find_dir(in->lib, prefix, "lib", "libpermrt.so") != 0) {
    tool_error("cannot find libpermrt.so in '%s/%s': this perm is not part "
               "of a complete PERM installation; reinstall it (cmake "
               "--install) or use the perm of the build tree",
               prefix, PERM_TOOL_LIBDIR);
    return -1;
  }
  if (cc_find_dir(in->include, prefix, PERM_TOOL_INCLUDEDIR, "perm.h") != 0 &&
      cc_find_dir(in->include, prefix, "include", "perm.h") != 0) {
    tool_error("cannot find perm.h in '%s/%s': this perm is not part of a "
               "complete PERM installation; reinstall it (cmake --install)",
               prefix, PERM_TOOL_INCLUDEDIR);
    return -1;
  }
  snprintf(in->plugin, sizeof in->plugin, "%s/libperm.so", in->lib);
  if (access(in->plugin, R_OK) != 0) {
    /* Compiling without it would drop every global's name silently. */
    tool_error("cannot read the PERM plugin '%s': %s; this installation was "
               "built without it (PERM_BUILD_PLUGIN=OFF?): rebuild PERM with "
               "the plugin, or compile by hand without it (README.PERM, "
               "section 4)",
               in->plugin, strerror(errno));
    return -1;
  }
  return 0;
}

/* The compiler's full path from PATH, as execvp would find it. */
static int cc_find_compiler(char *out, size_t size, const char *name) {
  const char *path = getenv("PATH");
  if (path == NULL)
    path = "/usr/local/bin:/usr/bin:/bin";
  for (const char *p = path;; p++) {
    const char *end = strchrnul(p, ':');
    int len = (int)(end - p);
    if ((size_t)snprintf(out, size, "%.*s/%s", len, len ? p : ".", name) <
            size &&
        access(out, X_OK) == 0)
      return 0;
    if (*end == '\0')
      return -1;
    p = end;
  }
}

/* Whether ARGS only preprocess, compile or check: then nothing is linked. */
static int cc_links(int argc, char **argv) {
  static const char *const nolink[] = {
      "-c", "-S", "-E", "-M", "-MM", "-fsyntax-only", "--precompile"};
  for (int i = 0; i < argc; i++)
    for (size_t k = 0; k < sizeof nolink / sizeof nolink[0]; k++)
      if (strcmp(argv[i], nolink[k]) == 0)
        return 0;
  return 1;
}

/* One word of --show's output, quoted for sh when it needs to be. */
static void cc_print_word(FILE *out, const char *w) {
  if (*w != '\0' && strspn(w, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
                              "vwxyz0123456789_-+=/.,:@%") == strlen(w)) {
    fputs(w, out);
    return;
  }
  fputc('\'', out);
  for (; *w != '\0'; w++) {
    if (*w == '\'')
      fputs("'\\''", out);
    else
      fputc(*w, out);
  }
  fputc('\'', out);
}

/* perm cc and perm c++: cmd->name says which. */
int tool_cc(const tool_command_t *cmd, int argc, char **argv) {
  const char *compiler =
      strcmp(cmd->name, "c++") == 0 ? "clang++-19" : "clang-19";
  cc_install_t in;
  if (cc_find_install(&in) != 0)
    return TOOL_EXIT_FAIL;

  /* argv[0] is the subcommand's name; --show is ours wherever it is. */
  int show = 0;
  char **user = calloc((size_t)argc + 1, sizeof *user);
  int nuser = 0;
  if (user == NULL) {
    tool_error("out of memory");
    return TOOL_EXIT_FAIL;
  }
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--show") == 0)
      show = 1;
    else
      user[nuser++] = argv[i];
  }

  char clang[PATH_MAX];
  if (cc_find_compiler(clang, sizeof clang, compiler) != 0) {
    tool_error("%s is not installed (not found in PATH): install Debian's "
               "package clang-19 (apt-get install clang-19, or "
               "scripts/setup.sh); PERM's plugin loads only into Clang 19",
               compiler);
    free(user);
    return TOOL_EXIT_FAIL;
  }

  char fplugin[PATH_MAX + 16], inc[PATH_MAX + 8], libdir[PATH_MAX + 8],
      rpath[PATH_MAX + 16];
  snprintf(fplugin, sizeof fplugin, "-fplugin=%s", in.plugin);
  snprintf(inc, sizeof inc, "-I%s", in.include);
  snprintf(libdir, sizeof libdir, "-L%s", in.lib);
  snprintf(rpath, sizeof rpath, "-Wl,-rpath,%s", in.lib);

  /* Open MPI's order: compiler flags, the user's arguments, then the
  ** libraries, so -lpermrt follows the objects that need it. */
  char **av = calloc((size_t)nuser + 8, sizeof *av);
  if (av == NULL) {
    tool_error("out of memory");
    free(user);
    return TOOL_EXIT_FAIL;
  }
  int n = 0;
  av[n++] = clang;
  av[n++] = fplugin;
  av[n++] = inc;
  for (int i = 0; i < nuser; i++)
    av[n++] = user[i];
  if (cc_links(nuser, user)) {
    av[n++] = libdir;
    av[n++] = rpath;
    av[n++] = "-lpermrt";
  }
  av[n] = NULL;

  if (show) {
    for (int i = 0; i < n; i++) {
      if (i > 0)
        putchar(' ');
      cc_print_word(stdout, av[i]);
    }
    putchar('\n');
    free(av);
    free(user);
    return fflush(stdout) == 0 ? TOOL_EXIT_OK : TOOL_EXIT_FAIL;
  }
  fflush(stdout);
  execv(clang, av);
  tool_error("cannot run '%s': %s", clang, strerror(errno));
  free(av);
  free(user);
  return TOOL_EXIT_FAIL;
}
