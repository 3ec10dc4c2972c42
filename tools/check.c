/*
** check.c - perm check IMAGE [--quiet]: verify an image offline, all of it.
**
** What a restore with PERM_VERIFY=full would verify, and what it takes on
** trust because the writer is the runtime itself:
**   - the header: magic, version, checksum, size, block bounds (at open);
**   - the header's own fields: region geometry, alignment, strings;
**   - the layout: the required blocks, each once, none overlapping another,
**     the header page or the region data;
**   - every block's checksum;
**   - every table: counts against lengths, names NUL-terminated inside the
**     block, offsets in range (tables.c);
**   - runs and extents inside the region, extents inside runs, and the
**     extents adding up to the header's data_bytes;
**   - every extent's checksum, reading all region data.
** It goes on after a problem, so one run lists everything that is wrong.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "tool.h"

/* Shown at most, so a wrecked image does not print a line per extent. */
#define CHECK_MAX_EXTENT_REPORTS 10

typedef struct check_s {
  perm_image_t img;
  unsigned problems;
  uint64_t verified;                   /* bytes whose checksum matched */
  void *blocks[PERM_IMAGE_MAX_BLOCKS]; /* read and checksummed, or NULL */
  const perm_image_run_t *runs;        /* parsed, or NULL */
  uint32_t nruns;
  const perm_image_extent_t *extents; /* parsed, or NULL */
  uint32_t nextents;
} check_t;

static void check_problem(check_t *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void check_problem(check_t *c, const char *fmt, ...) {
  char msg[8192];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  tool_error("%s", msg);
  c->problems++;
}

/* The reader's message for the last failed call is the problem. */
static void check_reader_problem(check_t *c) {
  check_problem(c, "%s", perm__error_message());
}

/*
** The header is checksummed, so a bad field here was written that way; the
** reader checked only what it needs to find the blocks.
*/
static void check_header(check_t *c) {
  const perm_image_header_t *h = &c->img.hdr;
  const char *p = NULL;
  if (h->region_base % h->page_size != 0 ||
      h->region_capacity % h->page_size != 0 ||
      h->region_top % h->page_size != 0)
    p = "the region is not page-aligned";
  else if (h->region_base + h->region_capacity < h->region_base)
    p = "the region wraps around the address space";
  else if (h->region_top > h->region_capacity)
    p = "the region's top is beyond its capacity";
  else if (h->data_offset % PERM_IMAGE_ALIGN != 0 ||
           h->data_offset < PERM_IMAGE_HEADER_SIZE)
    p = "the region data is not at an aligned offset after the header";
  else if (h->data_bytes > h->region_top)
    p = "more region data is present than the region holds";
  else if (memchr(h->runtime_version, '\0', sizeof h->runtime_version) ==
               NULL ||
           memchr(h->jemalloc_version, '\0', sizeof h->jemalloc_version) ==
               NULL)
    p = "a version string is not NUL-terminated";
  if (p != NULL)
    check_problem(
        c, "the header of the image '%s' is malformed: %s" TOOL_FIX_WRITER,
        c->img.path, p);
}

typedef struct check_span_s {
  uint64_t lo, len;
  char what[64];
} check_span_t;

/* Which blocks there are, and that nothing shares bytes of the file. */
static void check_layout(check_t *c) {
  const perm_image_header_t *h = &c->img.hdr;
  unsigned count[PERM_BLOCK_EXTENTS + 1] = {0}, states[4] = {0};
  for (uint32_t i = 0; i < h->nblocks; i++) {
    const perm_image_block_t *b = &h->blocks[i];
    if (b->type == PERM_BLOCK_STATE && b->flags >= 1 && b->flags <= 3)
      states[b->flags]++;
    else if (b->type >= 1 && b->type <= PERM_BLOCK_EXTENTS &&
             b->type != PERM_BLOCK_STATE)
      count[b->type]++;
    else
      check_problem(c,
                    "the image '%s' is malformed: block %" PRIu32
                    " has unknown type %" PRIu32 " (flags %" PRIu32
                    ")" TOOL_FIX_WRITER,
                    c->img.path, i, b->type, b->flags);
  }
  static const uint32_t required[] = {PERM_BLOCK_OBJECTS, PERM_BLOCK_REGISTRY,
                                      PERM_BLOCK_RUNS, PERM_BLOCK_EXTENTS};
  for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
    if (count[required[i]] != 1)
      check_problem(c,
                    "the image '%s' is malformed: it has %u of %s, expected "
                    "one" TOOL_FIX_WRITER,
                    c->img.path, count[required[i]],
                    perm__image_block_name(required[i], 0));
  for (uint32_t s = 1; s <= 3; s++)
    if (states[s] != 1)
      check_problem(c,
                    "the image '%s' is malformed: it has %u of %s, expected "
                    "one" TOOL_FIX_WRITER,
                    c->img.path, states[s],
                    perm__image_block_name(PERM_BLOCK_STATE, s));

  check_span_t span[PERM_IMAGE_MAX_BLOCKS + 2];
  size_t n = 0;
  span[n] = (check_span_t){.lo = 0, .len = PERM_IMAGE_HEADER_SIZE};
  snprintf(span[n++].what, sizeof span[0].what, "the header page");
  span[n] = (check_span_t){.lo = h->data_offset, .len = h->region_top};
  snprintf(span[n++].what, sizeof span[0].what, "the region data");
  for (uint32_t i = 0; i < h->nblocks; i++) {
    span[n] =
        (check_span_t){.lo = h->blocks[i].offset, .len = h->blocks[i].length};
    snprintf(span[n++].what, sizeof span[0].what, "%s",
             perm__image_block_name(h->blocks[i].type, h->blocks[i].flags));
  }
  /* Bounds were checked at open, so lo + len does not overflow. */
  for (size_t i = 0; i < n; i++)
    for (size_t k = i + 1; k < n; k++)
      if (span[i].len != 0 && span[k].len != 0 &&
          span[i].lo < span[k].lo + span[k].len &&
          span[k].lo < span[i].lo + span[i].len)
        check_problem(c,
                      "the image '%s' is malformed: %s (offset %" PRIu64
                      ", %" PRIu64 " bytes) overlaps %s (offset %" PRIu64
                      ", %" PRIu64 " bytes)" TOOL_FIX_WRITER,
                      c->img.path, span[i].what, span[i].lo, span[i].len,
                      span[k].what, span[k].lo, span[k].len);
}

/* Every block's checksum; the buffers are kept for the table checks. */
static void check_blocks(check_t *c) {
  const perm_image_header_t *h = &c->img.hdr;
  for (uint32_t i = 0; i < h->nblocks; i++) {
    if (perm__image_read_block(&c->img, &h->blocks[i], &c->blocks[i]) != 0) {
      c->blocks[i] = NULL;
      check_reader_problem(c);
    } else {
      c->verified += h->blocks[i].length;
    }
  }
}

/* The checksummed bytes of the first block of a type, or NULL. */
static const void *check_block(const check_t *c, uint32_t type, uint64_t *len) {
  const perm_image_header_t *h = &c->img.hdr;
  for (uint32_t i = 0; i < h->nblocks; i++)
    if (h->blocks[i].type == type) {
      *len = h->blocks[i].length;
      return c->blocks[i];
    }
  return NULL;
}

static void check_tables(check_t *c) {
  uint64_t len;
  const void *b;
  if ((b = check_block(c, PERM_BLOCK_OBJECTS, &len)) != NULL) {
    const perm_image_object_t *o;
    uint32_t n;
    if (tool_parse_objects(&c->img, b, len, &o, &n) != 0)
      check_reader_problem(c);
  }
  if ((b = check_block(c, PERM_BLOCK_REGISTRY, &len)) != NULL) {
    const perm_image_global_t *g;
    uint32_t n;
    if (tool_parse_globals(&c->img, b, len, &g, &n) != 0)
      check_reader_problem(c);
  }
  if ((b = check_block(c, PERM_BLOCK_RUNS, &len)) != NULL &&
      tool_parse_runs(&c->img, b, len, &c->runs, &c->nruns) != 0) {
    c->runs = NULL;
    check_reader_problem(c);
  }
  if ((b = check_block(c, PERM_BLOCK_EXTENTS, &len)) != NULL &&
      tool_parse_extents(&c->img, b, len, &c->extents, &c->nextents) != 0) {
    c->extents = NULL;
    check_reader_problem(c);
  }
}

/*
** The writer gathers extents run by run, so each lies inside one run; data
** outside every run would be restored into memory nobody owns.  Both lists
** are sorted (tables.c), so one merge-like pass does it.
*/
static void check_extents_in_runs(check_t *c) {
  const perm_image_header_t *h = &c->img.hdr;
  uint64_t total = 0;
  uint32_t r = 0;
  unsigned outside = 0;
  for (uint32_t i = 0; i < c->nextents; i++) {
    const perm_image_extent_t *e = &c->extents[i];
    total += e->length;
    if (c->runs == NULL)
      continue;
    while (r < c->nruns && c->runs[r].addr + c->runs[r].length <= e->addr)
      r++;
    if (r < c->nruns && e->addr >= c->runs[r].addr &&
        e->addr + e->length <= c->runs[r].addr + c->runs[r].length)
      continue;
    if (++outside > CHECK_MAX_EXTENT_REPORTS)
      c->problems++;
    else
      check_problem(c,
                    "the extent table of the image '%s' is malformed: extent "
                    "0x%" PRIx64 "+%" PRIu64
                    " is not inside a run of the region" TOOL_FIX_WRITER,
                    c->img.path, e->addr, e->length);
  }
  if (outside > CHECK_MAX_EXTENT_REPORTS)
    tool_error("... and %u more extents outside every run",
               outside - CHECK_MAX_EXTENT_REPORTS);
  if (total != h->data_bytes)
    check_problem(c,
                  "the image '%s' is malformed: its extents hold %" PRIu64
                  " bytes, the header says %" PRIu64 TOOL_FIX_WRITER,
                  c->img.path, total, h->data_bytes);
}

/* Reads all region data: the bulk of the work, done last. */
static void check_region_data(check_t *c) {
  unsigned bad = 0;
  for (uint32_t i = 0; i < c->nextents; i++) {
    if (perm__image_read_extent(&c->img, &c->extents[i], NULL) == 0) {
      c->verified += c->extents[i].length;
      continue;
    }
    if (++bad <= CHECK_MAX_EXTENT_REPORTS)
      check_reader_problem(c);
    else
      c->problems++;
  }
  if (bad > CHECK_MAX_EXTENT_REPORTS)
    tool_error("... and %u more damaged extents",
               bad - CHECK_MAX_EXTENT_REPORTS);
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
** (NAME.prev, DESIGN.md section 3.5) is there to go back to.
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

int tool_check(const tool_command_t *cmd, int argc, char **argv) {
  int quiet = 0;
  const char *path;
  int rc = tool_parse_flag_image(cmd, argc, argv, "quiet", &quiet, &path);
  if (rc >= 0)
    return rc;

  check_t c;
  memset(&c, 0, sizeof c);
  rc = perm__image_open(&c.img, path);
  if (rc != 0) {
    tool_error("%s", perm__error_message());
    /* No hint for a missing file or one that was never an image. */
    if (rc == -EINVAL && check_has_magic(path))
      check_hint_prev(path);
    return TOOL_EXIT_FAIL;
  }
  c.verified = offsetof(perm_image_header_t, header_checksum);
  check_header(&c);
  check_layout(&c);
  check_blocks(&c);
  check_tables(&c);
  if (c.extents != NULL) {
    check_extents_in_runs(&c);
    check_region_data(&c);
  } else {
    tool_error("the region data of '%s' was not verified: its extent table "
               "is unusable",
               path);
  }

  uint64_t generation = c.img.hdr.generation;
  for (uint32_t i = 0; i < PERM_IMAGE_MAX_BLOCKS; i++)
    perm__tfree(c.blocks[i]);
  perm__image_close(&c.img);
  if (c.problems != 0) {
    fprintf(stderr, "%s: FAILED (%u problem%s)\n", path, c.problems,
            c.problems == 1 ? "" : "s");
    check_hint_prev(path);
    return TOOL_EXIT_FAIL;
  }
  if (!quiet)
    printf("%s: OK (generation %" PRIu64 ", %" PRIu32 " extents, %" PRIu64
           " bytes verified)\n",
           path, generation, c.nextents, c.verified);
  return TOOL_EXIT_OK;
}
