/*
** image_validate.c - the one validator of PERM images, used by restore and
** by 'perm check' / 'perm info' alike.
**
** A checksum only proves that the bytes are the ones written; a hostile or
** faulty writer can seal anything.  So every field is checked against every
** other it depends on, in an order where nothing is used before its own
** check: the header's geometry; the block table (types, counts, bounds,
** overlaps, sizes bounded by the region before anything is read); each
** block's checksum; each table (counts against lengths, names inside the
** block, offsets in range, entries sorted and disjoint); then the tables
** against each other and the header (extents inside runs and the data
** area, data_bytes, the runtime state's region and free list against the
** header and the runs); optionally every extent's checksum.
**
** Messages name the file, the block, the entry and the rule.  With
** PERM_VALIDATE_ALL the validator goes on after a problem (perm check lists
** everything); otherwise the first problem ends it (restore).
*/
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "image.h"
#include "sys.h"

/* The checksums hold, so the damage was written: say whose fault it is. */
#define VALIDATE_FIX "; the runtime that wrote it is faulty (please report this)"

/* Bounds on metadata, checked before a block is read. */
#define VALIDATE_MAX_OBJECTS_BLOCK (64ull << 20)
#define VALIDATE_MAX_STATE_BLOCK (1ull << 30)

/* One problem: recorded as the thread's error, reported, counted. */
static int validate_problem(perm_image_view_t *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int validate_problem(perm_image_view_t *v, const char *fmt, ...) {
  char msg[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  perm__errorf(EINVAL, "%s", msg);
  v->problems++;
  if ((v->flags & PERM_VALIDATE_ALL) && v->hooks.report != NULL)
    v->hooks.report(v->hooks.report_arg, msg);
  return -EINVAL;
}

/* A problem the reader already described (perm__error_message()). */
static int validate_reader_problem(perm_image_view_t *v, int rc) {
  v->problems++;
  if ((v->flags & PERM_VALIDATE_ALL) && v->hooks.report != NULL)
    v->hooks.report(v->hooks.report_arg, perm__error_message());
  return rc;
}

/* Go on after a problem only when asked to. */
#define VALIDATE_STOP(v, rc) ((rc) != 0 && !((v)->flags & PERM_VALIDATE_ALL))

/*------------------------------------------------------------- header ---*/

static int validate_header(perm_image_view_t *v) {
  const perm_image_header_t *h = &v->img.hdr;
  const char *path = v->img.path;
  const char *p = NULL;
  uint32_t page = h->page_size;
  if (page < 4096 || (page & (page - 1)) != 0 || page > (1u << 21))
    p = "the page size is not a power of two between 4 KiB and 2 MiB";
  else if (h->region_base == 0 || h->region_capacity == 0)
    p = "the region has no address or no capacity";
  else if (h->region_base % page != 0 || h->region_capacity % page != 0 ||
           h->region_top % page != 0)
    p = "the region is not page-aligned";
  else if (h->region_base + h->region_capacity < h->region_base ||
           h->region_base + h->region_capacity > (1ull << 57))
    p = "the region wraps around the address space or lies beyond it";
  else if (h->region_top > h->region_capacity)
    p = "the region's top is beyond its capacity";
  else if (h->data_offset % PERM_IMAGE_ALIGN != 0 ||
           h->data_offset < PERM_IMAGE_HEADER_SIZE ||
           h->data_offset > v->img.file_size)
    p = "the region data is not at an aligned offset inside the file";
  else if (h->data_bytes > h->region_capacity)
    p = "more region data is present than the region holds";
  else if (h->format_version >= 2 &&
           h->data_bytes > v->img.file_size - h->data_offset)
    p = "the region data lies outside the file";
  else if (h->format_version == 1 &&
           h->region_top > v->img.file_size - h->data_offset)
    p = "the region data lies outside the file";
  else if (memchr(h->runtime_version, '\0', sizeof h->runtime_version) ==
               NULL ||
           memchr(h->jemalloc_version, '\0', sizeof h->jemalloc_version) ==
               NULL)
    p = "a version string is not NUL-terminated";
  else if (h->flags & ~PERM_IMAGE_F_KNOWN)
    p = "it has flags this PERM does not know (a newer writer?)";
  else if (h->generation == 0)
    p = "its generation is 0";
  if (p == NULL && h->format_version >= 2) {
    int delta = (h->flags & PERM_IMAGE_F_DELTA) != 0;
    size_t nl = strnlen(h->parent_name, sizeof h->parent_name);
    if (h->heap_id == 0)
      p = "it names no heap (heap_id 0)";
    else if (h->chain_length == 0 || h->chain_length > PERM_IMAGE_MAX_CHAIN)
      p = "its chain length is out of range";
    else if (delta != (h->chain_length > 1))
      p = "its chain length disagrees with its kind (full or delta)";
    else if (delta && (h->parent_generation == 0 ||
                       h->parent_generation >= h->generation))
      p = "a delta's parent generation must be older than its own";
    else if (!delta && (h->parent_generation != 0 || nl != 0 ||
                        h->parent_checksum != 0))
      p = "a full image names a parent";
    else if (delta && (nl == 0 || nl == sizeof h->parent_name ||
                       memchr(h->parent_name, '/', nl) != NULL ||
                       strcmp(h->parent_name, ".") == 0 ||
                       strcmp(h->parent_name, "..") == 0))
      p = "a delta's parent is not a file name in its directory";
  }
  if (p != NULL)
    return validate_problem(v,
                            "the header of the image '%s' is malformed: "
                            "%s" VALIDATE_FIX,
                            path, p);
  return 0;
}

/*------------------------------------------------------------- layout ---*/

typedef struct validate_span_s {
  uint64_t lo, len;
  char what[64];
} validate_span_t;

static uint64_t validate_data_span(const perm_image_header_t *h) {
  return h->format_version == 1 ? h->region_top : h->data_bytes;
}

/* Which blocks there are, their sizes, and that nothing shares bytes. */
static int validate_layout(perm_image_view_t *v) {
  const perm_image_header_t *h = &v->img.hdr;
  const char *path = v->img.path;
  int rc = 0;
  unsigned count[PERM_BLOCK_EXTENTS + 1] = {0};
  unsigned states[PERM_STATE_COUNT + 1] = {0};
  uint64_t page = h->page_size;
  for (uint32_t i = 0; i < h->nblocks; i++) {
    const perm_image_block_t *b = &h->blocks[i];
    uint64_t max = UINT64_MAX;
    if (b->type == PERM_BLOCK_STATE && b->flags >= 1 &&
        b->flags <= PERM_STATE_COUNT) {
      states[b->flags]++;
      max = VALIDATE_MAX_STATE_BLOCK;
    } else if (b->type >= 1 && b->type <= PERM_BLOCK_EXTENTS &&
               b->type != PERM_BLOCK_STATE) {
      count[b->type]++;
      if (b->type == PERM_BLOCK_OBJECTS)
        max = VALIDATE_MAX_OBJECTS_BLOCK;
      else if (b->type == PERM_BLOCK_RUNS)
        max = sizeof(perm_image_table_t) +
              (h->region_top / page + 1) * sizeof(perm_image_run_t);
      else if (b->type == PERM_BLOCK_EXTENTS)
        max = sizeof(perm_image_table_t) +
              (h->region_capacity / page + 1) * sizeof(perm_image_extent_t);
    } else {
      rc = validate_problem(v,
                            "the image '%s' is malformed: block %" PRIu32
                            " has unknown type %" PRIu32 " (flags %" PRIu32
                            ")" VALIDATE_FIX,
                            path, i, b->type, b->flags);
      if (VALIDATE_STOP(v, rc))
        return rc;
      continue;
    }
    if (b->type != PERM_BLOCK_STATE && b->flags != 0)
      rc = validate_problem(v,
                            "the image '%s' is malformed: %s has flags "
                            "0x%" PRIx32 VALIDATE_FIX,
                            path, perm__image_block_name(b->type, b->flags),
                            b->flags);
    else if (b->type != PERM_BLOCK_STATE && b->addr != 0)
      rc = validate_problem(v,
                            "the image '%s' is malformed: %s has an "
                            "address" VALIDATE_FIX,
                            path, perm__image_block_name(b->type, b->flags));
    else if (b->length > max)
      rc = validate_problem(v,
                            "the image '%s' is malformed: %s is %" PRIu64
                            " bytes, more than the region can need (%" PRIu64
                            ")" VALIDATE_FIX,
                            path, perm__image_block_name(b->type, b->flags),
                            b->length, max);
    if (VALIDATE_STOP(v, rc))
      return rc;
  }
  static const uint32_t required[] = {PERM_BLOCK_OBJECTS, PERM_BLOCK_REGISTRY,
                                      PERM_BLOCK_RUNS, PERM_BLOCK_EXTENTS};
  for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
    if (count[required[i]] != 1) {
      rc = validate_problem(v,
                            "the image '%s' is malformed: it has %u of %s, "
                            "expected one" VALIDATE_FIX,
                            path, count[required[i]],
                            perm__image_block_name(required[i], 0));
      if (VALIDATE_STOP(v, rc))
        return rc;
    }
  for (uint32_t s = 1; s <= PERM_STATE_COUNT; s++)
    if (states[s] != 1) {
      rc = validate_problem(v,
                            "the image '%s' is malformed: it has %u of %s, "
                            "expected one" VALIDATE_FIX,
                            path, states[s],
                            perm__image_block_name(PERM_BLOCK_STATE, s));
      if (VALIDATE_STOP(v, rc))
        return rc;
    }

  validate_span_t span[PERM_IMAGE_MAX_BLOCKS + 2];
  size_t n = 0;
  span[n] = (validate_span_t){.lo = 0, .len = PERM_IMAGE_HEADER_SIZE};
  snprintf(span[n++].what, sizeof span[0].what, "the header page");
  span[n] = (validate_span_t){.lo = h->data_offset,
                              .len = validate_data_span(h)};
  snprintf(span[n++].what, sizeof span[0].what, "the region data");
  for (uint32_t i = 0; i < h->nblocks; i++) {
    span[n] = (validate_span_t){.lo = h->blocks[i].offset,
                                .len = h->blocks[i].length};
    snprintf(span[n++].what, sizeof span[0].what, "%s",
             perm__image_block_name(h->blocks[i].type, h->blocks[i].flags));
  }
  /* Bounds were checked at open and in the header, so no sum overflows. */
  for (size_t i = 0; i < n; i++)
    for (size_t k = i + 1; k < n; k++)
      if (span[i].len != 0 && span[k].len != 0 &&
          span[i].lo < span[k].lo + span[k].len &&
          span[k].lo < span[i].lo + span[i].len) {
        rc = validate_problem(v,
                              "the image '%s' is malformed: %s (offset "
                              "%" PRIu64 ", %" PRIu64 " bytes) overlaps %s "
                              "(offset %" PRIu64 ", %" PRIu64
                              " bytes)" VALIDATE_FIX,
                              path, span[i].what, span[i].lo, span[i].len,
                              span[k].what, span[k].lo, span[k].len);
        if (VALIDATE_STOP(v, rc))
          return rc;
      }
  return v->problems ? -EINVAL : 0;
}

/*
** What a large block can need, from its own first bytes, read before the
** whole block is: a registry holds its entries, their names and their
** globals' bytes; a state block its pieces and at most its section.  A
** forged length over a sparse file (zeros, whose checksum an attacker can
** compute) then costs a few reads, not an allocation of that length.
*/
#define VALIDATE_PREBOUND_BYTES (1u << 20)
#define VALIDATE_MAX_NAME 4096u

static int validate_prebound(perm_image_view_t *v, const perm_image_block_t *b) {
  const perm_image_t *img = &v->img;
  uint64_t bound = 0;
  int rd = 0; /* a read that failed: an I/O error, not a malformed block */
  if (b->length <= VALIDATE_PREBOUND_BYTES)
    return 0;
  if (b->type == PERM_BLOCK_REGISTRY) {
    perm_image_table_t t;
    if ((rd = perm__sys_pread_all(img->fd, &t, sizeof t, (off_t)b->offset)) !=
            0 ||
        t.entry_size != sizeof(perm_image_global_t) ||
        t.count > (b->length - sizeof t) / sizeof(perm_image_global_t))
      goto bad;
    bound = sizeof t + 16;
    perm_image_global_t g[256];
    for (uint32_t i = 0; i < t.count; i += 256) {
      uint32_t n = t.count - i < 256 ? t.count - i : 256;
      if ((rd = perm__sys_pread_all(img->fd, g, n * sizeof *g,
                                    (off_t)(b->offset + sizeof t +
                                            (uint64_t)i * sizeof *g))) != 0)
        goto bad;
      for (uint32_t k = 0; k < n; k++) {
        if (g[k].size > b->length)
          goto bad;
        bound += sizeof *g + VALIDATE_MAX_NAME + ((g[k].size + 15) & ~15ull);
      }
    }
  } else if (b->type == PERM_BLOCK_STATE && img->hdr.format_version >= 2) {
    perm_image_state_t t;
    if ((rd = perm__sys_pread_all(img->fd, &t, sizeof t, (off_t)b->offset)) !=
            0 ||
        t.piece_size != sizeof(perm_image_piece_t) ||
        t.section_length > VALIDATE_MAX_STATE_BLOCK)
      goto bad;
    bound = sizeof t + (uint64_t)t.count * sizeof(perm_image_piece_t) +
            t.section_length;
  } else {
    return 0; /* bounded by the region in validate_layout */
  }
  if (b->length <= bound)
    return 0;
bad:
  if (rd != 0)
    return validate_reader_problem(
        v, perm__errorf(-rd, "cannot read %s of the image '%s': %s",
                        perm__image_block_name(b->type, b->flags), img->path,
                        rd == -ENODATA ? "the file ends early"
                                       : strerror(-rd)));
  return validate_problem(v,
                          "the image '%s' is malformed: %s is %" PRIu64
                          " bytes, more than its own tables can need"
                          VALIDATE_FIX,
                          img->path, perm__image_block_name(b->type, b->flags),
                          b->length);
}

/* Every block's checksum; the contents are kept for the table checks. */
static int validate_blocks(perm_image_view_t *v) {
  const perm_image_header_t *h = &v->img.hdr;
  int result = 0;
  for (uint32_t i = 0; i < h->nblocks; i++) {
    int rc = validate_prebound(v, &h->blocks[i]);
    if (rc != 0) {
      v->blocks[i] = NULL;
      result = rc;
      if (VALIDATE_STOP(v, result))
        return result;
      continue;
    }
    rc = perm__image_read_block(&v->img, &h->blocks[i], &v->blocks[i]);
    if (rc != 0) {
      v->blocks[i] = NULL;
      result = validate_reader_problem(v, rc);
      if (VALIDATE_STOP(v, result))
        return result;
    } else {
      v->verified += h->blocks[i].length;
    }
  }
  return result;
}

/* The checksummed bytes of the first block of a type, or NULL. */
static void *validate_block(const perm_image_view_t *v, uint32_t type,
                            uint32_t flags, uint64_t *len) {
  const perm_image_header_t *h = &v->img.hdr;
  for (uint32_t i = 0; i < h->nblocks; i++)
    if (h->blocks[i].type == type && (flags == 0 || h->blocks[i].flags == flags)) {
      *len = h->blocks[i].length;
      return v->blocks[i];
    }
  return NULL;
}

/*------------------------------------------------------------- tables ---*/

static int validate_bad(perm_image_view_t *v, uint32_t type, const char *what,
                        uint64_t index, const char *detail) {
  if (what == NULL)
    return validate_problem(v,
                            "%s of the image '%s' is malformed: %s" VALIDATE_FIX,
                            perm__image_block_name(type, 0), v->img.path,
                            detail);
  return validate_problem(v,
                          "%s of the image '%s' is malformed: %s %" PRIu64
                          " %s" VALIDATE_FIX,
                          perm__image_block_name(type, 0), v->img.path, what,
                          index, detail);
}

/* The table header every list block starts with; returns the entries. */
static int validate_table(perm_image_view_t *v, uint32_t type,
                          const void *block, uint64_t len, uint32_t entry_size,
                          const void **entries, uint32_t *n) {
  const perm_image_table_t *t = block;
  char detail[160];
  if (len < sizeof *t)
    return validate_bad(v, type, NULL, 0, "shorter than its table header");
  if (t->entry_size != entry_size) {
    snprintf(detail, sizeof detail,
             "entries of %" PRIu32 " bytes, this PERM reads %" PRIu32,
             t->entry_size, entry_size);
    return validate_bad(v, type, NULL, 0, detail);
  }
  if (t->count > (len - sizeof *t) / entry_size) {
    snprintf(detail, sizeof detail,
             "%" PRIu32 " entries do not fit in %" PRIu64 " bytes", t->count,
             len);
    return validate_bad(v, type, NULL, 0, detail);
  }
  *entries = (const char *)block + sizeof *t;
  *n = t->count;
  return 0;
}

/* A name must start after the entries and end with a NUL inside the block. */
static int validate_name_ok(const void *block, uint64_t len, uint64_t head,
                            uint64_t off) {
  return off >= head && off < len &&
         memchr((const char *)block + off, '\0', len - off) != NULL;
}

static int validate_objects(perm_image_view_t *v) {
  uint64_t len;
  const void *block = validate_block(v, PERM_BLOCK_OBJECTS, 0, &len);
  if (block == NULL)
    return 0; /* missing (layout said so) or damaged (checksum said so) */
  const void *e;
  uint32_t n;
  int rc = validate_table(v, PERM_BLOCK_OBJECTS, block, len,
                          sizeof(perm_image_object_t), &e, &n);
  if (rc != 0)
    return rc;
  const perm_image_object_t *o = e;
  uint64_t head = sizeof(perm_image_table_t) + (uint64_t)n * sizeof *o;
  unsigned mains = 0;
  for (uint32_t i = 0; i < n; i++) {
    const char *p = NULL;
    if (!validate_name_ok(block, len, head, o[i].name_offset))
      p = "has its name outside the block";
    else if (o[i].build_id_len > sizeof o[i].build_id)
      p = "has a build-id longer than 40 bytes";
    else if (o[i].flags & ~PERM_OBJECT_KNOWN)
      p = "has flags this PERM does not know";
    if (p != NULL)
      return validate_bad(v, PERM_BLOCK_OBJECTS, "object", i, p);
    mains += (o[i].flags & PERM_OBJECT_MAIN) != 0;
  }
  if (mains != 1)
    return validate_bad(v, PERM_BLOCK_OBJECTS, NULL, 0,
                        mains ? "more than one object is the executable"
                              : "no object is the executable");
  v->objects_block = block;
  v->objects_len = len;
  v->objects = o;
  v->nobjects = n;
  return 0;
}

static int validate_globals(perm_image_view_t *v) {
  uint64_t len;
  void *block = validate_block(v, PERM_BLOCK_REGISTRY, 0, &len);
  if (block == NULL)
    return 0;
  const void *e;
  uint32_t n;
  int rc = validate_table(v, PERM_BLOCK_REGISTRY, block, len,
                          sizeof(perm_image_global_t), &e, &n);
  if (rc != 0)
    return rc;
  const perm_image_global_t *g = e;
  uint64_t head = sizeof(perm_image_table_t) + (uint64_t)n * sizeof *g;
  for (uint32_t i = 0; i < n; i++) {
    const char *p = NULL;
    if (!validate_name_ok(block, len, head, g[i].name_offset))
      p = "has its name outside the block";
    else if (g[i].data_offset < head || g[i].data_offset > len ||
             g[i].size > len - g[i].data_offset)
      p = "has its bytes outside the block";
    else if (g[i].addr + g[i].size < g[i].addr)
      p = "wraps around the address space";
    else if (g[i].align != 0 && (g[i].align & (g[i].align - 1)) != 0)
      p = "has an alignment that is not a power of two";
    if (p != NULL)
      return validate_bad(v, PERM_BLOCK_REGISTRY, "global", i, p);
  }
  /* Restore goes by name: two globals of one name would be ambiguous. */
  for (uint32_t i = 0; i < n; i++)
    for (uint32_t k = i + 1; k < n; k++)
      if (strcmp(perm__image_name_at(block, g[i].name_offset),
                 perm__image_name_at(block, g[k].name_offset)) == 0)
        return validate_bad(v, PERM_BLOCK_REGISTRY, "global", k,
                            "has the name of an earlier one");
  v->registry_block = block;
  v->registry_len = len;
  v->globals = g;
  v->nglobals = n;
  return 0;
}

/*
** [addr, addr+length) must be a non-empty, page-aligned part of the region
** [region_base, region_base + limit).
*/
static const char *validate_span_problem(const perm_image_header_t *h,
                                         uint64_t addr, uint64_t length,
                                         uint64_t limit) {
  if (length == 0)
    return "is empty";
  if (addr % h->page_size != 0 || length % h->page_size != 0)
    return "is not page-aligned";
  if (addr < h->region_base || length > limit ||
      addr - h->region_base > limit - length)
    return "lies outside the region";
  return NULL;
}

static int validate_span_bad(perm_image_view_t *v, uint32_t type,
                             const char *what, uint64_t addr, uint64_t length,
                             const char *problem) {
  char detail[200];
  snprintf(detail, sizeof detail, "%s 0x%" PRIx64 "+%" PRIu64 " %s", what, addr,
           length, problem);
  return validate_bad(v, type, NULL, 0, detail);
}

static int validate_runs(perm_image_view_t *v) {
  const perm_image_header_t *h = &v->img.hdr;
  uint64_t len;
  const void *block = validate_block(v, PERM_BLOCK_RUNS, 0, &len);
  if (block == NULL)
    return 0;
  const void *e;
  uint32_t n;
  int rc = validate_table(v, PERM_BLOCK_RUNS, block, len,
                          sizeof(perm_image_run_t), &e, &n);
  if (rc != 0)
    return rc;
  const perm_image_run_t *r = e;
  for (uint32_t i = 0; i < n; i++) {
    const char *p =
        validate_span_problem(h, r[i].addr, r[i].length, h->region_top);
    if (p == NULL && i > 0 && r[i].addr < r[i - 1].addr + r[i - 1].length)
      p = "overlaps or precedes the run before it";
    if (p != NULL)
      return validate_span_bad(v, PERM_BLOCK_RUNS, "run", r[i].addr,
                               r[i].length, p);
  }
  v->runs = r;
  v->nruns = n;
  return 0;
}

/* Version 1's extents, in the current form: bytes at the mirror offset. */
static int validate_extents_v1(perm_image_view_t *v, const void *block,
                               uint64_t len, uint32_t *n) {
  const void *e;
  int rc = validate_table(v, PERM_BLOCK_EXTENTS, block, len,
                          sizeof(perm_image_extent_v1_t), &e, n);
  if (rc != 0)
    return rc;
  const perm_image_header_t *h = &v->img.hdr;
  const perm_image_extent_v1_t *x = e;
  v->extents_v1 = perm__tcalloc(*n ? *n : 1, sizeof *v->extents_v1);
  if (v->extents_v1 == NULL)
    return perm__errorf(ENOMEM, "out of memory reading '%s'", v->img.path);
  for (uint32_t i = 0; i < *n; i++)
    v->extents_v1[i] = (perm_image_extent_t){
        .addr = x[i].addr,
        .length = x[i].length,
        /* Checked below, as for any extent, before anyone reads it. */
        .file_offset = h->data_offset + (x[i].addr - h->region_base),
        .checksum = x[i].checksum};
  return 0;
}

static int validate_extents(perm_image_view_t *v) {
  const perm_image_header_t *h = &v->img.hdr;
  uint64_t len;
  const void *block = validate_block(v, PERM_BLOCK_EXTENTS, 0, &len);
  if (block == NULL)
    return 0;
  const perm_image_extent_t *x;
  uint32_t n;
  int rc;
  if (h->format_version == 1) {
    rc = validate_extents_v1(v, block, len, &n);
    x = v->extents_v1;
  } else {
    const void *e;
    rc = validate_table(v, PERM_BLOCK_EXTENTS, block, len,
                        sizeof(perm_image_extent_t), &e, &n);
    x = e;
  }
  if (rc != 0)
    return rc;
  int delta = (h->flags & PERM_IMAGE_F_DELTA) != 0;
  uint64_t data_end = h->data_offset + validate_data_span(h);
  uint64_t present = 0, next_offset = h->data_offset;
  for (uint32_t i = 0; i < n; i++) {
    int zero = (x[i].flags & PERM_EXTENT_ZERO) != 0;
    /* A zero extent may cover a range the region has since given back. */
    const char *p = validate_span_problem(
        h, x[i].addr, x[i].length, zero ? h->region_capacity : h->region_top);
    if (p == NULL && i > 0 && x[i].addr < x[i - 1].addr + x[i - 1].length)
      p = "overlaps or precedes the extent before it";
    else if (p == NULL && (x[i].flags & ~PERM_EXTENT_ZERO))
      p = "has flags this PERM does not know";
    else if (p == NULL && zero && !delta)
      p = "is a zero extent in a full image";
    else if (p == NULL && zero && (x[i].file_offset != 0 || x[i].checksum != 0))
      p = "is a zero extent with data";
    else if (p == NULL && !zero &&
             (x[i].file_offset % PERM_IMAGE_ALIGN != 0 ||
              x[i].file_offset < next_offset || x[i].file_offset > data_end ||
              x[i].length > data_end - x[i].file_offset))
      p = h->format_version == 1
              ? "lies outside the region data"
              : "has its bytes outside the region data, or before the "
                "previous extent's";
    if (p != NULL)
      return validate_span_bad(v, PERM_BLOCK_EXTENTS, "extent", x[i].addr,
                               x[i].length, p);
    if (!zero) {
      present += x[i].length;
      if (h->format_version >= 2)
        next_offset = x[i].file_offset + x[i].length;
    }
  }
  if (present != h->data_bytes)
    return validate_problem(v,
                            "the image '%s' is malformed: its extents hold "
                            "%" PRIu64 " bytes, the header says %" PRIu64
                            VALIDATE_FIX,
                            v->img.path, present, h->data_bytes);
  v->extents = x;
  v->nextents = n;
  return 0;
}

/* Present extents hold memory that a run hands out, or nobody owns it. */
static int validate_extents_in_runs(perm_image_view_t *v) {
  if (v->extents == NULL || v->runs == NULL)
    return 0;
  uint32_t r = 0;
  unsigned outside = 0;
  int rc = 0;
  for (uint32_t i = 0; i < v->nextents; i++) {
    const perm_image_extent_t *e = &v->extents[i];
    if (e->flags & PERM_EXTENT_ZERO)
      continue;
    while (r < v->nruns && v->runs[r].addr + v->runs[r].length <= e->addr)
      r++;
    if (r < v->nruns && e->addr >= v->runs[r].addr &&
        e->addr + e->length <= v->runs[r].addr + v->runs[r].length)
      continue;
    /* One line per extent would drown a wrecked image's other problems. */
    if (++outside <= 10 || !(v->flags & PERM_VALIDATE_ALL))
      rc = validate_problem(v,
                            "the extent table of the image '%s' is malformed: "
                            "extent 0x%" PRIx64 "+%" PRIu64
                            " is not inside a run of the region" VALIDATE_FIX,
                            v->img.path, e->addr, e->length);
    else
      v->problems++;
    if (VALIDATE_STOP(v, rc))
      return rc;
  }
  if (outside > 10)
    validate_problem(v,
                     "the extent table of the image '%s' is malformed: ... "
                     "and %u more extents outside every run",
                     v->img.path, outside - 10);
  return rc;
}

/*-------------------------------------------------------------- state ---*/

static int validate_state_block(perm_image_view_t *v, uint32_t code) {
  const perm_image_header_t *h = &v->img.hdr;
  uint64_t len;
  const unsigned char *block = validate_block(v, PERM_BLOCK_STATE, code, &len);
  if (block == NULL)
    return 0;
  const perm_image_block_t *b = perm__image_find(&v->img, PERM_BLOCK_STATE, code);
  perm_image_state_view_t *s = &v->state[code - 1];
  const char *name = perm__image_block_name(PERM_BLOCK_STATE, code);
  s->addr = b->addr;
  if (h->format_version == 1) {
    /* The raw section: one piece. */
    s->length = len;
    s->npieces = len ? 1 : 0;
    v->state_v1_piece[code - 1] = (perm_image_piece_t){0, len};
    s->pieces = &v->state_v1_piece[code - 1];
    s->bytes = block;
  } else {
    const perm_image_state_t *t = (const perm_image_state_t *)block;
    const char *p = NULL;
    if (len < sizeof *t)
      p = "is shorter than its header";
    else if (t->piece_size != sizeof(perm_image_piece_t))
      p = "has pieces of another size";
    else if (t->count > (len - sizeof *t) / sizeof(perm_image_piece_t))
      p = "has more pieces than fit in it";
    if (p != NULL)
      return validate_problem(v, "%s of the image '%s' is malformed: it %s"
                                 VALIDATE_FIX,
                              name, v->img.path, p);
    const perm_image_piece_t *pc = (const perm_image_piece_t *)(t + 1);
    uint64_t bytes = len - sizeof *t - (uint64_t)t->count * sizeof *pc;
    uint64_t at = 0, sum = 0;
    for (uint32_t i = 0; i < t->count; i++) {
      if (pc[i].length == 0 || pc[i].offset < at ||
          pc[i].offset > t->section_length ||
          pc[i].length > t->section_length - pc[i].offset)
        return validate_problem(v,
                                "%s of the image '%s' is malformed: piece "
                                "%" PRIu32 " (offset %" PRIu64 ", %" PRIu64
                                " bytes) is empty, out of order, or outside "
                                "the %" PRIu64 "-byte section" VALIDATE_FIX,
                                name, v->img.path, i, pc[i].offset,
                                pc[i].length, t->section_length);
      at = pc[i].offset + pc[i].length;
      sum += pc[i].length;
    }
    if (sum != bytes)
      return validate_problem(v,
                              "%s of the image '%s' is malformed: its pieces "
                              "hold %" PRIu64 " bytes, the block %" PRIu64
                              VALIDATE_FIX,
                              name, v->img.path, sum, bytes);
    s->length = t->section_length;
    s->pieces = pc;
    s->npieces = t->count;
    s->bytes = (const unsigned char *)(pc + t->count);
  }
  if (s->addr == 0 || s->addr + s->length < s->addr)
    return validate_problem(v,
                            "%s of the image '%s' is malformed: its address "
                            "0x%" PRIx64 " (+%" PRIu64 ") is impossible"
                            VALIDATE_FIX,
                            name, v->img.path, s->addr, s->length);
  v->have_state[code - 1] = 1;
  return 0;
}

void perm__image_state_copy(const perm_image_state_view_t *s, void *dst) {
  unsigned char *d = dst;
  uint64_t at = 0;
  const unsigned char *src = s->bytes;
  for (uint32_t i = 0; i < s->npieces; i++) {
    memset(d + at, 0, s->pieces[i].offset - at);
    memcpy(d + s->pieces[i].offset, src, s->pieces[i].length);
    src += s->pieces[i].length;
    at = s->pieces[i].offset + s->pieces[i].length;
  }
  memset(d + at, 0, s->length - at);
}

static int validate_in_state(const perm_image_view_t *v, uint32_t code,
                             uint64_t addr, uint64_t len) {
  const perm_image_state_view_t *s = &v->state[code - 1];
  return v->have_state[code - 1] && addr >= s->addr &&
         addr - s->addr <= s->length && len <= s->length - (addr - s->addr);
}

/*
** The runtime's own state, where this PERM wrote it: its region and free
** list against the header and the runs.  The allocator's sections are
** opaque; their size and address are checked against this process by
** restore.
*/
static int validate_saved(perm_image_view_t *v) {
  const perm_image_header_t *h = &v->img.hdr;
  const perm_image_state_view_t *s = &v->state[PERM_STATE_RUNTIME - 1];
  if (!v->have_state[PERM_STATE_RUNTIME - 1] || h->format_version == 1 ||
      strcmp(h->runtime_version, PERM_RUNTIME_VERSION) != 0)
    return 0; /* another version's layout: restore refuses it, by size */
  const char *name = perm__image_block_name(PERM_BLOCK_STATE, PERM_STATE_RUNTIME);
  if (s->length != sizeof(perm_saved_t))
    return validate_problem(v,
                            "%s of the image '%s' is malformed: %" PRIu64
                            " bytes, PERM %s keeps %zu" VALIDATE_FIX,
                            name, v->img.path, s->length, PERM_RUNTIME_VERSION,
                            sizeof(perm_saved_t));
  v->saved = perm__tmalloc(sizeof *v->saved);
  if (v->saved == NULL)
    return perm__errorf(ENOMEM, "out of memory reading '%s'", v->img.path);
  perm__image_state_copy(s, v->saved);
  const perm_saved_t *st = v->saved;
  const perm_region_t *r = &st->region;
  const char *p = NULL;
  if (st->magic != PERM_SAVED_MAGIC)
    p = "it does not start with the runtime's magic";
  else if (r->base != h->region_base || r->capacity != h->region_capacity ||
           r->top != h->region_top)
    p = "its region is not the header's";
  else if (st->generation != h->generation || st->heap_id != h->heap_id)
    p = "its generation or heap is not the header's";
  else if (st->rtree_lock != 0 &&
           !validate_in_state(v, PERM_STATE_JEMALLOC_BSS, st->rtree_lock,
                              sizeof(pthread_mutex_t)) &&
           !validate_in_state(v, PERM_STATE_JEMALLOC_DATA, st->rtree_lock,
                              sizeof(pthread_mutex_t)))
    p = "it points outside the allocator's state";
  uint64_t inline_addr = s->addr + offsetof(perm_saved_t, region.free_inline);
  v->saved_free_in_region = 0;
  if (p == NULL && r->nfree > r->free_cap)
    p = "its free list counts more entries than it has room for";
  else if (p == NULL && (uint64_t)(uintptr_t)r->free == inline_addr) {
    if (r->free_cap != PERM_REGION_INLINE_FREE || r->free_run_len != 0)
      p = "its free list's room does not match its place";
  } else if (p == NULL) {
    /* A list that outgrew the state lives in a run of the region. */
    uint64_t lo = (uint64_t)(uintptr_t)r->free, len = r->free_run_len;
    if (len == 0 || len % h->page_size || lo % h->page_size ||
        lo < h->region_base || len > h->region_top ||
        lo - h->region_base > h->region_top - len ||
        (uint64_t)r->free_cap * sizeof(perm_region_run_t) > len)
      p = "its free list lies outside the region";
    else
      v->saved_free_in_region = 1;
  }
  if (p != NULL)
    return validate_problem(v, "%s of the image '%s' is malformed: %s"
                               VALIDATE_FIX,
                            name, v->img.path, p);
  if (v->saved_free_in_region)
    return 0; /* its entries are region data: perm__chain_open checks them */
  return perm__image_check_free_list(v, r->free_inline);
}

int perm__image_check_free_list(perm_image_view_t *v,
                                const perm_region_run_t *free) {
  const perm_image_header_t *h = &v->img.hdr;
  const perm_region_t *r = &v->saved->region;
  const char *name =
      perm__image_block_name(PERM_BLOCK_STATE, PERM_STATE_RUNTIME);
  uint64_t at = 0;
  for (uint32_t i = 0; i < r->nfree; i++) {
    const perm_region_run_t *f = &free[i];
    if (f->len == 0 || f->off % h->page_size || f->len % h->page_size ||
        f->off < at || f->off > r->top || f->len > r->top - f->off)
      return validate_problem(v,
                              "%s of the image '%s' is malformed: its free "
                              "list is not sorted, page-aligned runs below "
                              "the top (entry %" PRIu32 ")" VALIDATE_FIX,
                              name, v->img.path, i);
    at = f->off + f->len;
  }
  if (v->runs == NULL)
    return 0;
  /* The runs are what the free list leaves of [0, top), in order. */
  uint32_t k = 0;
  uint64_t off = 0;
  for (uint32_t i = 0; i <= r->nfree; i++) {
    uint64_t end = i < r->nfree ? free[i].off : r->top;
    if (end > off) {
      if (k >= v->nruns || v->runs[k].addr != h->region_base + off ||
          v->runs[k].length != end - off)
        return validate_problem(v,
                                "the region-runs block of the image '%s' is "
                                "malformed: it does not match the runtime "
                                "state's free list at 0x%" PRIx64 VALIDATE_FIX,
                                v->img.path, h->region_base + off);
      k++;
    }
    if (i < r->nfree)
      off = free[i].off + free[i].len;
  }
  if (k != v->nruns)
    return validate_problem(v,
                            "the region-runs block of the image '%s' is "
                            "malformed: %" PRIu32 " runs, the runtime state "
                            "hands out %" PRIu32 VALIDATE_FIX,
                            v->img.path, v->nruns, k);
  return 0;
}

/*--------------------------------------------------------------- data ---*/

int perm__image_view_verify_data(perm_image_view_t *v) {
  uint64_t total = 0, done = 0;
  /* One pass through the data: let the kernel read ahead far. */
  posix_fadvise(v->img.fd, (off_t)v->img.hdr.data_offset,
                (off_t)v->img.hdr.data_bytes, POSIX_FADV_SEQUENTIAL);
  for (uint32_t i = 0; i < v->nextents; i++)
    if (!(v->extents[i].flags & PERM_EXTENT_ZERO))
      total += v->extents[i].length;
  unsigned bad = 0;
  int result = 0;
  for (uint32_t i = 0; i < v->nextents; i++) {
    const perm_image_extent_t *e = &v->extents[i];
    if (e->flags & PERM_EXTENT_ZERO)
      continue;
    int rc = perm__image_read_extent(&v->img, e, NULL);
    if (rc == 0) {
      v->verified += e->length;
    } else {
      result = rc;
      if (++bad <= 10 || !(v->flags & PERM_VALIDATE_ALL))
        validate_reader_problem(v, rc);
      else
        v->problems++;
      if (VALIDATE_STOP(v, rc))
        return rc;
    }
    done += e->length;
    if (v->hooks.progress != NULL)
      v->hooks.progress(v->hooks.progress_arg, done, total);
  }
  if (bad > 10)
    validate_problem(v, "region data of the image '%s': ... and %u more "
                        "damaged extents",
                     v->img.path, bad - 10);
  return result;
}

/*---------------------------------------------------------------- all ---*/

void perm__image_view_close(perm_image_view_t *v) {
  for (uint32_t i = 0; i < PERM_IMAGE_MAX_BLOCKS; i++)
    perm__tfree(v->blocks[i]);
  perm__tfree(v->extents_v1);
  perm__tfree(v->saved);
  perm__image_close(&v->img);
  memset(v, 0, sizeof *v);
  v->img.fd = -1;
}

int perm__image_view_open(perm_image_view_t *v, const char *path,
                          unsigned flags, const perm_image_hooks_t *hooks) {
  memset(v, 0, sizeof *v);
  v->flags = flags;
  if (hooks != NULL)
    v->hooks = *hooks;
  int rc = perm__image_open(&v->img, path);
  if (rc != 0) {
    v->img.fd = -1;
    return rc;
  }
  v->verified = v->img.hdr.format_version == 1
                    ? PERM_IMAGE_V1_CHECKSUM_OFFSET
                    : offsetof(perm_image_header_t, header_checksum);
  /* Each step needs the ones before it sound; with ALL, go as far as can. */
  if ((rc = validate_header(v)) != 0)
    return rc; /* nothing after it can be bounded */
  /*
  ** The metadata blocks lie between the header and the data, the extent
  ** table after the data: ask for both at once, so a cold restore waits for
  ** the disk twice, not once per block.
  */
  const perm_image_block_t *xb = perm__image_find(&v->img, PERM_BLOCK_EXTENTS, 0);
  posix_fadvise(v->img.fd, 0, (off_t)v->img.hdr.data_offset,
                POSIX_FADV_WILLNEED);
  if (xb != NULL)
    posix_fadvise(v->img.fd, (off_t)xb->offset, (off_t)xb->length,
                  POSIX_FADV_WILLNEED);
  int bad = 0;
  rc = validate_layout(v);
  if (rc != 0) {
    if (!(flags & PERM_VALIDATE_ALL))
      return rc;
    bad = 1;
  }
  if ((rc = validate_blocks(v)) != 0 && !(flags & PERM_VALIDATE_ALL))
    return rc;
  if (!bad || (flags & PERM_VALIDATE_ALL)) {
    int (*const steps[])(perm_image_view_t *) = {
        validate_objects, validate_globals, validate_runs, validate_extents};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
      if ((rc = steps[i](v)) != 0 && !(flags & PERM_VALIDATE_ALL))
        return rc;
    for (uint32_t code = 1; code <= PERM_STATE_COUNT; code++)
      if ((rc = validate_state_block(v, code)) != 0 &&
          !(flags & PERM_VALIDATE_ALL))
        return rc;
    if ((rc = validate_extents_in_runs(v)) != 0 &&
        !(flags & PERM_VALIDATE_ALL))
      return rc;
    if ((rc = validate_saved(v)) != 0 && !(flags & PERM_VALIDATE_ALL))
      return rc;
  }
  if ((flags & PERM_VALIDATE_DATA) && v->extents != NULL &&
      (rc = perm__image_view_verify_data(v)) != 0 &&
      !(flags & PERM_VALIDATE_ALL))
    return rc;
  return v->problems ? -EINVAL : 0;
}
