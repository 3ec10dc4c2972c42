/*
** restore.c - an image back into this process, at the same addresses.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "heap.h"
#include "image.h"
#include "objects.h"
#include "restore.h"
#include "state.h"
#include "sys.h"

typedef struct restore_ctx_s {
  perm_image_t img;
  void *objects, *registry, *runs, *extents;
  void *state[3]; /* jemalloc data, jemalloc bss, runtime */
  char *state_lo[3], *state_hi[3];
  int region_reserved;
} restore_ctx_t;

static const uint32_t restore_state_codes[3] = {
    PERM_STATE_JEMALLOC_DATA, PERM_STATE_JEMALLOC_BSS, PERM_STATE_RUNTIME};

static void restore_free(restore_ctx_t *x) {
  perm__tfree(x->objects);
  perm__tfree(x->runs);
  perm__tfree(x->extents);
  perm__tfree(x->registry);
  for (int i = 0; i < 3; i++)
    perm__tfree(x->state[i]);
  perm__image_close(&x->img);
}

static int restore_block(restore_ctx_t *x, uint32_t type, uint32_t flags,
                         void **out, size_t *len) {
  const perm_image_block_t *b = perm__image_find(&x->img, type, flags);
  if (b == NULL)
    return perm__errorf(EINVAL, "the image '%s' is corrupted: %s is missing",
                        x->img.path, perm__image_block_name(type, flags));
  if (len != NULL)
    *len = b->length;
  return perm__image_read_block(&x->img, b, out);
}

/* Sizes and addresses of the state sections must be this runtime's. */
static int restore_check_state(restore_ctx_t *x) {
  x->state_lo[0] = __start_permje_data, x->state_hi[0] = __stop_permje_data;
  x->state_lo[1] = __start_permje_bss, x->state_hi[1] = __stop_permje_bss;
  x->state_lo[2] = __start_permrt_state, x->state_hi[2] = __stop_permrt_state;
  for (int i = 0; i < 3; i++) {
    const perm_image_block_t *b =
        perm__image_find(&x->img, PERM_BLOCK_STATE, restore_state_codes[i]);
    if (b == NULL)
      return perm__errorf(
          EINVAL, "the image '%s' is corrupted: %s is missing", x->img.path,
          perm__image_block_name(PERM_BLOCK_STATE, restore_state_codes[i]));
    uint64_t len = (uint64_t)(x->state_hi[i] - x->state_lo[i]);
    if (b->addr != (uint64_t)x->state_lo[i] || b->length != len)
      return perm__errorf(EINVAL,
                          "the image '%s' was written by another build of the "
                          "PERM runtime (%s: %" PRIu64 " bytes at 0x%" PRIx64
                          ", here %" PRIu64 " bytes at %p); restore with the "
                          "runtime that wrote it",
                          x->img.path,
                          perm__image_block_name(b->type, b->flags), b->length,
                          b->addr, len, (void *)x->state_lo[i]);
    int rc = perm__image_read_block(&x->img, b, &x->state[i]);
    if (rc != 0)
      return rc;
  }
  const perm_saved_t *s = x->state[2];
  if (s->magic != PERM_SAVED_MAGIC ||
      s->region.base != x->img.hdr.region_base ||
      s->region.top != x->img.hdr.region_top)
    return perm__errorf(EINVAL,
                        "the image '%s' is inconsistent: its runtime "
                        "state does not match its header",
                        x->img.path);
  return 0;
}

typedef struct restore_table_s {
  const void *entries;
  uint32_t count;
} restore_table_t;

static int restore_table(restore_ctx_t *x, void *block, size_t len,
                         size_t entry_size, restore_table_t *t) {
  const perm_image_table_t *h = block;
  if (len < sizeof *h || h->entry_size != entry_size ||
      h->count > (len - sizeof *h) / entry_size)
    return perm__errorf(EINVAL, "the image '%s' has a malformed table",
                        x->img.path);
  t->entries = h + 1;
  t->count = h->count;
  return 0;
}

/* Maps the runs read-write, fresh; the rest of the region stays PROT_NONE. */
static int restore_map_runs(restore_ctx_t *x, const restore_table_t *runs) {
  const perm_image_header_t *h = &x->img.hdr;
  const perm_image_run_t *r = runs->entries;
  for (uint32_t i = 0; i < runs->count; i++) {
    if (r[i].addr < h->region_base || r[i].length > h->region_top ||
        r[i].addr - h->region_base > h->region_top - r[i].length)
      return perm__errorf(EINVAL,
                          "the image '%s' is corrupted: a run lies "
                          "outside the region",
                          x->img.path);
    if (perm__sys_mmap((void *)r[i].addr, r[i].length, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE,
                       -1, 0) == MAP_FAILED)
      return perm__errorf_errno(errno, "cannot map the heap at 0x%" PRIx64,
                                r[i].addr);
    if (r[i].length >= PERM_REGION_HUGE) /* as region.c does, for the fork */
      madvise((void *)r[i].addr, r[i].length, MADV_HUGEPAGE);
  }
  return 0;
}

static int restore_load_extents(restore_ctx_t *x, const restore_table_t *ext,
                                int verify) {
  const perm_image_extent_t *e = ext->entries;
  for (uint32_t i = 0; i < ext->count; i++) {
    int rc;
    if (verify) {
      rc = perm__image_read_extent(&x->img, &e[i], (void *)e[i].addr);
    } else {
      const perm_image_header_t *h = &x->img.hdr;
      if (e[i].addr < h->region_base || e[i].length > h->region_top ||
          e[i].addr - h->region_base > h->region_top - e[i].length)
        return perm__errorf(EINVAL,
                            "the image '%s' is corrupted: an extent "
                            "lies outside the region",
                            x->img.path);
      rc = perm__sys_pread_all(
          x->img.fd, (void *)e[i].addr, e[i].length,
          (off_t)(h->data_offset + e[i].addr - h->region_base));
      if (rc != 0)
        rc = perm__errorf(-rc, "cannot read region data of '%s': %s",
                          x->img.path, strerror(-rc));
    }
    if (rc != 0)
      return rc;
  }
  return 0;
}

/*
** Lazy: one private mapping of the image's region mirror over [base, top);
** pages load from the page cache on first touch, holes read as zeros, so the
** cost does not grow with the heap.  Gaps between runs go back to PROT_NONE.
*/
static int restore_map_lazy(restore_ctx_t *x, const restore_table_t *runs) {
  const perm_image_header_t *h = &x->img.hdr;
  if (h->region_top == 0)
    return 0;
  if (perm__sys_mmap((void *)h->region_base, h->region_top,
                     PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, x->img.fd,
                     (off_t)h->data_offset) == MAP_FAILED)
    return perm__errorf_errno(errno,
                              "cannot map the heap of '%s' at 0x%" PRIx64,
                              x->img.path, h->region_base);
  const perm_image_run_t *r = runs->entries;
  uint64_t at = h->region_base;
  for (uint32_t i = 0; i <= runs->count; i++) {
    uint64_t next =
        i < runs->count ? r[i].addr : h->region_base + h->region_top;
    if (next < at || next > h->region_base + h->region_top)
      return perm__errorf(EINVAL,
                          "the image '%s' is corrupted: its runs are "
                          "not in order",
                          x->img.path);
    if (next > at &&
        perm__sys_mmap((void *)at, next - at, PROT_NONE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE,
                       -1, 0) == MAP_FAILED)
      return perm__errorf_errno(errno, "cannot map the heap at 0x%" PRIx64, at);
    if (i < runs->count)
      at = r[i].addr + r[i].length;
  }
  return 0;
}

static int restore_verify_extents(restore_ctx_t *x,
                                  const restore_table_t *ext) {
  const perm_image_extent_t *e = ext->entries;
  for (uint32_t i = 0; i < ext->count; i++) {
    int rc = perm__image_read_extent(&x->img, &e[i], NULL);
    if (rc != 0)
      return rc;
  }
  return 0;
}

/*
** Which program may restore the image.  The one that wrote it, always.  A
** rebuild of it, or another program, with PERM_ALLOW_REBUILD=1: globals are
** matched by name and type, and new ones keep their initializers.  Another
** program of the same application with mode letter s (mopen, PERM_FNAME):
** every persistent global it declares must be in the image, with its type.
** Either way code addresses in the heap (function pointers, string
** literals) belong to the writer: README.PERM, section 4.
*/
static int restore_policy(const char *path, const perm_restore_opts_t *opts,
                          const perm_objects_verdict_t *v,
                          perm_registry_policy_t *policy) {
  memset(policy, 0, sizeof *policy);
  policy->startup = opts->startup;
  snprintf(policy->image, sizeof policy->image, "%s", path);
  if (v->main == PERM_MAIN_SAME)
    return 0;
  snprintf(policy->writer, sizeof policy->writer, "%s", v->writer);
  snprintf(policy->reader, sizeof policy->reader, "%s", v->reader);
  if (opts->allow_rebuild)
    return 0;
  if (opts->shared) {
    policy->strict = 1;
    return 0;
  }
  return perm__errorf(
      EINVAL,
      "the image '%s' was written by %s, and this program is %s; restore "
      "with the program that wrote it; if this is a rebuild of it where only "
      "code changed and persistent data are plain data, set "
      "PERM_ALLOW_REBUILD=1; if it is another program that shares the heap "
      "file and declares the same persistent globals, open with mode letter "
      "s (mopen and PERM_FNAME do: README.PERM, section 4)",
      path, v->writer, v->reader);
}

int perm__restore(const char *path, const perm_restore_opts_t *opts,
                  perm_restore_counts_t *counts) {
  restore_ctx_t x;
  memset(&x, 0, sizeof x);
  x.img.fd = -1;
  if (opts->rollback && !perm__heap_ready())
    return perm__errorf(EBADF,
                        "perm_rollback('%s'): there is no heap to roll "
                        "back; use perm_open",
                        path);
  if (!opts->rollback && perm__heap_ready())
    return perm__errorf(EBUSY,
                        "cannot restore '%s': this process already has a "
                        "persistent heap (perm_open was called before, or "
                        "perm_malloc ran before perm_open); restore in a fresh "
                        "process, or use perm_rollback",
                        path);
  int rc = perm__image_open(&x.img, path);
  size_t olen = 0, rlen = 0, runlen = 0, elen = 0;
  if (rc == 0)
    rc = restore_block(&x, PERM_BLOCK_OBJECTS, 0, &x.objects, &olen);
  perm_objects_verdict_t verdict;
  perm_registry_policy_t policy;
  if (rc == 0)
    rc = perm__objects_check(x.objects, olen, path, &verdict);
  if (rc == 0)
    rc = restore_policy(path, opts, &verdict, &policy);
  if (rc == 0)
    rc = restore_check_state(&x);
  if (rc == 0)
    rc = restore_block(&x, PERM_BLOCK_REGISTRY, 0, &x.registry, &rlen);
  if (rc == 0)
    rc = perm__registry_restore(x.registry, rlen, 0, &policy, NULL);
  if (rc == 0)
    rc = restore_block(&x, PERM_BLOCK_RUNS, 0, &x.runs, &runlen);
  if (rc == 0)
    rc = restore_block(&x, PERM_BLOCK_EXTENTS, 0, &x.extents, &elen);
  restore_table_t runs = {0}, ext = {0};
  if (rc == 0)
    rc = restore_table(&x, x.runs, runlen, sizeof(perm_image_run_t), &runs);
  if (rc == 0)
    rc = restore_table(&x, x.extents, elen, sizeof(perm_image_extent_t), &ext);

  /* The region: reserve, map, load (and verify) the data. */
  perm_region_t probe;
  int committed = 0;
  if (rc == 0 && opts->rollback) {
    /* Same place, same size, or pointers would not match. */
    if (x.img.hdr.region_base != perm__saved.region.base ||
        x.img.hdr.region_capacity != perm__saved.region.capacity)
      rc = perm__errorf(EINVAL,
                        "perm_rollback('%s'): the image's heap is at "
                        "0x%" PRIx64 "+%" PRIu64 ", the running heap at "
                        "0x%" PRIx64 "+%" PRIu64 "; roll back only to images "
                        "of this heap",
                        path, x.img.hdr.region_base, x.img.hdr.region_capacity,
                        perm__saved.region.base, perm__saved.region.capacity);
    if (rc == 0 && opts->verify_full)
      rc = restore_verify_extents(&x, &ext);
    if (rc != 0) {
      restore_free(&x);
      return rc;
    }
    /* The point of no return: drop the live heap's pages. */
    committed = 1;
    perm__heap_rollback_begin();
    perm__sys_mmap(
        (void *)perm__saved.region.base, perm__saved.region.capacity, PROT_NONE,
        MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
  } else if (rc == 0) {
    rc = perm__region_reserve(&probe, x.img.hdr.region_base,
                              x.img.hdr.region_capacity);
    x.region_reserved = rc == 0;
  }
  if (rc == 0 && opts->eager) {
    rc = restore_map_runs(&x, &runs);
    if (rc == 0)
      rc = restore_load_extents(&x, &ext, opts->verify_full);
  } else if (rc == 0) {
    if (opts->verify_full && !opts->rollback)
      rc = restore_verify_extents(&x, &ext);
    if (rc == 0)
      rc = restore_map_lazy(&x, &runs);
  }
  if (rc != 0 && committed) {
    /* Verified data that cannot be mapped: the old heap is gone. */
    perm__verbose("rollback failed after the point of no return: %s",
                  perm__error_message());
    abort();
  }
  if (rc != 0) {
    if (x.region_reserved)
      perm__region_unreserve(&probe);
    restore_free(&x);
    return rc;
  }

  /* Past this point nothing can fail for a reason the image could cause. */
  for (int i = 0; i < 3; i++)
    memcpy(x.state_lo[i], x.state[i], (size_t)(x.state_hi[i] - x.state_lo[i]));
  perm__saved.region.file_backed = !opts->eager;
  perm__registry_restore(x.registry, rlen, 1, NULL, counts);
  perm__registry_keep_image(x.registry, rlen);
  x.registry = NULL;
  rc = opts->rollback ? perm__heap_rollback_end() : perm__heap_rearm();
  restore_free(&x);
  return rc;
}
