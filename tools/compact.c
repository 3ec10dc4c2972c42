/*
** compact.c - perm compact IMAGE: fold a chain of images (a full image and
** the deltas after it) into one full image of the same generation.
**
** The chain is read and verified whole first (runtime/image_chain.c, with
** every checksum), under the image's lock, so no program writes it
** meanwhile.  The new image is written like a checkpoint's: to
** NAME.tmp-RANDOM, synced, renamed over NAME with the NAME it replaces
** kept as NAME.prev (runtime/commit.c); a crash at any instant leaves the
** chain or the compacted image, each whole.  The members the new NAME and
** NAME.prev no longer need are removed after the durability point; the
** files of the chain are never modified in place.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "commit.h"
#include "config.h"
#include "lock.h"
#include "tool.h"

typedef struct compact_s {
  const char *path;
  int quiet;
  unsigned problems;
} compact_t;

static void compact_report(void *arg, const char *msg) {
  compact_t *c = arg;
  c->problems++;
  tool_error("%s", msg);
}

/* The head's block of that type (and state code), as it was checksummed. */
static int compact_copy_block(perm_image_writer_t *w,
                              const perm_image_view_t *v, uint32_t type,
                              uint32_t flags) {
  const perm_image_header_t *h = &v->img.hdr;
  for (uint32_t i = 0; i < h->nblocks; i++) {
    const perm_image_block_t *b = &h->blocks[i];
    if (b->type == type && (flags == 0 || b->flags == flags))
      return perm__image_writer_block(w, type, b->flags, b->addr,
                                      v->blocks[i], b->length);
  }
  return perm__errorf(EINVAL, "the image '%s' lacks %s", v->img.path,
                      perm__image_block_name(type, flags));
}

/* The chain's data and the head's metadata, as one full image. */
static int compact_write(const perm_chain_t *chain, perm_commit_t *commit) {
  const perm_image_view_t *head = &chain->views[0];
  perm_image_writer_t w;
  perm__image_writer_init(&w, commit->fd, commit->tmp);
  commit->fd = -1;
  const perm_image_header_t *h = &head->img.hdr;
  w.hdr.generation = h->generation;
  w.hdr.time_ns = h->time_ns; /* the snapshot's instant, not ours */
  w.hdr.heap_id = h->heap_id;
  w.hdr.flags = h->flags & ~PERM_IMAGE_F_DELTA;
  w.hdr.region_base = h->region_base;
  w.hdr.region_capacity = h->region_capacity;
  w.hdr.region_top = h->region_top;
  w.hdr.heap_allocated = h->heap_allocated;
  w.hdr.heap_active = h->heap_active;
  memcpy(w.hdr.runtime_version, h->runtime_version,
         sizeof w.hdr.runtime_version);
  memcpy(w.hdr.jemalloc_version, h->jemalloc_version,
         sizeof w.hdr.jemalloc_version);
  int rc = compact_copy_block(&w, head, PERM_BLOCK_OBJECTS, 0);
  if (rc == 0)
    rc = compact_copy_block(&w, head, PERM_BLOCK_REGISTRY, 0);
  for (uint32_t code = 1; code <= PERM_STATE_COUNT && rc == 0; code++)
    rc = compact_copy_block(&w, head, PERM_BLOCK_STATE, code);
  if (rc == 0)
    rc = compact_copy_block(&w, head, PERM_BLOCK_RUNS, 0);
  for (size_t i = 0; i < chain->nmap && rc == 0; i++) {
    const perm_chain_piece_t *p = &chain->map[i];
    rc = perm__image_writer_copy(&w, chain->views[p->image].img.fd,
                                 p->file_offset, p->addr, p->length);
  }
  if (rc == 0)
    rc = perm__image_writer_copy_end(&w);
  if (rc == 0)
    rc = perm__image_writer_finish(&w);
  if (rc != 0) {
    perm__image_writer_abort(&w);
    commit->tmp[0] = '\0';
  }
  return rc;
}

static int compact_parse(const tool_command_t *cmd, int argc, char **argv,
                         compact_t *c) {
  const struct option opts[] = {{"quiet", no_argument, NULL, 'q'},
                                {"help", no_argument, NULL, 'h'},
                                {NULL, 0, NULL, 0}};
  int o;
  opterr = 0;
  while ((o = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
    switch (o) {
    case 'q':
      c->quiet = 1;
      break;
    case 'h':
      tool_command_usage(stdout, cmd);
      return TOOL_EXIT_OK;
    default:
      return tool_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind + 1 != argc)
    return tool_usage_error(cmd, optind == argc ? "no image given"
                                                : "one image at a time");
  c->path = argv[optind];
  return -1;
}

int tool_compact(const tool_command_t *cmd, int argc, char **argv) {
  compact_t c;
  memset(&c, 0, sizeof c);
  int rc = compact_parse(cmd, argc, argv, &c);
  if (rc >= 0)
    return rc;
  /* PERM_TRUST_IMAGE=1 lets it take over another user's lock file too. */
  int trust;
  if (perm__parse_bool("PERM_TRUST_IMAGE", perm__getenv("PERM_TRUST_IMAGE"),
                       &trust) != 0) {
    tool_error("%s", perm__error_message());
    return TOOL_EXIT_USAGE;
  }
  int lock = perm__lock_image(c.path, trust);
  if (lock < 0) {
    tool_error("%s", perm__error_message());
    return TOOL_EXIT_FAIL;
  }
  perm__commit_recover(c.path);
  perm_chain_t chain;
  perm_image_hooks_t hooks = {.report = compact_report, .report_arg = &c};
  rc = perm__chain_open(&chain, c.path, PERM_VALIDATE_ALL | PERM_VALIDATE_DATA,
                        &hooks);
  if (rc != 0 || c.problems != 0) {
    if (c.problems == 0)
      tool_error("%s", perm__error_message());
    tool_error("'%s' is not compacted: its chain does not verify (see above); "
               "nothing was changed",
               c.path);
    perm__chain_close(&chain);
    perm__unlock_image(lock);
    return TOOL_EXIT_FAIL;
  }
  uint32_t n = chain.n;
  uint64_t before = 0;
  for (uint32_t i = 0; i < n; i++)
    before += chain.views[i].img.file_size;
  if (n == 1) {
    if (!c.quiet)
      printf("%s: generation %" PRIu64 " is a full image already\n", c.path,
             chain.views[0].img.hdr.generation);
    perm__chain_close(&chain);
    perm__unlock_image(lock);
    return TOOL_EXIT_OK;
  }
  perm_commit_t commit;
  uint64_t generation = chain.views[0].img.hdr.generation;
  rc = perm__commit_begin(&commit, c.path);
  if (rc == 0)
    rc = compact_write(&chain, &commit);
  perm__chain_close(&chain);
  if (rc == 0)
    rc = perm__commit_finish(&commit);
  else
    perm__commit_abort(&commit);
  if (rc != 0 && commit.committed) {
    tool_error("%s", perm__error_message());
    perm__commit_cleanup(&commit);
    perm__unlock_image(lock);
    return TOOL_EXIT_FAIL;
  }
  if (rc != 0) {
    tool_error("%s; '%s' is unchanged", perm__error_message(), c.path);
    perm__unlock_image(lock);
    return TOOL_EXIT_FAIL;
  }
  perm__commit_cleanup(&commit);
  perm__unlock_image(lock);
  perm_image_t img;
  uint64_t after = 0;
  if (perm__image_open(&img, c.path) == 0) {
    after = img.file_size;
    perm__image_close(&img);
  }
  if (!c.quiet)
    printf("%s: generation %" PRIu64 " folded from a chain of %" PRIu32
           " images (%" PRIu64 " bytes) into one full image (%" PRIu64
           " bytes); the chain stays as '%s.prev'\n",
           c.path, generation, n, before, after, c.path);
  return TOOL_EXIT_OK;
}
