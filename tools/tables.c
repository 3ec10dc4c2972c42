/*
** tables.c - parsers for the metadata blocks of an image (image_format.h).
**
** A block's checksum only proves the bytes are the ones written; these
** checks prove the writer wrote something a reader can walk without going
** out of bounds: counts that fit the length, names NUL-terminated inside the
** block, data inside the block, runs and extents inside the region.  Both
** 'info' (before printing) and 'check' use them, so neither trusts an
** offset it has not checked.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "tool.h"

static int tables_bad(const perm_image_t *img, uint32_t type, const char *what,
                      uint64_t index, const char *detail) {
  if (index == UINT64_MAX)
    return perm__errorf(EINVAL,
                        "%s of the image '%s' is malformed: %s" TOOL_FIX_WRITER,
                        perm__image_block_name(type, 0), img->path, detail);
  return perm__errorf(
      EINVAL,
      "%s of the image '%s' is malformed: %s %" PRIu64 " %s" TOOL_FIX_WRITER,
      perm__image_block_name(type, 0), img->path, what, index, detail);
}

/* The table header every list block starts with; returns the entries. */
static int tables_header(const perm_image_t *img, uint32_t type,
                         const void *block, uint64_t len, uint32_t entry_size,
                         const void **entries, uint32_t *n) {
  const perm_image_table_t *t = block;
  char detail[160];
  if (len < sizeof *t)
    return tables_bad(img, type, NULL, UINT64_MAX,
                      "shorter than its table header");
  if (t->entry_size != entry_size) {
    snprintf(detail, sizeof detail,
             "entries of %" PRIu32 " bytes, this tool reads %" PRIu32,
             t->entry_size, entry_size);
    return tables_bad(img, type, NULL, UINT64_MAX, detail);
  }
  if (t->count > (len - sizeof *t) / entry_size) {
    snprintf(detail, sizeof detail,
             "%" PRIu32 " entries do not fit in %" PRIu64 " bytes", t->count,
             len);
    return tables_bad(img, type, NULL, UINT64_MAX, detail);
  }
  *entries = (const char *)block + sizeof *t;
  *n = t->count;
  return 0;
}

/* A name must start after the entries and end with a NUL inside the block. */
static int tables_name_ok(const void *block, uint64_t len, uint64_t head,
                          uint64_t off) {
  return off >= head && off < len &&
         memchr((const char *)block + off, '\0', len - off) != NULL;
}

int tool_parse_objects(const perm_image_t *img, const void *block, uint64_t len,
                       const perm_image_object_t **v, uint32_t *n) {
  const void *e;
  int rc = tables_header(img, PERM_BLOCK_OBJECTS, block, len,
                         sizeof(perm_image_object_t), &e, n);
  if (rc != 0)
    return rc;
  const perm_image_object_t *o = e;
  uint64_t head = sizeof(perm_image_table_t) + *n * sizeof *o;
  uint32_t mains = 0, runtimes = 0;
  for (uint32_t i = 0; i < *n; i++) {
    if (!tables_name_ok(block, len, head, o[i].name_offset))
      return tables_bad(img, PERM_BLOCK_OBJECTS, "object", i,
                        "has its name outside the block");
    if (o[i].build_id_len > sizeof o[i].build_id)
      return tables_bad(img, PERM_BLOCK_OBJECTS, "object", i,
                        "has a build-id longer than 40 bytes");
    mains += (o[i].flags & PERM_OBJECT_MAIN) != 0;
    runtimes += (o[i].flags & PERM_OBJECT_RUNTIME) != 0;
  }
  /* Restore matches the executable and the runtime by these flags. */
  if (mains != 1 || runtimes > 1) {
    char detail[96];
    snprintf(detail, sizeof detail,
             "%" PRIu32 " executables and %" PRIu32
             " runtimes (expected 1 and at most 1)",
             mains, runtimes);
    return tables_bad(img, PERM_BLOCK_OBJECTS, NULL, UINT64_MAX, detail);
  }
  *v = o;
  return 0;
}

int tool_parse_globals(const perm_image_t *img, const void *block, uint64_t len,
                       const perm_image_global_t **v, uint32_t *n) {
  const void *e;
  int rc = tables_header(img, PERM_BLOCK_REGISTRY, block, len,
                         sizeof(perm_image_global_t), &e, n);
  if (rc != 0)
    return rc;
  const perm_image_global_t *g = e;
  uint64_t head = sizeof(perm_image_table_t) + *n * sizeof *g;
  for (uint32_t i = 0; i < *n; i++) {
    if (!tables_name_ok(block, len, head, g[i].name_offset))
      return tables_bad(img, PERM_BLOCK_REGISTRY, "global", i,
                        "has its name outside the block");
    if (g[i].data_offset < head || g[i].data_offset > len ||
        g[i].size > len - g[i].data_offset)
      return tables_bad(img, PERM_BLOCK_REGISTRY, "global", i,
                        "has its bytes outside the block");
    if (g[i].addr + g[i].size < g[i].addr)
      return tables_bad(img, PERM_BLOCK_REGISTRY, "global", i,
                        "wraps around the address space");
    if (g[i].align != 0 && (g[i].align & (g[i].align - 1)) != 0)
      return tables_bad(img, PERM_BLOCK_REGISTRY, "global", i,
                        "has an alignment that is not a power of two");
  }
  *v = g;
  return 0;
}

/*
** [addr, addr+length) must be a non-empty, page-aligned part of the region
** handed out so far, [region_base, region_base + region_top).
*/
static const char *tables_span_problem(const perm_image_t *img, uint64_t addr,
                                       uint64_t length) {
  const perm_image_header_t *h = &img->hdr;
  if (length == 0)
    return "is empty";
  if (addr % h->page_size != 0 || length % h->page_size != 0)
    return "is not page-aligned";
  if (addr < h->region_base || length > h->region_top ||
      addr - h->region_base > h->region_top - length)
    return "lies outside the region";
  return NULL;
}

static int tables_span_bad(const perm_image_t *img, uint32_t type,
                           const char *what, uint64_t addr, uint64_t length,
                           const char *problem) {
  char detail[160];
  snprintf(detail, sizeof detail, "%s 0x%" PRIx64 "+%" PRIu64 " %s", what, addr,
           length, problem);
  return tables_bad(img, type, NULL, UINT64_MAX, detail);
}

int tool_parse_runs(const perm_image_t *img, const void *block, uint64_t len,
                    const perm_image_run_t **v, uint32_t *n) {
  const void *e;
  int rc = tables_header(img, PERM_BLOCK_RUNS, block, len,
                         sizeof(perm_image_run_t), &e, n);
  if (rc != 0)
    return rc;
  const perm_image_run_t *r = e;
  for (uint32_t i = 0; i < *n; i++) {
    const char *p = tables_span_problem(img, r[i].addr, r[i].length);
    /* The writer walks the region in address order; extents are matched
    ** to runs by that order. */
    if (p == NULL && i > 0 && r[i].addr < r[i - 1].addr + r[i - 1].length)
      p = "overlaps or precedes the run before it";
    if (p != NULL)
      return tables_span_bad(img, PERM_BLOCK_RUNS, "run", r[i].addr,
                             r[i].length, p);
  }
  *v = r;
  return 0;
}

int tool_parse_extents(const perm_image_t *img, const void *block, uint64_t len,
                       const perm_image_extent_t **v, uint32_t *n) {
  const void *e;
  int rc = tables_header(img, PERM_BLOCK_EXTENTS, block, len,
                         sizeof(perm_image_extent_t), &e, n);
  if (rc != 0)
    return rc;
  const perm_image_extent_t *x = e;
  for (uint32_t i = 0; i < *n; i++) {
    const char *p = tables_span_problem(img, x[i].addr, x[i].length);
    if (p == NULL && i > 0 && x[i].addr < x[i - 1].addr + x[i - 1].length)
      p = "overlaps or precedes the extent before it";
    if (p != NULL)
      return tables_span_bad(img, PERM_BLOCK_EXTENTS, "extent", x[i].addr,
                             x[i].length, p);
  }
  *v = x;
  return 0;
}
