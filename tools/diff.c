/*
** diff.c - perm diff A B [--json]: what differs between two images (full
** images or chains): the persistent globals, the heap's figures, and which
** pages of the region hold other bytes.
**
** Both images go through the runtime's validator and chain reader first; a
** missing, unreadable or damaged image is an error (exit 2), as for diff(1).
** The state compared is what a restore would give: generations and times
** are shown, not compared, so two checkpoints of an unchanged heap are
** identical (exit 0).  Pages are compared through the chains' maps, so a
** page no image holds reads as zero on either side.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sys.h"
#include "tool.h"

#define DIFF_EXIT_SAME 0
#define DIFF_EXIT_DIFFERENT 1
#define DIFF_EXIT_ERROR 2
#define DIFF_MAX_RANGES 20  /* address ranges listed in text */
#define DIFF_SHOW_BYTES 32  /* globals up to this size are shown whole */
#define DIFF_CHUNK (1u << 20)

typedef struct diff_side_s {
  const char *path;
  perm_chain_t chain;
  const perm_image_view_t *v; /* chain.views[0] */
} diff_side_t;

/* A range of the region whose pages differ. */
typedef struct diff_range_s {
  uint64_t addr, length;
} diff_range_t;

typedef struct diff_s {
  diff_side_t a, b;
  int json;
  int different;
  diff_range_t *ranges;
  size_t nranges, cap;
  uint64_t pages;   /* pages that differ */
  char *buf_a, *buf_b;
} diff_t;

static void diff_report(void *arg, const char *msg) {
  (void)arg;
  tool_error("%s", msg);
}

static int diff_open(diff_side_t *s) {
  perm_image_hooks_t hooks = {.report = diff_report};
  int rc = perm__chain_open(&s->chain, s->path, PERM_VALIDATE_DATA, &hooks);
  if (rc != 0) {
    tool_error("%s", perm__error_message());
    return -1;
  }
  s->v = &s->chain.views[0];
  return 0;
}

/* The global of that name in a side, or NULL. */
static const perm_image_global_t *diff_find(const diff_side_t *s,
                                            const char *name) {
  for (uint32_t i = 0; i < s->v->nglobals; i++)
    if (strcmp(perm__image_name_at(s->v->registry_block,
                                   s->v->globals[i].name_offset),
               name) == 0)
      return &s->v->globals[i];
  return NULL;
}

static const unsigned char *diff_bytes(const diff_side_t *s,
                                       const perm_image_global_t *g) {
  return (const unsigned char *)s->v->registry_block + g->data_offset;
}

static const char *diff_gname(const diff_side_t *s,
                              const perm_image_global_t *g) {
  return perm__image_name_at(s->v->registry_block, g->name_offset);
}

/* A small value as an integer (1, 2, 4, 8 bytes) and hex, else hex. */
static void diff_value(char *buf, size_t size, const unsigned char *p,
                       uint64_t n) {
  if (n == 1 || n == 2 || n == 4 || n == 8) {
    uint64_t v = 0;
    memcpy(&v, p, n);
    snprintf(buf, size, "%" PRIu64 " (0x%" PRIx64 ")", v, v);
    return;
  }
  size_t k = 0;
  for (uint64_t i = 0; i < n && k + 3 < size; i++)
    k += (size_t)snprintf(buf + k, size - k, "%02x", p[i]);
}

static uint64_t diff_count_bytes(const unsigned char *x, const unsigned char *y,
                                 uint64_t n) {
  uint64_t d = 0;
  for (uint64_t i = 0; i < n; i++)
    d += x[i] != y[i];
  return d;
}

/*------------------------------------------------------------ pages ---*/

static int diff_add_page(diff_t *d, uint64_t addr, uint64_t page) {
  d->pages++;
  if (d->nranges > 0) {
    diff_range_t *r = &d->ranges[d->nranges - 1];
    if (r->addr + r->length == addr) {
      r->length += page;
      return 0;
    }
  }
  if (d->nranges == d->cap) {
    size_t ncap = d->cap ? d->cap * 2 : 64;
    void *p = realloc(d->ranges, ncap * sizeof *d->ranges);
    if (p == NULL)
      return -ENOMEM;
    d->ranges = p;
    d->cap = ncap;
  }
  d->ranges[d->nranges++] = (diff_range_t){addr, page};
  return 0;
}

/* [addr, addr+len) of a side's region data into buf: zeros where none. */
static int diff_read(const diff_side_t *s, size_t *cursor, uint64_t addr,
                     uint64_t len, char *buf) {
  memset(buf, 0, len);
  const perm_chain_t *c = &s->chain;
  while (*cursor < c->nmap &&
         c->map[*cursor].addr + c->map[*cursor].length <= addr)
    (*cursor)++;
  for (size_t i = *cursor; i < c->nmap && c->map[i].addr < addr + len; i++) {
    const perm_chain_piece_t *p = &c->map[i];
    uint64_t lo = p->addr > addr ? p->addr : addr;
    uint64_t hi = p->addr + p->length < addr + len ? p->addr + p->length
                                                   : addr + len;
    if (hi <= lo)
      continue;
    int rc = perm__sys_pread_all(c->views[p->image].img.fd, buf + (lo - addr),
                                 hi - lo, (off_t)(p->file_offset + (lo - p->addr)));
    if (rc != 0)
      return perm__errorf(-rc, "cannot read region data of '%s': %s",
                          c->views[p->image].img.path, strerror(-rc));
  }
  return 0;
}

/* The next address at or after addr that either side holds data for. */
static uint64_t diff_next_data(const diff_side_t *s, size_t cursor,
                               uint64_t addr) {
  const perm_chain_t *c = &s->chain;
  for (size_t i = cursor; i < c->nmap; i++)
    if (c->map[i].addr + c->map[i].length > addr)
      return c->map[i].addr > addr ? c->map[i].addr : addr;
  return UINT64_MAX;
}

static int diff_pages(diff_t *d) {
  const perm_image_header_t *ha = &d->a.v->img.hdr, *hb = &d->b.v->img.hdr;
  uint64_t page = ha->page_size;
  uint64_t end = ha->region_base +
                 (ha->region_top > hb->region_top ? ha->region_top
                                                  : hb->region_top);
  d->buf_a = malloc(DIFF_CHUNK);
  d->buf_b = malloc(DIFF_CHUNK);
  if (d->buf_a == NULL || d->buf_b == NULL)
    return perm__errorf(ENOMEM, "out of memory comparing the images");
  size_t ca = 0, cb = 0;
  uint64_t addr = ha->region_base;
  while (addr < end) {
    /* Skip what neither side holds: zeros on both. */
    uint64_t na = diff_next_data(&d->a, ca, addr);
    uint64_t nb = diff_next_data(&d->b, cb, addr);
    uint64_t next = na < nb ? na : nb;
    if (next >= end)
      break;
    addr = next;
    uint64_t len = end - addr < DIFF_CHUNK ? end - addr : DIFF_CHUNK;
    int rc = diff_read(&d->a, &ca, addr, len, d->buf_a);
    if (rc == 0)
      rc = diff_read(&d->b, &cb, addr, len, d->buf_b);
    if (rc != 0)
      return rc;
    for (uint64_t off = 0; off < len; off += page)
      if (memcmp(d->buf_a + off, d->buf_b + off, page) != 0 &&
          diff_add_page(d, addr + off, page) != 0)
        return perm__errorf(ENOMEM, "out of memory comparing the images");
    addr += len;
  }
  return 0;
}

/*------------------------------------------------------------ output ---*/

static void diff_text_side(const char *label, const diff_side_t *s) {
  const perm_image_header_t *h = &s->v->img.hdr;
  char t[64], name[8400];
  tool_iso_time(t, sizeof t, h->time_ns);
  printf("%s %s: generation %" PRIu64 ", %s, %s\n", label,
         tool_printable(name, sizeof name, s->path), h->generation,
         (h->flags & PERM_IMAGE_F_DELTA) ? "delta" : "full", t);
}

static void diff_text(diff_t *d) {
  const perm_image_header_t *ha = &d->a.v->img.hdr, *hb = &d->b.v->img.hdr;
  char name[8400], va[128], vb[128];
  diff_text_side("---", &d->a);
  diff_text_side("+++", &d->b);
  for (uint32_t i = 0; i < d->a.v->nglobals; i++) {
    const perm_image_global_t *ga = &d->a.v->globals[i];
    const char *n = diff_gname(&d->a, ga);
    const perm_image_global_t *gb = diff_find(&d->b, n);
    tool_printable(name, sizeof name, n);
    if (gb == NULL) {
      printf("global %s: only in A (%" PRIu64 " bytes)\n", name, ga->size);
      continue;
    }
    if (ga->size != gb->size || ga->type_hash != gb->type_hash) {
      printf("global %s: type changed (%" PRIu64 " bytes, type hash "
             "0x%016" PRIx64 " -> %" PRIu64 " bytes, 0x%016" PRIx64 ")\n",
             name, ga->size, ga->type_hash, gb->size, gb->type_hash);
      continue;
    }
    const unsigned char *xa = diff_bytes(&d->a, ga), *xb = diff_bytes(&d->b, gb);
    if (memcmp(xa, xb, ga->size) == 0)
      continue;
    if (ga->size <= DIFF_SHOW_BYTES) {
      diff_value(va, sizeof va, xa, ga->size);
      diff_value(vb, sizeof vb, xb, gb->size);
      printf("global %s (%" PRIu64 " bytes): %s -> %s\n", name, ga->size, va,
             vb);
    } else {
      printf("global %s (%" PRIu64 " bytes): %" PRIu64 " bytes differ\n", name,
             ga->size, diff_count_bytes(xa, xb, ga->size));
    }
  }
  for (uint32_t i = 0; i < d->b.v->nglobals; i++) {
    const perm_image_global_t *gb = &d->b.v->globals[i];
    if (diff_find(&d->a, diff_gname(&d->b, gb)) == NULL)
      printf("global %s: only in B (%" PRIu64 " bytes)\n",
             tool_printable(name, sizeof name, diff_gname(&d->b, gb)),
             gb->size);
  }
  if (ha->heap_allocated != hb->heap_allocated ||
      ha->heap_active != hb->heap_active)
    printf("heap: allocated %" PRIu64 " -> %" PRIu64 " (%+" PRId64
           "), active %" PRIu64 " -> %" PRIu64 " (%+" PRId64 ")\n",
           ha->heap_allocated, hb->heap_allocated,
           (int64_t)(hb->heap_allocated - ha->heap_allocated), ha->heap_active,
           hb->heap_active, (int64_t)(hb->heap_active - ha->heap_active));
  if (ha->region_top != hb->region_top)
    printf("region: top %" PRIu64 " -> %" PRIu64 "\n", ha->region_top,
           hb->region_top);
  if (d->pages > 0) {
    printf("pages: %" PRIu64 " differ, in %zu ranges\n", d->pages, d->nranges);
    for (size_t i = 0; i < d->nranges && i < DIFF_MAX_RANGES; i++)
      printf("  0x%" PRIx64 "-0x%" PRIx64 " (%" PRIu64 " pages)\n",
             d->ranges[i].addr, d->ranges[i].addr + d->ranges[i].length,
             d->ranges[i].length / ha->page_size);
    if (d->nranges > DIFF_MAX_RANGES)
      printf("  ... and %zu more ranges (--json lists them all)\n",
             d->nranges - DIFF_MAX_RANGES);
  }
  printf("%s\n", d->different ? "the images differ" : "the images are identical");
}

static void diff_json_side(tool_json_t *j, const char *key,
                           const diff_side_t *s) {
  const perm_image_header_t *h = &s->v->img.hdr;
  char t[64];
  tool_json_begin_object(j, key);
  tool_json_string(j, "image", s->path);
  tool_json_u64(j, "generation", h->generation);
  tool_json_string(j, "kind", (h->flags & PERM_IMAGE_F_DELTA) ? "delta"
                                                              : "full");
  tool_iso_time(t, sizeof t, h->time_ns);
  tool_json_string(j, "time", t);
  tool_json_u64(j, "allocated", h->heap_allocated);
  tool_json_u64(j, "active", h->heap_active);
  tool_json_u64(j, "region_top", h->region_top);
  tool_json_end_object(j);
}

static void diff_json(diff_t *d) {
  tool_json_t j;
  char va[128], vb[128];
  tool_json_init(&j, stdout);
  tool_json_begin_object(&j, NULL);
  tool_json_bool(&j, "identical", !d->different);
  diff_json_side(&j, "a", &d->a);
  diff_json_side(&j, "b", &d->b);
  tool_json_begin_array(&j, "globals");
  for (int side = 0; side < 2; side++) {
    const diff_side_t *s = side ? &d->b : &d->a, *o = side ? &d->a : &d->b;
    for (uint32_t i = 0; i < s->v->nglobals; i++) {
      const perm_image_global_t *g = &s->v->globals[i];
      const perm_image_global_t *other = diff_find(o, diff_gname(s, g));
      const char *status = NULL;
      if (other == NULL)
        status = side ? "only_in_b" : "only_in_a";
      else if (side)
        continue; /* each common global once */
      else if (g->size != other->size || g->type_hash != other->type_hash)
        status = "type_changed";
      else if (memcmp(diff_bytes(s, g), diff_bytes(o, other), g->size) != 0)
        status = "changed";
      if (status == NULL)
        continue;
      tool_json_begin_object(&j, NULL);
      tool_json_string(&j, "name", diff_gname(s, g));
      tool_json_string(&j, "status", status);
      tool_json_u64(&j, "size", g->size);
      if (strcmp(status, "changed") == 0) {
        tool_json_u64(&j, "bytes_differ",
                      diff_count_bytes(diff_bytes(s, g), diff_bytes(o, other),
                                       g->size));
        if (g->size <= DIFF_SHOW_BYTES) {
          diff_value(va, sizeof va, diff_bytes(s, g), g->size);
          diff_value(vb, sizeof vb, diff_bytes(o, other), g->size);
          tool_json_string(&j, "a", va);
          tool_json_string(&j, "b", vb);
        }
      }
      tool_json_end_object(&j);
    }
  }
  tool_json_end_array(&j);
  tool_json_u64(&j, "pages_differ", d->pages);
  tool_json_begin_array(&j, "ranges");
  for (size_t i = 0; i < d->nranges; i++) {
    tool_json_begin_object(&j, NULL);
    tool_json_hex(&j, "address", d->ranges[i].addr);
    tool_json_u64(&j, "length", d->ranges[i].length);
    tool_json_end_object(&j);
  }
  tool_json_end_array(&j);
  tool_json_end_object(&j);
}

/*------------------------------------------------------------ main ---*/

static int diff_parse(const tool_command_t *cmd, int argc, char **argv,
                      diff_t *d) {
  const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                {"help", no_argument, NULL, 'h'},
                                {NULL, 0, NULL, 0}};
  int o;
  opterr = 0;
  while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (o) {
    case 'j':
      d->json = 1;
      break;
    case 'h':
      tool_command_usage(stdout, cmd);
      return TOOL_EXIT_OK;
    default:
      tool_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
      return DIFF_EXIT_ERROR;
    }
  }
  if (optind + 2 != argc) {
    tool_usage_error(cmd, "two images, please");
    return DIFF_EXIT_ERROR;
  }
  d->a.path = argv[optind];
  d->b.path = argv[optind + 1];
  return -1;
}

static int diff_globals_differ(const diff_t *d) {
  if (d->a.v->nglobals != d->b.v->nglobals)
    return 1;
  for (uint32_t i = 0; i < d->a.v->nglobals; i++) {
    const perm_image_global_t *ga = &d->a.v->globals[i];
    const perm_image_global_t *gb = diff_find(&d->b, diff_gname(&d->a, ga));
    if (gb == NULL || ga->size != gb->size || ga->type_hash != gb->type_hash ||
        memcmp(diff_bytes(&d->a, ga), diff_bytes(&d->b, gb), ga->size) != 0)
      return 1;
  }
  return 0;
}

int tool_diff(const tool_command_t *cmd, int argc, char **argv) {
  diff_t d;
  memset(&d, 0, sizeof d);
  int rc = diff_parse(cmd, argc, argv, &d);
  if (rc >= 0)
    return rc;
  int result = DIFF_EXIT_ERROR;
  if (diff_open(&d.a) != 0 || diff_open(&d.b) != 0)
    goto out;
  const perm_image_header_t *ha = &d.a.v->img.hdr, *hb = &d.b.v->img.hdr;
  if (ha->region_base != hb->region_base || ha->page_size != hb->page_size) {
    tool_error("'%s' and '%s' are images of heaps at different places "
               "(0x%" PRIx64 " and 0x%" PRIx64 "): their pages cannot be "
               "compared",
               d.a.path, d.b.path, ha->region_base, hb->region_base);
    goto out;
  }
  if (diff_pages(&d) != 0) {
    tool_error("%s", perm__error_message());
    goto out;
  }
  d.different = diff_globals_differ(&d) || d.pages > 0 ||
                ha->heap_allocated != hb->heap_allocated ||
                ha->heap_active != hb->heap_active ||
                ha->region_top != hb->region_top;
  if (d.json)
    diff_json(&d);
  else
    diff_text(&d);
  result = d.different ? DIFF_EXIT_DIFFERENT : DIFF_EXIT_SAME;
  if (fflush(stdout) != 0 || ferror(stdout)) {
    tool_error("cannot write the output: %s", strerror(errno));
    result = DIFF_EXIT_ERROR;
  }
out:
  perm__chain_close(&d.a.chain);
  perm__chain_close(&d.b.chain);
  free(d.ranges);
  free(d.buf_a);
  free(d.buf_b);
  return result;
}
