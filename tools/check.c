/*
** check.c - perm check IMAGE [--quiet] [--json]: verify an image offline,
** all of it, and every image it depends on.
**
** The checks are the runtime's own: the validator restore uses
** (runtime/image_validate.c) and the chain reader (image_chain.c), run
** here with every problem reported instead of the first, and with every
** extent's checksum verified (what PERM_VERIFY=full does at restore).
** What restore checks beyond that concerns the process, not the file: the
** program, its libraries and the runtime build.
**
** On a terminal, a progress line on stderr shows the bytes verified and
** the speed; --quiet prints nothing at all; --json prints one object.
*/
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "commit.h"
#include "tool.h"

typedef struct check_s {
  const char *path;
  int quiet, json;
  unsigned reported;       /* problems printed */
  char first[2048];        /* the first problem, for --json */
  tool_progress_t progress;
  /* JSON collects the problems instead of printing them. */
  char **problems;
  size_t nproblems;
} check_t;

static void check_report(void *arg, const char *msg) {
  check_t *c = arg;
  tool_progress_clear(&c->progress);
  if (c->reported++ == 0)
    snprintf(c->first, sizeof c->first, "%s", msg);
  if (c->json) {
    char **p = perm__trealloc(c->problems, (c->nproblems + 1) * sizeof *p);
    if (p != NULL) {
      c->problems = p;
      c->problems[c->nproblems] = perm__tstrdup(msg);
      if (c->problems[c->nproblems] != NULL)
        c->nproblems++;
    }
  } else if (!c->quiet) {
    tool_error("%s", msg);
  }
}

static void check_progress(void *arg, uint64_t done, uint64_t total) {
  check_t *c = arg;
  tool_progress_update(&c->progress, done, total);
}

/* Whether PATH starts like an image: only then is NAME.prev worth a word. */
static int check_has_magic(const char *path) {
  char magic[8];
  FILE *f = fopen(path, "rbe");
  if (f == NULL)
    return 0;
  int yes = fread(magic, 1, sizeof magic, f) == sizeof magic &&
            memcmp(magic, PERM_IMAGE_MAGIC, sizeof magic) == 0;
  fclose(f);
  return yes;
}

/*
** After a failure: say whether the image kept by the last checkpoint
** (NAME.prev) is there to go back to.
*/
static void check_hint_prev(const char *path) {
  char prev[4200];
  snprintf(prev, sizeof prev, "%s.prev", path);
  perm_image_t p;
  int rc = perm__image_open(&p, prev);
  if (rc == 0) {
    tool_error("the previous image '%s' (generation %" PRIu64
               ") has a sound header; verify it with: perm check '%s'; then "
               "go back to it with: mv '%s' '%s'",
               prev, p.hdr.generation, prev, prev, path);
    perm__image_close(&p);
  } else if (rc == -ENOENT) {
    tool_error("there is no previous image '%s' to go back to", prev);
  } else {
    tool_error("the previous image is unusable too: %s", perm__error_message());
  }
}

/*
** A checkpoint killed between its two renames leaves NAME.prev the same file
** as NAME, and the generation before under NAME.old-R until the next
** writable open puts it back (runtime/commit.c): say so, for a user about
** to 'mv NAME.prev NAME'.
*/
static void check_interrupted(const char *path) {
  char prev[4200], dirbuf[4096], basebuf[4096];
  snprintf(prev, sizeof prev, "%s.prev", path);
  /* The same file, or a copy (NAME was another user's): commit.c. */
  if (!perm__commit_prev_is_name(path))
    return;
  snprintf(dirbuf, sizeof dirbuf, "%s", path);
  snprintf(basebuf, sizeof basebuf, "%s", path);
  const char *dir = dirname(dirbuf), *base = basename(basebuf);
  DIR *d = opendir(dir);
  if (d == NULL)
    return;
  size_t bl = strlen(base);
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (strncmp(e->d_name, base, bl) == 0 &&
        strncmp(e->d_name + bl, ".old-", 5) == 0) {
      tool_error("note: '%s' is the same file as '%s' (a checkpoint was "
                 "interrupted); the generation before it is '%s/%s', which "
                 "the next writable open puts back as '%s'",
                 prev, path, dir, e->d_name, prev);
      break;
    }
  closedir(d);
}

static int check_parse(const tool_command_t *cmd, int argc, char **argv,
                       check_t *c) {
  const struct option opts[] = {{"quiet", no_argument, NULL, 'q'},
                                {"json", no_argument, NULL, 'j'},
                                {"help", no_argument, NULL, 'h'},
                                {NULL, 0, NULL, 0}};
  int o;
  opterr = 0;
  while ((o = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
    switch (o) {
    case 'q':
      c->quiet = 1;
      break;
    case 'j':
      c->json = 1;
      break;
    case 'h':
      tool_command_usage(stdout, cmd);
      return TOOL_EXIT_OK;
    default:
      return tool_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (c->quiet && c->json)
    return tool_usage_error(cmd, "--quiet and --json exclude each other");
  if (optind + 1 != argc)
    return tool_usage_error(cmd, optind == argc ? "no image given"
                                                : "one image at a time");
  c->path = argv[optind];
  return -1;
}

static void check_json(const check_t *c, const perm_chain_t *chain, int ok) {
  tool_json_t j;
  tool_json_init(&j, stdout);
  tool_json_begin_object(&j, NULL);
  tool_json_string(&j, "image", c->path);
  tool_json_bool(&j, "ok", ok);
  if (chain->n > 0 && chain->views[0].img.fd >= 0) {
    tool_json_u64(&j, "generation", chain->views[0].img.hdr.generation);
  } else {
    tool_json_null(&j, "generation");
  }
  tool_json_begin_array(&j, "chain");
  uint64_t verified = 0, extents = 0;
  for (uint32_t i = 0; i < chain->n; i++) {
    const perm_image_view_t *v = &chain->views[i];
    if (v->img.fd < 0 && v->img.path[0] == '\0')
      continue;
    tool_json_begin_object(&j, NULL);
    tool_json_string(&j, "file", v->img.path);
    tool_json_u64(&j, "generation", v->img.hdr.generation);
    tool_json_string(&j, "kind", (v->img.hdr.flags & PERM_IMAGE_F_DELTA)
                                     ? "delta"
                                     : "full");
    tool_json_u64(&j, "extents", v->nextents);
    tool_json_u64(&j, "bytes_verified", v->verified);
    tool_json_u64(&j, "problems", v->problems);
    tool_json_end_object(&j);
    verified += v->verified;
    extents += v->nextents;
  }
  tool_json_end_array(&j);
  tool_json_u64(&j, "extents", extents);
  tool_json_u64(&j, "bytes_verified", verified);
  tool_json_begin_array(&j, "problems");
  for (size_t i = 0; i < c->nproblems; i++)
    tool_json_string(&j, NULL, c->problems[i]);
  tool_json_end_array(&j);
  tool_json_end_object(&j);
}

int tool_check(const tool_command_t *cmd, int argc, char **argv) {
  check_t c;
  memset(&c, 0, sizeof c);
  int rc = check_parse(cmd, argc, argv, &c);
  if (rc >= 0)
    return rc;
  tool_progress_init(&c.progress, !c.quiet && !c.json, c.path);

  perm_chain_t chain;
  perm_image_hooks_t hooks = {.report = check_report,
                              .report_arg = &c,
                              .progress = check_progress,
                              .progress_arg = &c};
  rc = perm__chain_open(&chain, c.path, PERM_VALIDATE_ALL | PERM_VALIDATE_DATA,
                        &hooks);
  tool_progress_clear(&c.progress);
  if (!c.quiet && !c.json && chain.n > 0 && chain.views[0].img.fd >= 0 &&
      chain.views[0].extents == NULL)
    tool_error("the region data of '%s' was not verified: its extent table "
               "is unusable",
               c.path);
  /* A failure to open (missing file, no image) reports nothing itself. */
  if (rc != 0 && c.reported == 0)
    check_report(&c, perm__error_message());
  int ok = rc == 0 && c.reported == 0;
  if (c.json) {
    check_json(&c, &chain, ok);
  } else if (!ok && !c.quiet) {
    unsigned n = 0;
    for (uint32_t i = 0; i < chain.n; i++)
      n += chain.views[i].problems;
    if (n == 0)
      n = c.reported;
    if (chain.n > 0 && chain.views[0].img.path[0] != '\0' &&
        (rc != -ENOENT || chain.n > 1)) {
      fprintf(stderr, "%s: FAILED (%u problem%s)\n", c.path, n,
              n == 1 ? "" : "s");
      if (check_has_magic(c.path))
        check_hint_prev(c.path);
    }
  } else if (ok && !c.quiet) {
    uint64_t verified = 0, extents = 0;
    for (uint32_t i = 0; i < chain.n; i++) {
      verified += chain.views[i].verified;
      extents += chain.views[i].nextents;
    }
    if (chain.n > 1)
      printf("%s: OK (generation %" PRIu64 ", a chain of %" PRIu32
             " images, %" PRIu64 " extents, %" PRIu64 " bytes verified)\n",
             c.path, chain.views[0].img.hdr.generation, chain.n, extents,
             verified);
    else
      printf("%s: OK (generation %" PRIu64 ", %" PRIu64 " extents, %" PRIu64
             " bytes verified)\n",
             c.path, chain.views[0].img.hdr.generation, extents, verified);
  }
  if (!c.quiet && !c.json)
    check_interrupted(c.path);
  perm__chain_close(&chain);
  for (size_t i = 0; i < c.nproblems; i++)
    perm__tfree(c.problems[i]);
  perm__tfree(c.problems);
  if (fflush(stdout) != 0 || ferror(stdout)) {
    tool_error("cannot write the output: %s", strerror(errno));
    return TOOL_EXIT_FAIL;
  }
  return ok ? TOOL_EXIT_OK : TOOL_EXIT_FAIL;
}
