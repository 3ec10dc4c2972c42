/*
** image_chain.c - an image and the images it depends on.
**
** A delta names its parent by file name (in its own directory), generation
** and header checksum; the parent may be a delta too, back to a full image.
** Each image is validated on its own, then each link: the parent must be
** the very file the delta was written against (checksum), of the same heap
** and region.  The region's data of the newest generation are then the
** full image's extents with each delta applied in turn: a present extent
** replaces what was there, a zero extent clears it.  The result, clipped to
** the newest image's runs, is the map restore loads and the tools read.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "sys.h"

typedef struct chain_list_s {
  perm_chain_piece_t *v;
  size_t n, cap;
} chain_list_t;

static int chain_push(chain_list_t *l, uint64_t addr, uint64_t length,
                      uint64_t file_offset, uint32_t image) {
  if (length == 0)
    return 0;
  /* Adjacent bytes of one file, adjacent in memory: one piece, one mmap. */
  if (l->n > 0) {
    perm_chain_piece_t *p = &l->v[l->n - 1];
    if (p->image == image && p->addr + p->length == addr &&
        p->file_offset + p->length == file_offset) {
      p->length += length;
      return 0;
    }
  }
  if (l->n == l->cap) {
    size_t ncap = l->cap ? l->cap * 2 : 64;
    void *nv = perm__trealloc(l->v, ncap * sizeof *l->v);
    if (nv == NULL)
      return -ENOMEM;
    l->v = nv;
    l->cap = ncap;
  }
  l->v[l->n++] = (perm_chain_piece_t){.addr = addr,
                                      .length = length,
                                      .file_offset = file_offset,
                                      .image = image};
  return 0;
}

static int chain_cmp(const void *a, const void *b) {
  const perm_chain_piece_t *x = a, *y = b;
  return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/*
** map minus the ranges of extents e[0, n), plus e's present extents (from
** image): the data after applying that image.  Both inputs are sorted and
** disjoint (the validator saw to e), so is the result.
*/
static int chain_apply(chain_list_t *map, const perm_image_extent_t *e,
                       uint32_t n, uint32_t image) {
  chain_list_t out = {0};
  uint32_t j = 0;
  int rc = 0;
  for (size_t i = 0; i < map->n && rc == 0; i++) {
    const perm_chain_piece_t *p = &map->v[i];
    uint64_t at = p->addr, end = p->addr + p->length;
    while (j < n && e[j].addr + e[j].length <= at)
      j++;
    for (uint32_t k = j; k < n && e[k].addr < end && rc == 0; k++) {
      if (e[k].addr > at)
        rc = chain_push(&out, at, e[k].addr - at,
                        p->file_offset + (at - p->addr), p->image);
      if (e[k].addr + e[k].length > at)
        at = e[k].addr + e[k].length;
    }
    if (rc == 0 && at < end)
      rc = chain_push(&out, at, end - at, p->file_offset + (at - p->addr),
                      p->image);
  }
  for (uint32_t k = 0; k < n && rc == 0; k++)
    if (!(e[k].flags & PERM_EXTENT_ZERO))
      rc = chain_push(&out, e[k].addr, e[k].length, e[k].file_offset, image);
  if (rc != 0) {
    perm__tfree(out.v);
    return rc;
  }
  /* An image with no data leaves the list empty, out.v NULL: qsort's
     base must not be (C11 7.22.5). */
  if (out.n > 1)
    qsort(out.v, out.n, sizeof *out.v, chain_cmp);
  /* Sorting may have put pieces that merge next to each other again. */
  chain_list_t merged = {0};
  for (size_t i = 0; i < out.n && rc == 0; i++)
    rc = chain_push(&merged, out.v[i].addr, out.v[i].length,
                    out.v[i].file_offset, out.v[i].image);
  perm__tfree(out.v);
  if (rc != 0) {
    perm__tfree(merged.v);
    return rc;
  }
  perm__tfree(map->v);
  *map = merged;
  return 0;
}

/* The map inside the runs only: memory nobody owns is not loaded. */
static int chain_clip(chain_list_t *map, const perm_image_run_t *r,
                      uint32_t nruns) {
  chain_list_t out = {0};
  uint32_t j = 0;
  int rc = 0;
  for (size_t i = 0; i < map->n && rc == 0; i++) {
    const perm_chain_piece_t *p = &map->v[i];
    uint64_t end = p->addr + p->length;
    while (j < nruns && r[j].addr + r[j].length <= p->addr)
      j++;
    for (uint32_t k = j; k < nruns && r[k].addr < end && rc == 0; k++) {
      uint64_t lo = r[k].addr > p->addr ? r[k].addr : p->addr;
      uint64_t hi = r[k].addr + r[k].length < end ? r[k].addr + r[k].length
                                                  : end;
      if (hi > lo)
        rc = chain_push(&out, lo, hi - lo, p->file_offset + (lo - p->addr),
                        p->image);
    }
  }
  if (rc != 0) {
    perm__tfree(out.v);
    return rc;
  }
  perm__tfree(map->v);
  *map = out;
  return 0;
}

int perm__chain_base_layer(const perm_chain_t *c, perm_chain_piece_t **out,
                           size_t *n) {
  const perm_image_view_t *base = &c->views[c->n - 1];
  chain_list_t l = {0};
  int rc = 0;
  for (uint32_t k = 0; k < base->nextents && rc == 0; k++)
    if (!(base->extents[k].flags & PERM_EXTENT_ZERO))
      rc = chain_push(&l, base->extents[k].addr, base->extents[k].length,
                      base->extents[k].file_offset, c->n - 1);
  if (rc == 0)
    rc = chain_clip(&l, c->views[0].runs, c->views[0].nruns);
  if (rc != 0) {
    perm__tfree(l.v);
    return perm__errorf(ENOMEM, "out of memory reading the chain of '%s'",
                        c->views[0].img.path);
  }
  *out = l.v;
  *n = l.n;
  return 0;
}

int perm__chain_member_name(const char *path, uint64_t generation,
                            uint64_t checksum, char *buf, size_t size) {
  int n = snprintf(buf, size, "%s.%" PRIu64 "-%016" PRIx64, path, generation,
                   checksum);
  if (n < 0 || (size_t)n >= size ||
      strlen(strrchr(buf, '/') ? strrchr(buf, '/') + 1 : buf) >=
          PERM_IMAGE_PARENT_NAME)
    return perm__errorf(ENAMETOOLONG,
                        "the image name '%s' is too long for a chain of "
                        "images",
                        path);
  return 0;
}

int perm__chain_is_member(const char *name, const char *base) {
  size_t bl = strlen(base);
  if (strncmp(name, base, bl) != 0 || name[bl] != '.')
    return 0;
  const char *p = name + bl + 1;
  size_t digits = strspn(p, "0123456789");
  if (digits == 0 || p[digits] != '-')
    return 0;
  p += digits + 1;
  return strlen(p) == 16 && strspn(p, "0123456789abcdef") == 16;
}

int perm__chain_parent_path(const char *path, const perm_image_header_t *h,
                            char *buf, size_t size) {
  char copy[4096];
  snprintf(copy, sizeof copy, "%s", path);
  int n = snprintf(buf, size, "%s/%s", dirname(copy), h->parent_name);
  if (n < 0 || (size_t)n >= size)
    return perm__errorf(ENAMETOOLONG, "the path of the parent of '%s' is too "
                                      "long",
                        path);
  return 0;
}

/* The parent is the image the delta was written against, not another. */
static int chain_check_link(const perm_image_view_t *child,
                            const perm_image_view_t *parent) {
  const perm_image_header_t *c = &child->img.hdr, *p = &parent->img.hdr;
  const char *what = NULL;
  if (p->format_version < 2 || p->heap_id != c->heap_id)
    what = "belongs to another heap";
  else if (p->generation != c->parent_generation)
    what = "holds another generation";
  else if (p->header_checksum != c->parent_checksum)
    what = "is not the image it was written against (its checksum differs)";
  else if (p->region_base != c->region_base ||
           p->region_capacity != c->region_capacity ||
           p->page_size != c->page_size)
    what = "has another region";
  else if (p->chain_length + 1 != c->chain_length)
    what = "has a chain of another length";
  if (what == NULL)
    return 0;
  return perm__errorf(EINVAL,
                      "the image '%s' (generation %" PRIu64 ") is a delta of "
                      "generation %" PRIu64 " in '%s', but that file %s "
                      "(generation %" PRIu64 "); the chain is broken: restore "
                      "'%s.prev' or another complete image",
                      child->img.path, c->generation, c->parent_generation,
                      parent->img.path, what, p->generation, child->img.path);
}

/*
** [addr, addr+len) of the newest generation's region data into buf: zeros
** where no piece holds data.
*/
static int chain_read(const perm_chain_t *c, uint64_t addr, uint64_t len,
                      void *buf) {
  memset(buf, 0, len);
  for (size_t i = 0; i < c->nmap; i++) {
    const perm_chain_piece_t *p = &c->map[i];
    uint64_t lo = p->addr > addr ? p->addr : addr;
    uint64_t hi = p->addr + p->length < addr + len ? p->addr + p->length
                                                   : addr + len;
    if (hi <= lo)
      continue;
    int rc = perm__sys_pread_all(c->views[p->image].img.fd,
                                 (char *)buf + (lo - addr), hi - lo,
                                 (off_t)(p->file_offset + (lo - p->addr)));
    if (rc != 0)
      return perm__errorf(-rc, "cannot read region data of '%s': %s",
                          c->views[p->image].img.path, strerror(-rc));
  }
  return 0;
}

/* A free list that outgrew the runtime state is region data: check it. */
static int chain_check_free_list(perm_chain_t *c) {
  perm_image_view_t *v = &c->views[0];
  if (v->saved == NULL || !v->saved_free_in_region)
    return 0;
  const perm_region_t *r = &v->saved->region;
  size_t len = (size_t)r->nfree * sizeof(perm_region_run_t);
  perm_region_run_t *free = perm__tmalloc(len ? len : 1);
  if (free == NULL)
    return perm__errorf(ENOMEM, "out of memory reading '%s'", v->img.path);
  int rc = chain_read(c, (uint64_t)(uintptr_t)r->free, len, free);
  if (rc == 0)
    rc = perm__image_check_free_list(v, free);
  perm__tfree(free);
  return rc;
}

void perm__chain_close(perm_chain_t *c) {
  for (uint32_t i = 0; i < c->n; i++)
    perm__image_view_close(&c->views[i]);
  perm__tfree(c->views);
  perm__tfree(c->map);
  memset(c, 0, sizeof *c);
}

/* Opens the parent of views[n-1] as views[n]. */
static int chain_open_parent(perm_chain_t *c, unsigned flags,
                             const perm_image_hooks_t *hooks) {
  const perm_image_view_t *child = &c->views[c->n - 1];
  char ppath[4400];
  int rc = perm__chain_parent_path(child->img.path, &child->img.hdr, ppath,
                                   sizeof ppath);
  if (rc != 0)
    return rc;
  if (c->n >= PERM_IMAGE_MAX_CHAIN)
    return perm__errorf(EINVAL, "the chain of '%s' is longer than %u images",
                        c->views[0].img.path, PERM_IMAGE_MAX_CHAIN);
  void *nv = perm__trealloc(c->views, (c->n + 1) * sizeof *c->views);
  if (nv == NULL)
    return perm__errorf(ENOMEM, "out of memory reading the chain of '%s'",
                        c->views[0].img.path);
  c->views = nv;
  perm_image_view_t *parent = &c->views[c->n];
  rc = perm__image_view_open(parent, ppath, flags, hooks);
  c->n++; /* closed with the chain, whatever happened */
  const perm_image_view_t *ch = &c->views[c->n - 2];
  if (rc == -ENOENT)
    return perm__errorf(ENOENT,
                        "the image '%s' (generation %" PRIu64 ") is a delta "
                        "of generation %" PRIu64 ", whose file '%s' is "
                        "missing; keep every file of the chain together "
                        "(perm info lists them), or restore '%s.prev'",
                        ch->img.path, ch->img.hdr.generation,
                        ch->img.hdr.parent_generation, ppath, ch->img.path);
  if (rc != 0)
    return rc;
  return chain_check_link(ch, parent);
}

int perm__chain_open(perm_chain_t *c, const char *path, unsigned flags,
                     const perm_image_hooks_t *hooks) {
  memset(c, 0, sizeof *c);
  c->views = perm__tcalloc(1, sizeof *c->views);
  if (c->views == NULL)
    return perm__errorf(ENOMEM, "out of memory reading '%s'", path);
  int rc = perm__image_view_open(&c->views[0], path, flags, hooks);
  c->n = 1;
  while (rc == 0 && (c->views[c->n - 1].img.hdr.flags & PERM_IMAGE_F_DELTA))
    rc = chain_open_parent(c, flags, hooks);
  if (rc != 0 || c->views[0].extents == NULL || c->views[0].runs == NULL)
    return rc != 0 ? rc : -EINVAL;
  chain_list_t map = {0};
  for (uint32_t i = c->n; i-- > 0 && rc == 0;) {
    const perm_image_view_t *v = &c->views[i];
    if (v->extents == NULL)
      rc = -EINVAL; /* reported by the validator */
    else
      rc = chain_apply(&map, v->extents, v->nextents, i) != 0 ? -ENOMEM : 0;
  }
  if (rc == 0 && chain_clip(&map, c->views[0].runs, c->views[0].nruns) != 0)
    rc = -ENOMEM;
  if (rc == -ENOMEM)
    perm__errorf(ENOMEM, "out of memory reading the chain of '%s'", path);
  if (rc != 0) {
    perm__tfree(map.v);
    return rc;
  }
  c->map = map.v;
  c->nmap = map.n;
  for (size_t i = 0; i < map.n; i++)
    c->map_bytes += map.v[i].length;
  return chain_check_free_list(c);
}
