/*
** restore.c - an image back into this process, at the same addresses.
**
** The image and the images it depends on are opened and validated whole
** first (image_chain.c, image_validate.c: the validator 'perm check' uses),
** then checked against this process: who owns the files, the page size,
** the runtime and allocator builds and where their state sections live,
** the loaded objects, the persistent globals' names and types, the
** region's address range.  Any mismatch is an error and nothing in the
** process has changed.  Only then is the region mapped (lazily: each
** piece of data a private mapping of the file that holds it; or eagerly:
** read now), the state sections and globals copied, and the allocator
** re-armed.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "heap.h"
#include "image.h"
#include "objects.h"
#include "region.h"
#include "restore.h"
#include "state.h"
#include "sys.h"
#include "track.h"

typedef struct restore_ctx_s {
  perm_chain_t chain;
  perm_image_view_t *head; /* chain.views[0] */
  char *state_lo[PERM_STATE_COUNT], *state_hi[PERM_STATE_COUNT];
  int region_reserved;
} restore_ctx_t;

/*
** An image is restored into this process like code: refuse one another
** user could have written, unless told to trust it.
*/
static int restore_trust(const perm_image_view_t *v, int trust) {
  if (trust)
    return 0;
  const perm_image_t *img = &v->img;
  if (img->uid != geteuid()) {
    char owner[300];
    char pw_buf[1024];
    struct passwd pw, *res = NULL;
    if (getpwuid_r(img->uid, &pw, pw_buf, sizeof pw_buf, &res) == 0 &&
        res != NULL)
      snprintf(owner, sizeof owner, "uid %u (%s)", (unsigned)img->uid,
               res->pw_name);
    else
      snprintf(owner, sizeof owner, "uid %u", (unsigned)img->uid);
    return perm__errorf(EPERM,
                        "the image '%s' belongs to %s, not to you (uid %u): "
                        "restoring it would run with its heap as yours, and "
                        "its owner controls it; copy it to a file of your own "
                        "if you trust it, or set PERM_TRUST_IMAGE=1",
                        img->path, owner, (unsigned)geteuid());
  }
  if (img->mode & (S_IWGRP | S_IWOTH))
    return perm__errorf(EPERM,
                        "the image '%s' is writable by %s (mode %04o), so "
                        "someone else may have written it; make it yours "
                        "alone (chmod go-w '%s'), or set PERM_TRUST_IMAGE=1",
                        img->path,
                        (img->mode & S_IWOTH) ? "every user" : "its group",
                        (unsigned)(img->mode & 07777), img->path);
  return 0;
}

/*
** The runtime's and the allocator's state are raw memory of the build that
** wrote them: same versions, same sections at the same addresses, or the
** copy would put the wrong bytes in the wrong places.
*/
static int restore_check_runtime(restore_ctx_t *x) {
  const perm_image_header_t *h = &x->head->img.hdr;
  const char *path = x->head->img.path;
  if (h->page_size != perm__page_size())
    return perm__errorf(EINVAL,
                        "the image '%s' was written with %u-byte pages, this "
                        "machine has %zu",
                        path, h->page_size, perm__page_size());
  if (h->format_version != PERM_IMAGE_FORMAT_VERSION ||
      strcmp(h->runtime_version, PERM_RUNTIME_VERSION) != 0 ||
      strcmp(h->jemalloc_version, perm__heap_version()) != 0)
    return perm__errorf(EINVAL,
                        "the image '%s' was written by PERM %s (image format "
                        "%" PRIu32 ", jemalloc %s); this is PERM %s (format "
                        "%u, jemalloc %s): restore with the runtime that wrote "
                        "it ('perm info' reads it, 'perm check' verifies it)",
                        path, h->runtime_version, h->format_version,
                        h->jemalloc_version, PERM_RUNTIME_VERSION,
                        PERM_IMAGE_FORMAT_VERSION, perm__heap_version());
  x->state_lo[0] = __start_permje_data, x->state_hi[0] = __stop_permje_data;
  x->state_lo[1] = __start_permje_bss, x->state_hi[1] = __stop_permje_bss;
  x->state_lo[2] = __start_permrt_state, x->state_hi[2] = __stop_permrt_state;
  for (uint32_t i = 0; i < PERM_STATE_COUNT; i++) {
    const perm_image_state_view_t *s = &x->head->state[i];
    uint64_t len = (uint64_t)(x->state_hi[i] - x->state_lo[i]);
    if (!x->head->have_state[i] || x->head->saved == NULL)
      return perm__errorf(EINVAL, "the image '%s' lacks %s", path,
                          perm__image_block_name(PERM_BLOCK_STATE, i + 1));
    if (s->addr != (uint64_t)x->state_lo[i] || s->length != len)
      return perm__errorf(EINVAL,
                          "the image '%s' was written by another build of the "
                          "PERM runtime (%s: %" PRIu64 " bytes at 0x%" PRIx64
                          ", here %" PRIu64 " bytes at %p); restore with the "
                          "runtime that wrote it",
                          path, perm__image_block_name(PERM_BLOCK_STATE, i + 1),
                          s->length, s->addr, len, (void *)x->state_lo[i]);
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

/*
** Fresh, zero, read-write memory for every run; the rest stays PROT_NONE.
** The new mappings lost the region's advice: it is given again once, over
** all of them.
*/
static int restore_map_runs(restore_ctx_t *x) {
  const perm_image_view_t *h = x->head;
  for (uint32_t i = 0; i < h->nruns; i++) {
    const perm_image_run_t *r = &h->runs[i];
    if (perm__sys_mmap((void *)r->addr, r->length, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE,
                       -1, 0) == MAP_FAILED)
      return perm__errorf_errno(errno, "cannot map the heap at 0x%" PRIx64,
                                r->addr);
  }
  if (h->nruns > 0) {
    const perm_image_run_t *last = &h->runs[h->nruns - 1];
    uint64_t base = h->img.hdr.region_base;
    perm__region_advise(base, base, last->addr + last->length - base);
  }
  return 0;
}

/* Eager: every piece read into place now. */
static int restore_read_data(restore_ctx_t *x) {
  for (size_t i = 0; i < x->chain.nmap; i++) {
    const perm_chain_piece_t *p = &x->chain.map[i];
    const perm_image_t *img = &x->chain.views[p->image].img;
    int rc = perm__sys_pread_all(img->fd, (void *)p->addr, p->length,
                                 (off_t)p->file_offset);
    if (rc != 0)
      return perm__errorf(-rc, "cannot read region data of '%s': %s",
                          img->path,
                          rc == -ENODATA ? "the file ends early"
                                         : strerror(-rc));
  }
  return 0;
}

/*
** Lazy: each piece a private mapping of the file that holds it, so pages
** load from the page cache on first touch and the cost of a restore does
** not grow with the heap.  Only data is mapped, never a hole, so reading
** the heap never allocates in the file (a tmpfs image stays its size).  No
** advice: a private file mapping has no huge pages, and its pages copied on
** write are small ones.
*/
static int restore_map_piece(const perm_image_t *img,
                             const perm_chain_piece_t *p) {
  if (perm__sys_mmap((void *)p->addr, p->length, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_FIXED, img->fd,
                     (off_t)p->file_offset) == MAP_FAILED)
    return perm__errorf_errno(errno,
                              "cannot map the heap of '%s' at 0x%" PRIx64,
                              img->path, p->addr);
  return 0;
}

static int restore_map_data(restore_ctx_t *x) {
  for (size_t i = 0; i < x->chain.nmap; i++) {
    const perm_chain_piece_t *p = &x->chain.map[i];
    int rc = restore_map_piece(&x->chain.views[p->image].img, p);
    if (rc != 0)
      return rc;
  }
  return 0;
}

/*
** Lazy restore maps each piece of data: a heap whose data lie in more
** pieces than a process may have mappings (vm.max_map_count, 65530 by
** default; a quarter of it, for everything else the process maps) is read
** eagerly instead, rather than refused.
*/
static int restore_too_many_maps(size_t pieces) {
  unsigned long max = 65530;
  const char *test = perm__getenv("PERM_TEST_MAP_LIMIT");
  if (test != NULL && *test)
    max = strtoul(test, NULL, 10) * 4;
  else {
    char buf[32];
    int fd = open("/proc/sys/vm/max_map_count", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0)
      close(fd);
    if (n > 0) {
      buf[n] = '\0';
      max = strtoul(buf, NULL, 10);
    }
  }
  return pieces > max / 4;
}

/*
** A lazy restore of a chain whose deltas cut the map into more pieces than
** the process may map: the full image's data mapped as it was written (few,
** long pieces), then what the deltas changed put over it -- their pages
** read in, the pages they dropped zeroed.  The cost follows the deltas'
** data, not the heap's; pages the deltas did not touch still load on first
** touch.  layer: perm__chain_base_layer's pieces.
*/
typedef struct restore_layer_s {
  perm_chain_piece_t *v;
  size_t n;
  size_t zero_maps;    /* dropped ranges given a fresh anonymous mapping */
  size_t zero_sets;    /* shorter dropped ranges, cleared with memset */
  uint64_t read_bytes; /* the deltas' pages, read */
} restore_layer_t;

/*
** A dropped range this long gets a fresh anonymous mapping (two more
** mappings at most) rather than a memset, which would make it resident.
*/
#define RESTORE_ZERO_MAP_MIN (64u << 10)

/*
** The ranges of the layer that no piece of the map covers: bytes of the
** full image that a delta dropped.  With apply, zeroed; else only counted.
*/
static int restore_layer_zero(restore_ctx_t *x, restore_layer_t *l,
                              int apply) {
  const perm_chain_piece_t *m = x->chain.map;
  size_t j = 0, nm = x->chain.nmap;
  uint64_t base = x->head->img.hdr.region_base;
  l->zero_maps = l->zero_sets = 0;
  for (size_t i = 0; i < l->n; i++) {
    uint64_t at = l->v[i].addr, end = at + l->v[i].length;
    while (j < nm && m[j].addr + m[j].length <= at)
      j++;
    for (size_t k = j; at < end; k++) {
      uint64_t lo = k < nm && m[k].addr < end ? m[k].addr : end;
      if (lo > at) {
        uint64_t len = lo - at;
        if (len >= RESTORE_ZERO_MAP_MIN) {
          l->zero_maps++;
          if (apply &&
              perm__sys_mmap((void *)at, len, PROT_READ | PROT_WRITE,
                             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED |
                                 MAP_NORESERVE,
                             -1, 0) == MAP_FAILED)
            return perm__errorf_errno(errno,
                                      "cannot map the heap at 0x%" PRIx64, at);
          if (apply)
            perm__region_advise(base, at, len);
        } else {
          l->zero_sets++;
          if (apply)
            memset((void *)at, 0, len);
        }
      }
      if (lo == end)
        break;
      at = m[k].addr + m[k].length;
    }
  }
  return 0;
}

static int restore_map_layered(restore_ctx_t *x, restore_layer_t *l) {
  uint32_t full = x->chain.n - 1;
  const perm_image_t *img = &x->chain.views[full].img;
  for (size_t i = 0; i < l->n; i++) {
    int rc = restore_map_piece(img, &l->v[i]);
    if (rc != 0)
      return rc;
  }
  int rc = restore_layer_zero(x, l, 1);
  for (size_t i = 0; i < x->chain.nmap && rc == 0; i++) {
    const perm_chain_piece_t *p = &x->chain.map[i];
    if (p->image == full)
      continue; /* the layer holds it */
    const perm_image_t *d = &x->chain.views[p->image].img;
    rc = perm__sys_pread_all(d->fd, (void *)p->addr, p->length,
                             (off_t)p->file_offset);
    if (rc != 0)
      return perm__errorf(-rc, "cannot read region data of '%s': %s",
                          d->path,
                          rc == -ENODATA ? "the file ends early"
                                         : strerror(-rc));
  }
  return rc;
}

/*
** Why the chain is not restored layered, or NULL: it is, when the mappings
** fit and the deltas hold at most half the data -- past that, reading them
** into the full image's mappings (a page fault and a copy each) costs more
** than reading everything into fresh memory (bench/RESULTS.md, "layered
** restore").  l is filled either way (freed by the caller).
*/
static const char *restore_layer_plan(restore_ctx_t *x, restore_layer_t *l) {
  memset(l, 0, sizeof *l);
  if (x->chain.n < 2)
    return "it is a full image";
  if (perm__chain_base_layer(&x->chain, &l->v, &l->n) != 0)
    return "there is no memory to plan a layered restore";
  restore_layer_zero(x, l, 0);
  for (size_t i = 0; i < x->chain.nmap; i++)
    if (x->chain.map[i].image != x->chain.n - 1)
      l->read_bytes += x->chain.map[i].length;
  if (l->read_bytes > x->chain.map_bytes / 2)
    return "its deltas hold more than half of its data";
  if (restore_too_many_maps(l->n + 2 * l->zero_maps))
    return "its full image alone is in too many pieces";
  return NULL;
}

typedef enum restore_way_e {
  RESTORE_PIECES,  /* lazy: a private file mapping per piece */
  RESTORE_LAYERED, /* lazy: the full image mapped, the deltas read over it */
  RESTORE_EAGER    /* everything read now */
} restore_way_t;

/*
** How a lazy restore loads the data: the way with the fewest operations,
** a mapping and a page read counting alike (4.6 and 3.4 us measured: a
** mapping per piece and its first touch, a delta page read into the full
** image's mapping); eager when neither fits in the mappings allowed.
*/
static restore_way_t restore_choose(restore_ctx_t *x, const char *path,
                                    restore_layer_t *l) {
  size_t n = x->chain.nmap;
  int too_many = restore_too_many_maps(n);
  if (x->chain.n < 2 && !too_many)
    return RESTORE_PIECES;
  const char *why_not = restore_layer_plan(x, l);
  uint64_t ops = l->n + 2 * l->zero_maps + l->read_bytes / perm__page_size();
  if (why_not == NULL && (too_many || ops < n)) {
    char why[96];
    if (too_many)
      snprintf(why, sizeof why, "more than this process may map");
    else
      snprintf(why, sizeof why,
               "more than the %" PRIu64 " mappings and page reads of a "
               "layered restore",
               ops);
    perm__verbose("restoring '%s' layered: its data are in %zu pieces, %s; "
                  "mapping the full image's %zu pieces lazily, reading the "
                  "deltas' %" PRIu64 " bytes and zeroing the ranges they "
                  "dropped: %zu mapped anew, %zu cleared",
                  path, n, why, l->n, l->read_bytes, l->zero_maps,
                  l->zero_sets);
    return RESTORE_LAYERED;
  }
  if (!too_many)
    return RESTORE_PIECES;
  perm__verbose("'%s' holds its data in %zu pieces, more than this process "
                "may map, and %s: restoring eagerly",
                path, n, why_not != NULL ? why_not : "");
  return RESTORE_EAGER;
}

static int restore_verify(restore_ctx_t *x) {
  for (uint32_t i = 0; i < x->chain.n; i++) {
    int rc = perm__image_view_verify_data(&x->chain.views[i]);
    if (rc != 0)
      return rc;
  }
  return 0;
}

/* Everything that can refuse the image, before anything changes. */
static int restore_check(restore_ctx_t *x, const char *path,
                         const perm_restore_opts_t *opts,
                         perm_registry_policy_t *policy) {
  int rc = perm__chain_open(&x->chain, path, 0, NULL);
  if (rc != 0)
    return rc;
  x->head = &x->chain.views[0];
  for (uint32_t i = 0; i < x->chain.n && rc == 0; i++)
    rc = restore_trust(&x->chain.views[i], opts->trust);
  /* The objects first: moved libraries explain moved state sections. */
  perm_objects_verdict_t verdict;
  if (rc == 0)
    rc = perm__objects_check(x->head->objects_block, x->head->objects_len,
                             path, &verdict);
  if (rc == 0)
    rc = restore_check_runtime(x);
  if (rc == 0)
    rc = restore_policy(path, opts, &verdict, policy);
  if (rc == 0)
    rc = perm__registry_restore(x->head->registry_block, x->head->registry_len,
                                0, policy, NULL);
  if (rc == 0 && opts->rollback &&
      (x->head->img.hdr.region_base != perm__saved.region.base ||
       x->head->img.hdr.region_capacity != perm__saved.region.capacity))
    rc = perm__errorf(EINVAL,
                      "perm_rollback('%s'): the image's heap is at "
                      "0x%" PRIx64 "+%" PRIu64 ", the running heap at "
                      "0x%" PRIx64 "+%" PRIu64 "; roll back only to images "
                      "of this heap",
                      path, x->head->img.hdr.region_base,
                      x->head->img.hdr.region_capacity,
                      perm__saved.region.base, perm__saved.region.capacity);
  if (rc == 0 && opts->verify_full)
    rc = restore_verify(x);
  return rc;
}

/* The registry block outlives the restore: modules loaded later need it. */
static void *restore_take_registry(restore_ctx_t *x) {
  perm_image_view_t *v = x->head;
  for (uint32_t i = 0; i < PERM_IMAGE_MAX_BLOCKS; i++)
    if (v->blocks[i] != NULL && v->blocks[i] == v->registry_block) {
      v->blocks[i] = NULL;
      return v->registry_block;
    }
  return NULL;
}

static void restore_info(const perm_chain_t *c, perm_restore_info_t *info) {
  memset(info, 0, sizeof *info);
  const perm_image_header_t *h = &c->views[0].img.hdr;
  info->generation = h->generation;
  info->header_checksum = h->header_checksum;
  info->chain_length = h->chain_length;
  for (uint32_t i = 0; i < c->n; i++) {
    const perm_image_header_t *m = &c->views[i].img.hdr;
    if (m->flags & PERM_IMAGE_F_DELTA)
      info->chain_bytes += m->data_bytes;
    else
      info->base_bytes = m->data_bytes;
  }
}

int perm__restore(const char *path, const perm_restore_opts_t *opts,
                  perm_restore_counts_t *counts, perm_restore_info_t *info) {
  restore_ctx_t x;
  memset(&x, 0, sizeof x);
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
  perm_registry_policy_t policy;
  int rc = restore_check(&x, path, opts, &policy);
  perm_region_t probe;
  if (rc == 0 && !opts->rollback) {
    const perm_image_header_t *h = &x.head->img.hdr;
    rc = perm__region_reserve(&probe, h->region_base, h->region_capacity);
    x.region_reserved = rc == 0;
  }
  if (rc != 0) {
    perm__chain_close(&x.chain);
    return rc;
  }

  /* The point of no return for a rollback: drop the live heap's pages. */
  if (opts->rollback) {
    perm__heap_rollback_begin();
    perm__sys_mmap(
        (void *)perm__saved.region.base, perm__saved.region.capacity, PROT_NONE,
        MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
  }
  restore_layer_t layer = {0};
  restore_way_t way =
      opts->eager ? RESTORE_EAGER : restore_choose(&x, path, &layer);
  rc = restore_map_runs(&x);
  if (rc == 0)
    rc = way == RESTORE_EAGER     ? restore_read_data(&x)
         : way == RESTORE_LAYERED ? restore_map_layered(&x, &layer)
                                  : restore_map_data(&x);
  perm__tfree(layer.v);
  if (rc != 0 && opts->rollback) {
    /* Verified data that cannot be mapped: the old heap is gone. */
    perm__verbose("rollback failed after the point of no return: %s",
                  perm__error_message());
    abort();
  }
  if (rc != 0) {
    if (x.region_reserved)
      perm__region_unreserve(&probe);
    perm__chain_close(&x.chain);
    return rc;
  }

  /*
  ** The region is the image's, byte for byte, only now: tracking for the
  ** next delta starts here, not once the allocator is re-armed, whose
  ** writes to its lists in the region that delta must hold.  Not being
  ** able to track is no error: the caller finds it inactive.
  */
  if (opts->track &&
      perm__track_start(x.head->img.hdr.region_base,
                        x.head->img.hdr.region_capacity,
                        x.head->img.hdr.region_top) != 0)
    perm__track_stop();
  /* Past this point nothing can fail for a reason the image could cause. */
  for (uint32_t i = 0; i < PERM_STATE_COUNT; i++)
    perm__image_state_copy(&x.head->state[i], x.state_lo[i]);
  perm__saved.region.file_backed = way != RESTORE_EAGER && x.chain.nmap > 0;
  void *registry = x.head->registry_block;
  size_t rlen = (size_t)x.head->registry_len;
  perm__registry_restore(registry, rlen, 1, NULL, counts);
  perm__registry_keep_image(restore_take_registry(&x), rlen);
  rc = opts->rollback ? perm__heap_rollback_end() : perm__heap_rearm();
  if (info != NULL)
    restore_info(&x.chain, info);
  perm__chain_close(&x.chain);
  return rc;
}
