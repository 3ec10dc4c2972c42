/*
** image_fuzz.c - a libFuzzer target over the image reader and the one
** validator (runtime/image_read.c, image_validate.c, image_chain.c), with a
** structure-aware mutator that keeps the checksums valid.
**
** Built with clang-19 -fsanitize=fuzzer,address,undefined and linked with
** the permimage sources (test/fuzz/fuzz.test shows the command).
**
** Input: either one image file, or a chain packed by Inputs/pack.py:
**
**   "PERMFUZZ" then, per member, a little-endian uint32 length and the bytes
**
** Member 0 is written as DIR/img; member k+1 is written under the parent
** name member k's header gives (only if member k is a delta and the name is
** a plain file name), so a packed chain is found by perm__chain_open.  DIR
** is a directory of this process on tmpfs (/dev/shm), because
** perm__image_open refuses /proc/self/fd links (O_NOFOLLOW).
**
** Each input is read as restore reads it (perm__chain_open with no flags,
** then every extent's checksum: PERM_VERIFY=full) and as perm check reads
** it (PERM_VALIDATE_ALL | PERM_VALIDATE_DATA), image by image
** (perm__image_view_open) and as a chain.  Beyond memory errors (ASan),
** undefined behaviour (UBSan, fatal) and leaks, the target checks what the
** validator promises its users, and aborts when a promise is broken:
**   - restore and perm check agree on whether an image is sound;
**   - a sound view's tables lie inside their blocks: every name ends inside
**     its block, every global's bytes are inside the registry block, runs
**     and extents are sorted, disjoint, page-aligned, inside the region,
**     present extents inside the file's region data, state pieces inside
**     their section and their block, perm__image_state_copy fills exactly
**     the section;
**   - a sound chain's map is sorted, disjoint, page-aligned, inside the
**     newest image's runs, and inside the file of the image it names.
**
** The mutator (LLVMFuzzerCustomMutator) knows the format: it changes a
** field of the header, of the block table, of a table (objects, registry,
** runs, extents), of a state block or of the runtime's saved state (inside
** the runtime state block's pieces), to values taken from the image itself
** (other fields, +-1, +-a page) or to edge values; it deletes, copies and
** swaps entries; it splits a run around a hole, in the runs and in the
** saved free list alike (the seeds have one run); it resizes files; then it reseals what it changed: each
** present extent's checksum, each block's, the file size and the header's,
** and each delta's parent checksum, most of the time (sometimes not, so the
** checksum paths run too).
*/
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "image.h"
#include "region.h"
#include "state.h"

#define FZ_MAGIC "PERMFUZZ"
#define FZ_MAX_MEMBERS 8u
#define FZ_PAGE 4096u

_Static_assert(offsetof(perm_image_header_t, parent_name) == 2792,
               "Inputs/pack.py reads parent_name at offset 2792");
_Static_assert(offsetof(perm_image_header_t, flags) == 20,
               "Inputs/pack.py reads flags at offset 20");

/* The libFuzzer entry points this file uses or defines. */
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size,
                               unsigned int seed);
size_t LLVMFuzzerCustomCrossOver(const uint8_t *d1, size_t s1,
                                 const uint8_t *d2, size_t s2, uint8_t *out,
                                 size_t max_out, unsigned int seed);

/*------------------------------------------------------------ members ---*/

typedef struct fz_member_s {
  const uint8_t *p;
  size_t n;
} fz_member_t;

typedef struct fz_input_s {
  fz_member_t m[FZ_MAX_MEMBERS];
  unsigned n;
} fz_input_t;

static uint32_t fz_get32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

/* Splits an input into its files; a raw input is one file. */
static void fz_split(const uint8_t *data, size_t size, fz_input_t *in) {
  in->n = 0;
  if (size < 8 || memcmp(data, FZ_MAGIC, 8) != 0) {
    in->m[0] = (fz_member_t){data, size};
    in->n = 1;
    return;
  }
  size_t at = 8;
  while (in->n < FZ_MAX_MEMBERS && size - at >= 4) {
    uint32_t len = fz_get32(data + at);
    at += 4;
    if (len > size - at)
      len = (uint32_t)(size - at);
    in->m[in->n++] = (fz_member_t){data + at, len};
    at += len;
  }
  if (in->n == 0)
    in->m[in->n++] = (fz_member_t){data + size, 0};
}

/*
** The file name a member names as its parent, when it is a delta of
** format 2 whose name is a plain file name; else NULL.
*/
static const char *fz_parent_name(const fz_member_t *m, char *buf) {
  if (m->n < sizeof(perm_image_header_t) ||
      memcmp(m->p, PERM_IMAGE_MAGIC, 8) != 0)
    return NULL;
  perm_image_header_t h;
  memcpy(&h, m->p, sizeof h);
  if (h.format_version != 2 || !(h.flags & PERM_IMAGE_F_DELTA))
    return NULL;
  size_t nl = strnlen(h.parent_name, sizeof h.parent_name);
  if (nl == 0 || nl == sizeof h.parent_name ||
      memchr(h.parent_name, '/', nl) != NULL ||
      strcmp(h.parent_name, ".") == 0 || strcmp(h.parent_name, "..") == 0)
    return NULL;
  memcpy(buf, h.parent_name, nl + 1);
  return buf;
}

/*------------------------------------------------------------- target ---*/

static char fz_dir[256];
static char fz_written[FZ_MAX_MEMBERS][PERM_IMAGE_PARENT_NAME + 300];
static unsigned fz_nwritten;

#define FZ_ASSERT(cond, ...)                                                   \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "image_fuzz: broken promise (%s:%d): ", __FILE__,        \
              __LINE__);                                                       \
      fprintf(stderr, __VA_ARGS__);                                            \
      fprintf(stderr, "\n");                                                   \
      abort();                                                                 \
    }                                                                          \
  } while (0)

static void fz_cleanup(void) {
  for (unsigned i = 0; i < fz_nwritten; i++)
    unlink(fz_written[i]);
  fz_nwritten = 0;
}

static void fz_atexit(void) {
  fz_cleanup();
  if (fz_dir[0] != '\0')
    rmdir(fz_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  const char *base = "/dev/shm";
  struct stat st;
  if (stat(base, &st) != 0 || !S_ISDIR(st.st_mode) || access(base, W_OK) != 0)
    base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
  snprintf(fz_dir, sizeof fz_dir, "%s/perm-fuzz-%ld", base, (long)getpid());
  if (mkdir(fz_dir, 0700) != 0 && errno != EEXIST) {
    perror(fz_dir);
    exit(1);
  }
  atexit(fz_atexit);
  return 0;
}

static int fz_write(const char *name, const fz_member_t *m) {
  char path[sizeof fz_written[0]];
  snprintf(path, sizeof path, "%s/%s", fz_dir, name);
  for (unsigned i = 0; i < fz_nwritten; i++)
    if (strcmp(fz_written[i], path) == 0)
      return -1; /* a chain naming itself: its first copy stays */
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                0600);
  if (fd < 0)
    return -1;
  snprintf(fz_written[fz_nwritten++], sizeof fz_written[0], "%s", path);
  size_t done = 0;
  while (done < m->n) {
    ssize_t w = write(fd, m->p + done, m->n - done);
    if (w <= 0)
      break;
    done += (size_t)w;
  }
  close(fd);
  return done == m->n ? 0 : -1;
}

typedef struct fz_count_s {
  unsigned reports;
} fz_count_t;

static void fz_report(void *arg, const char *msg) {
  fz_count_t *c = arg;
  FZ_ASSERT(msg != NULL && msg[0] != '\0', "an empty problem report");
  c->reports++;
}

static void fz_progress(void *arg, uint64_t done, uint64_t total) {
  (void)arg;
  FZ_ASSERT(done <= total, "progress %llu of %llu", (unsigned long long)done,
            (unsigned long long)total);
}

/* A name inside a block: NUL-terminated before the block ends. */
static void fz_check_name(const void *block, uint64_t len, uint64_t off,
                          const char *what) {
  FZ_ASSERT(off < len, "%s: name at %llu of a %llu-byte block", what,
            (unsigned long long)off, (unsigned long long)len);
  const char *s = perm__image_name_at(block, off);
  FZ_ASSERT(memchr(s, '\0', len - off) != NULL, "%s: unterminated name", what);
}

static volatile uint64_t fz_sink; /* keeps the reads below */

#define FZ_STATE_MAX (64u << 20)

/* len bytes that end where a kept buffer ends. */
static unsigned char *fz_state_buf(uint64_t len) {
  static unsigned char *buf;
  static uint64_t cap;
  if (len > cap) {
    free(buf);
    cap = len < (8u << 20) ? (8u << 20) : len;
    buf = malloc(cap);
    FZ_ASSERT(buf != NULL, "out of memory");
  }
  return buf + (cap - len);
}

/* What a sound view promises to restore and to the tools. */
static void fz_check_view(const perm_image_view_t *v) {
  const perm_image_header_t *h = &v->img.hdr;
  uint64_t page = h->page_size;
  FZ_ASSERT(page >= 4096 && (page & (page - 1)) == 0, "page size %llu",
            (unsigned long long)page);
  FZ_ASSERT(h->region_top <= h->region_capacity, "top beyond capacity");
  FZ_ASSERT(v->objects != NULL && v->globals != NULL && v->runs != NULL &&
                v->extents != NULL,
            "a sound view lacks a table");
  for (uint32_t i = 0; i < v->nobjects; i++) {
    const perm_image_object_t *o = &v->objects[i];
    FZ_ASSERT((const char *)(o + 1) <=
                  (const char *)v->objects_block + v->objects_len,
              "object %u beyond its block", i);
    fz_check_name(v->objects_block, v->objects_len, o->name_offset, "object");
    FZ_ASSERT(o->build_id_len <= sizeof o->build_id, "build-id of %u bytes",
              o->build_id_len);
    fz_sink += o->build_id_len ? o->build_id[o->build_id_len - 1] : 0;
  }
  for (uint32_t i = 0; i < v->nglobals; i++) {
    const perm_image_global_t *g = &v->globals[i];
    FZ_ASSERT((const char *)(g + 1) <=
                  (const char *)v->registry_block + v->registry_len,
              "global %u beyond its block", i);
    fz_check_name(v->registry_block, v->registry_len, g->name_offset,
                  "global");
    FZ_ASSERT(g->data_offset <= v->registry_len &&
                  g->size <= v->registry_len - g->data_offset,
              "global %u's bytes outside the block", i);
    if (g->size)
      fz_sink += XXH3_64bits((const char *)v->registry_block + g->data_offset,
                             g->size);
  }
  uint64_t lo = h->region_base, top = h->region_base + h->region_top;
  for (uint32_t i = 0; i < v->nruns; i++) {
    const perm_image_run_t *r = &v->runs[i];
    FZ_ASSERT(r->length > 0 && r->addr % page == 0 && r->length % page == 0,
              "run %u empty or unaligned", i);
    FZ_ASSERT(r->addr >= lo && r->addr <= top && r->length <= top - r->addr,
              "run %u outside [base, top)", i);
    lo = r->addr + r->length;
  }
  uint64_t end = h->region_base + h->region_capacity;
  uint64_t present = 0, prev_end = h->region_base;
  for (uint32_t i = 0; i < v->nextents; i++) {
    const perm_image_extent_t *e = &v->extents[i];
    FZ_ASSERT(e->length > 0 && e->addr % page == 0 && e->length % page == 0,
              "extent %u empty or unaligned", i);
    FZ_ASSERT(e->addr >= prev_end && e->addr <= end &&
                  e->length <= end - e->addr,
              "extent %u out of order or outside the region", i);
    prev_end = e->addr + e->length;
    if (e->flags & PERM_EXTENT_ZERO) {
      FZ_ASSERT(h->flags & PERM_IMAGE_F_DELTA, "a zero extent in a full image");
      continue;
    }
    FZ_ASSERT(e->addr + e->length <= h->region_base + h->region_top,
              "present extent %u above the top", i);
    FZ_ASSERT(e->file_offset >= h->data_offset &&
                  e->file_offset <= v->img.file_size &&
                  e->length <= v->img.file_size - e->file_offset,
              "extent %u's bytes outside the file", i);
    if (h->format_version >= 2) {
      FZ_ASSERT(e->file_offset % PERM_IMAGE_ALIGN == 0,
                "extent %u's bytes unaligned in the file", i);
      FZ_ASSERT(e->length <= h->data_offset + h->data_bytes - e->file_offset,
                "extent %u's bytes outside the region data", i);
    }
    present += e->length;
  }
  FZ_ASSERT(h->format_version == 1 || present == h->data_bytes,
            "extents hold %llu bytes, the header says %llu",
            (unsigned long long)present, (unsigned long long)h->data_bytes);
  for (uint32_t s = 0; s < PERM_STATE_COUNT; s++) {
    FZ_ASSERT(v->have_state[s], "a sound view lacks state section %u", s + 1);
    const perm_image_state_view_t *sv = &v->state[s];
    uint64_t blen = 0;
    const unsigned char *block = NULL;
    for (uint32_t i = 0; i < h->nblocks; i++)
      if (h->blocks[i].type == PERM_BLOCK_STATE &&
          h->blocks[i].flags == s + 1) {
        block = v->blocks[i];
        blen = h->blocks[i].length;
        break;
      }
    FZ_ASSERT(block != NULL, "state %u has no block contents", s + 1);
    uint64_t at = 0, bytes = 0;
    for (uint32_t i = 0; i < sv->npieces; i++) {
      const perm_image_piece_t *pc = &sv->pieces[i];
      FZ_ASSERT(pc->offset >= at && pc->offset <= sv->length &&
                    pc->length <= sv->length - pc->offset,
                "state %u piece %u outside its section", s + 1, i);
      at = pc->offset + pc->length;
      bytes += pc->length;
    }
    FZ_ASSERT(sv->bytes >= block && sv->bytes <= block + blen &&
                  bytes <= (uint64_t)(block + blen - sv->bytes),
              "state %u pieces' bytes outside the block", s + 1);
    FZ_ASSERT(sv->addr != 0 && sv->addr + sv->length >= sv->addr,
              "state %u at an impossible address", s + 1);
    /*
    ** Restore copies only into a section of this build's size.  The copy
    ** ends where the buffer does, so a byte too many hits ASan's redzone;
    ** the buffer is kept from one input to the next (no page faults).
    */
    if (sv->length <= FZ_STATE_MAX) {
      unsigned char *dst = fz_state_buf(sv->length);
      perm__image_state_copy(sv, dst);
      if (sv->length)
        fz_sink += dst[sv->length - 1];
    }
  }
  if (h->format_version >= 2 &&
      strcmp(h->runtime_version, PERM_RUNTIME_VERSION) == 0) {
    FZ_ASSERT(v->saved != NULL, "a sound view of this runtime lacks its state");
    const perm_region_t *r = &v->saved->region;
    FZ_ASSERT(r->base == h->region_base && r->capacity == h->region_capacity &&
                  r->top == h->region_top,
              "the saved region is not the header's");
    FZ_ASSERT(r->nfree <= r->free_cap, "nfree %u", r->nfree);
    /* A list in a run of the region is region data, checked by the chain. */
    const perm_region_run_t *f = r->free_inline;
    for (uint32_t i = 0; r->free_run_len == 0 && i < r->nfree; i++)
      FZ_ASSERT(f[i].off <= r->top && f[i].len <= r->top - f[i].off,
                "free run %u beyond the top", i);
  }
}

/* What a sound chain promises restore: a map it can mmap as it is. */
static void fz_check_chain(const perm_chain_t *c) {
  FZ_ASSERT(c->n >= 1, "an empty chain");
  const perm_image_view_t *head = &c->views[0];
  const perm_image_header_t *h = &head->img.hdr;
  for (uint32_t i = 0; i < c->n; i++) {
    fz_check_view(&c->views[i]);
    int delta = (c->views[i].img.hdr.flags & PERM_IMAGE_F_DELTA) != 0;
    FZ_ASSERT(delta == (i + 1 < c->n), "member %u: delta %d in a chain of %u",
              i, delta, c->n);
    FZ_ASSERT(c->views[i].img.hdr.region_base == h->region_base &&
                  c->views[i].img.hdr.region_capacity == h->region_capacity,
              "member %u has another region", i);
  }
  uint64_t page = h->page_size, prev = 0, bytes = 0;
  uint32_t r = 0;
  for (size_t i = 0; i < c->nmap; i++) {
    const perm_chain_piece_t *p = &c->map[i];
    FZ_ASSERT(p->image < c->n, "piece %zu names image %u of %u", i, p->image,
              c->n);
    const perm_image_t *img = &c->views[p->image].img;
    /* mmap needs the file offset aligned to the machine's page. */
    FZ_ASSERT(p->length > 0 && p->addr % page == 0 && p->length % page == 0 &&
                  p->file_offset % PERM_IMAGE_ALIGN == 0,
              "piece %zu empty or unaligned", i);
    FZ_ASSERT(p->addr >= prev, "piece %zu out of order", i);
    prev = p->addr + p->length;
    FZ_ASSERT(p->file_offset <= img->file_size &&
                  p->length <= img->file_size - p->file_offset,
              "piece %zu outside its file", i);
    while (r < head->nruns &&
           head->runs[r].addr + head->runs[r].length <= p->addr)
      r++;
    FZ_ASSERT(r < head->nruns && p->addr >= head->runs[r].addr &&
                  p->addr + p->length <=
                      head->runs[r].addr + head->runs[r].length,
              "piece %zu (0x%llx+%llu) outside every run", i,
              (unsigned long long)p->addr, (unsigned long long)p->length);
    bytes += p->length;
  }
  FZ_ASSERT(bytes == c->map_bytes, "map_bytes %llu, pieces %llu",
            (unsigned long long)c->map_bytes, (unsigned long long)bytes);
}

/* Restore's reading: the first problem ends it; then PERM_VERIFY=full. */
static int fz_restore_view(const char *path) {
  perm_image_view_t v;
  int rc = perm__image_view_open(&v, path, 0, NULL);
  if (rc == 0)
    rc = perm__image_view_verify_data(&v);
  if (rc == 0)
    fz_check_view(&v);
  perm__image_view_close(&v);
  return rc;
}

static int fz_check_tool_view(const char *path) {
  perm_image_view_t v;
  fz_count_t count = {0};
  perm_image_hooks_t hooks = {.report = fz_report,
                              .report_arg = &count,
                              .progress = fz_progress};
  int rc = perm__image_view_open(&v, path, PERM_VALIDATE_ALL | PERM_VALIDATE_DATA,
                                 &hooks);
  /* The reader's own refusals (no header...) are returned, not counted. */
  FZ_ASSERT(rc != 0 || v.problems == 0, "perm check: rc 0 with %u problems",
            v.problems);
  FZ_ASSERT(count.reports <= v.problems, "%u reports for %u problems",
            count.reports, v.problems);
  if (rc == 0)
    fz_check_view(&v);
  perm__image_view_close(&v);
  return rc;
}

static int fz_chain(const char *path, unsigned flags) {
  perm_chain_t c;
  fz_count_t count = {0};
  perm_image_hooks_t hooks = {.report = fz_report,
                              .report_arg = &count,
                              .progress = fz_progress};
  int rc = perm__chain_open(&c, path, flags, flags ? &hooks : NULL);
  for (uint32_t i = 0; rc == 0 && !(flags & PERM_VALIDATE_DATA) && i < c.n; i++)
    rc = perm__image_view_verify_data(&c.views[i]);
  if (rc == 0)
    fz_check_chain(&c);
  perm__chain_close(&c);
  return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_input_t in;
  fz_split(data, size, &in);
  if (fz_write("img", &in.m[0]) != 0) {
    fz_cleanup();
    return 0;
  }
  char name[PERM_IMAGE_PARENT_NAME];
  for (unsigned k = 0; k + 1 < in.n; k++) {
    if (fz_parent_name(&in.m[k], name) == NULL ||
        fz_write(name, &in.m[k + 1]) != 0)
      break;
  }
  char path[sizeof fz_written[0]];
  snprintf(path, sizeof path, "%s/img", fz_dir);

  /* Image by image: restore's verdict is perm check's. */
  int restore_rc = fz_restore_view(path);
  int check_rc = fz_check_tool_view(path);
  FZ_ASSERT((restore_rc == 0) == (check_rc == 0),
            "restore says %d, perm check says %d about one image", restore_rc,
            check_rc);
  /* The chain, both ways. */
  int chain_restore = fz_chain(path, 0);
  int chain_check = fz_chain(path, PERM_VALIDATE_ALL | PERM_VALIDATE_DATA);
  FZ_ASSERT((chain_restore == 0) == (chain_check == 0),
            "restore says %d, perm check says %d about the chain",
            chain_restore, chain_check);
  FZ_ASSERT(chain_restore != 0 || restore_rc == 0,
            "a sound chain whose newest image is not sound");
  fz_cleanup();
  return 0;
}

/*------------------------------------------------------------ mutator ---*/

typedef struct fz_rng_s {
  uint64_t s;
} fz_rng_t;

static uint64_t fz_next(fz_rng_t *r) {
  r->s += 0x9e3779b97f4a7c15ull;
  uint64_t z = r->s;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static uint64_t fz_below(fz_rng_t *r, uint64_t n) {
  return n ? fz_next(r) % n : 0;
}

/* A file being mutated: its own buffer, which may grow to cap. */
typedef struct fz_file_s {
  uint8_t *p;
  size_t n, cap;
} fz_file_t;

typedef struct fz_work_s {
  fz_file_t f[FZ_MAX_MEMBERS];
  unsigned n;
  int packed; /* written back with the PERMFUZZ framing */
  uint64_t pool[512];
  unsigned npool;
} fz_work_t;

static uint64_t fz_load(const uint8_t *p, unsigned width) {
  uint64_t v = 0;
  memcpy(&v, p, width);
  return v;
}

static void fz_store(uint8_t *p, unsigned width, uint64_t v) {
  memcpy(p, &v, width);
}

static void fz_pool_add(fz_work_t *w, uint64_t v) {
  if (w->npool < sizeof w->pool / sizeof w->pool[0])
    w->pool[w->npool++] = v;
}

/* A parsed member: where things are, each bound-checked. */
typedef struct fz_view_s {
  fz_file_t *f;
  int ok;       /* a header with the magic */
  unsigned ver; /* format version as written */
  perm_image_header_t h;
  uint32_t nblocks; /* min(nblocks, 64) */
} fz_view_t;

static int fz_parse(fz_file_t *f, fz_view_t *v) {
  memset(v, 0, sizeof *v);
  v->f = f;
  if (f->n < sizeof(perm_image_header_t) ||
      memcmp(f->p, PERM_IMAGE_MAGIC, 8) != 0)
    return 0;
  memcpy(&v->h, f->p, sizeof v->h);
  v->ok = 1;
  v->ver = v->h.format_version;
  v->nblocks =
      v->h.nblocks < PERM_IMAGE_MAX_BLOCKS ? v->h.nblocks : PERM_IMAGE_MAX_BLOCKS;
  return 1;
}

/* The bytes of block i, when they lie inside the file. */
static uint8_t *fz_block(const fz_view_t *v, uint32_t i, uint64_t *len) {
  const perm_image_block_t *b = &v->h.blocks[i];
  if (b->offset > v->f->n || b->length > v->f->n - b->offset)
    return NULL;
  *len = b->length;
  return v->f->p + b->offset;
}

static int fz_find(const fz_view_t *v, uint32_t type, uint32_t flags) {
  for (uint32_t i = 0; i < v->nblocks; i++)
    if (v->h.blocks[i].type == type &&
        (flags == 0 || v->h.blocks[i].flags == flags))
      return (int)i;
  return -1;
}

/* Entry size of a table block, 0 when it is not one. */
static uint32_t fz_entry_size(const fz_view_t *v, uint32_t type) {
  switch (type) {
  case PERM_BLOCK_OBJECTS:
    return sizeof(perm_image_object_t);
  case PERM_BLOCK_REGISTRY:
    return sizeof(perm_image_global_t);
  case PERM_BLOCK_RUNS:
    return sizeof(perm_image_run_t);
  case PERM_BLOCK_EXTENTS:
    return v->ver == 1 ? sizeof(perm_image_extent_v1_t)
                       : sizeof(perm_image_extent_t);
  }
  return 0;
}

/* Values seen in the images: other fields are the best wrong values. */
static void fz_collect(fz_work_t *w) {
  w->npool = 0;
  for (unsigned k = 0; k < w->n; k++) {
    fz_view_t v;
    if (!fz_parse(&w->f[k], &v))
      continue;
    const perm_image_header_t *h = &v.h;
    uint64_t hv[] = {h->generation,     h->region_base,
                     h->region_capacity, h->region_top,
                     h->data_offset,    h->data_bytes,
                     h->file_size,      h->heap_id,
                     h->parent_generation, h->parent_checksum,
                     h->chain_length,   h->region_base + h->region_capacity,
                     h->region_base + h->region_top,
                     h->data_offset + h->data_bytes, w->f[k].n};
    for (size_t i = 0; i < sizeof hv / sizeof hv[0]; i++)
      fz_pool_add(w, hv[i]);
    for (uint32_t i = 0; i < v.nblocks; i++) {
      const perm_image_block_t *b = &h->blocks[i];
      fz_pool_add(w, b->offset);
      fz_pool_add(w, b->length);
      fz_pool_add(w, b->offset + b->length);
      if (b->addr)
        fz_pool_add(w, b->addr);
      uint64_t len;
      uint8_t *p = fz_block(&v, i, &len);
      uint32_t es = fz_entry_size(&v, b->type);
      if (p == NULL || es == 0 || len < sizeof(perm_image_table_t))
        continue;
      uint32_t count = fz_get32(p);
      uint64_t fit = (len - sizeof(perm_image_table_t)) / es;
      for (uint64_t e = 0; e < count && e < fit && e < 24; e++) {
        const uint8_t *q = p + sizeof(perm_image_table_t) + e * es;
        uint64_t a = fz_load(q, 8), l = fz_load(q + 8, 8);
        fz_pool_add(w, a);
        fz_pool_add(w, l);
        fz_pool_add(w, a + l);
        if (b->type == PERM_BLOCK_EXTENTS && v.ver >= 2) {
          uint64_t off = fz_load(q + 16, 8);
          fz_pool_add(w, off);
          fz_pool_add(w, off + l);
        }
      }
    }
  }
}

static uint64_t fz_value(fz_rng_t *r, const fz_work_t *w, uint64_t cur,
                         unsigned width) {
  static const uint64_t edge[] = {0,
                                  1,
                                  2,
                                  7,
                                  8,
                                  16,
                                  40,
                                  41,
                                  255,
                                  4095,
                                  4096,
                                  4097,
                                  8192,
                                  65536,
                                  2u << 20,
                                  16u << 20,
                                  (16u << 20) + 4096,
                                  1u << 30,
                                  (1ull << 30) + 4096,
                                  0x7fffffffull,
                                  0x80000000ull,
                                  0xffffffffull,
                                  0x100000000ull,
                                  1ull << 47,
                                  1ull << 57,
                                  (1ull << 57) - 4096,
                                  0x7e0000000000ull,
                                  INT64_MAX,
                                  UINT64_MAX - 4095,
                                  UINT64_MAX};
  static const int64_t delta[] = {-8192, -4096, -1, 0, 1, 4096, 8192};
  uint64_t v;
  switch (fz_below(r, 9)) {
  case 0:
    v = cur + (uint64_t)((int64_t)fz_below(r, 33) - 16);
    break;
  case 1:
    v = cur + (uint64_t)(((int64_t)fz_below(r, 9) - 4) * 4096);
    break;
  case 2:
  case 3:
    v = w->npool ? w->pool[fz_below(r, w->npool)] : cur;
    v += (uint64_t)delta[fz_below(r, sizeof delta / sizeof delta[0])];
    break;
  case 4:
    v = w->npool ? w->pool[fz_below(r, w->npool)] : cur;
    break;
  case 5:
    v = edge[fz_below(r, sizeof edge / sizeof edge[0])];
    break;
  case 6:
    v = cur ^ (1ull << fz_below(r, width * 8));
    break;
  case 7:
    v = fz_below(r, 2) ? cur * 2 : cur / 2;
    break;
  default:
    v = fz_next(r);
    break;
  }
  return width == 8 ? v : v & ((1ull << (width * 8)) - 1);
}

static void fz_poke(fz_rng_t *r, const fz_work_t *w, uint8_t *p,
                    unsigned width) {
  fz_store(p, width, fz_value(r, w, fz_load(p, width), width));
}

/* A field of the header. */
static int fz_mut_header(fz_rng_t *r, fz_work_t *w, fz_view_t *v) {
  static const struct {
    uint16_t off, width;
  } fields[] = {
#define F(name)                                                                \
  {offsetof(perm_image_header_t, name),                                        \
   sizeof(((perm_image_header_t *)0)->name)}
      F(format_version),   F(header_size),    F(page_size),
      F(flags),            F(generation),     F(region_base),
      F(region_capacity),  F(region_top),     F(data_offset),
      F(data_bytes),       F(file_size),      F(nblocks),
      F(heap_id),          F(parent_generation), F(parent_checksum),
      F(chain_length),     F(bytes_dirtied),  F(heap_allocated),
#undef F
  };
  uint8_t *p = v->f->p;
  unsigned pick = (unsigned)fz_below(r, sizeof fields / sizeof fields[0] + 3);
  if (pick < sizeof fields / sizeof fields[0]) {
    fz_poke(r, w, p + fields[pick].off, fields[pick].width);
    return 1;
  }
  /* A string: the versions or the parent's name. */
  size_t off, len;
  if (pick == sizeof fields / sizeof fields[0]) {
    off = offsetof(perm_image_header_t, runtime_version);
    len = sizeof v->h.runtime_version;
  } else if (pick == sizeof fields / sizeof fields[0] + 1) {
    off = offsetof(perm_image_header_t, jemalloc_version);
    len = sizeof v->h.jemalloc_version;
  } else {
    off = offsetof(perm_image_header_t, parent_name);
    len = sizeof v->h.parent_name;
  }
  if (fz_below(r, 4) == 0) {
    /* Unterminated, or emptied. */
    if (fz_below(r, 2))
      memset(p + off, 'A', len);
    else
      p[off] = '\0';
    return 1;
  }
  size_t at = fz_below(r, len);
  size_t n = LLVMFuzzerMutate(p + off + at, 1 + fz_below(r, len - at),
                              len - at);
  (void)n;
  return 1;
}

/* A field of the block table, or the table's shape. */
static int fz_mut_blocks(fz_rng_t *r, fz_work_t *w, fz_view_t *v) {
  uint8_t *base = v->f->p + offsetof(perm_image_header_t, blocks);
  uint32_t nb = v->nblocks ? v->nblocks : 1;
  uint32_t i = (uint32_t)fz_below(r, nb + (nb < PERM_IMAGE_MAX_BLOCKS));
  uint8_t *b = base + (size_t)i * sizeof(perm_image_block_t);
  switch (fz_below(r, 8)) {
  case 0:
    fz_store(b + offsetof(perm_image_block_t, type), 4,
             fz_below(r, 4) ? 1 + fz_below(r, 5) : fz_next(r));
    return 1;
  case 1:
    fz_store(b + offsetof(perm_image_block_t, flags), 4,
             fz_below(r, 4) ? fz_below(r, 5) : fz_next(r));
    return 1;
  case 2:
    fz_poke(r, w, b + offsetof(perm_image_block_t, offset), 8);
    return 1;
  case 3:
    fz_poke(r, w, b + offsetof(perm_image_block_t, length), 8);
    return 1;
  case 4:
    fz_poke(r, w, b + offsetof(perm_image_block_t, addr), 8);
    return 1;
  case 5: { /* swap or copy two entries */
    uint32_t k = (uint32_t)fz_below(r, nb);
    uint8_t *c = base + (size_t)k * sizeof(perm_image_block_t);
    perm_image_block_t t;
    memcpy(&t, b, sizeof t);
    if (fz_below(r, 2))
      memcpy(b, c, sizeof t);
    memcpy(c, &t, sizeof t);
    return 1;
  }
  case 6: /* one block more or fewer */
    fz_store(v->f->p + offsetof(perm_image_header_t, nblocks), 4,
             fz_below(r, 2) ? v->h.nblocks + 1 : v->h.nblocks - 1);
    return 1;
  default: /* drop entry i, moving the others down */
    if (i < v->nblocks) {
      memmove(b, b + sizeof(perm_image_block_t),
              (size_t)(v->nblocks - i - 1) * sizeof(perm_image_block_t));
      fz_store(v->f->p + offsetof(perm_image_header_t, nblocks), 4,
               v->h.nblocks - 1);
    }
    return 1;
  }
}

/* Fields of an entry of each table, as (offset, width) pairs. */
typedef struct fz_field_s {
  uint16_t off, width;
} fz_field_t;

static const fz_field_t fz_object_fields[] = {
    {offsetof(perm_image_object_t, load_addr), 8},
    {offsetof(perm_image_object_t, name_offset), 8},
    {offsetof(perm_image_object_t, flags), 4},
    {offsetof(perm_image_object_t, build_id_len), 4},
    {offsetof(perm_image_object_t, build_id), 8}};
static const fz_field_t fz_global_fields[] = {
    {offsetof(perm_image_global_t, name_offset), 8},
    {offsetof(perm_image_global_t, addr), 8},
    {offsetof(perm_image_global_t, size), 8},
    {offsetof(perm_image_global_t, align), 8},
    {offsetof(perm_image_global_t, type_hash), 8},
    {offsetof(perm_image_global_t, data_offset), 8},
    {offsetof(perm_image_global_t, flags), 4}};
static const fz_field_t fz_run_fields[] = {
    {offsetof(perm_image_run_t, addr), 8},
    {offsetof(perm_image_run_t, length), 8}};
static const fz_field_t fz_extent_fields[] = {
    {offsetof(perm_image_extent_t, addr), 8},
    {offsetof(perm_image_extent_t, length), 8},
    {offsetof(perm_image_extent_t, file_offset), 8},
    {offsetof(perm_image_extent_t, checksum), 8},
    {offsetof(perm_image_extent_t, flags), 4},
    {offsetof(perm_image_extent_t, reserved0), 4}};
static const fz_field_t fz_extent_v1_fields[] = {
    {offsetof(perm_image_extent_v1_t, addr), 8},
    {offsetof(perm_image_extent_v1_t, length), 8},
    {offsetof(perm_image_extent_v1_t, checksum), 8}};

/* A table block: its count, an entry's field, or its entries' order. */
static int fz_mut_table(fz_rng_t *r, fz_work_t *w, fz_view_t *v) {
  static const uint32_t types[] = {PERM_BLOCK_OBJECTS, PERM_BLOCK_REGISTRY,
                                   PERM_BLOCK_RUNS, PERM_BLOCK_EXTENTS};
  uint32_t type = types[fz_below(r, 4)];
  int bi = fz_find(v, type, 0);
  uint64_t len;
  uint8_t *p = bi < 0 ? NULL : fz_block(v, (uint32_t)bi, &len);
  if (p == NULL || len < sizeof(perm_image_table_t))
    return 0;
  uint32_t es = fz_entry_size(v, type);
  uint32_t count = fz_get32(p);
  uint64_t fit = (len - sizeof(perm_image_table_t)) / es;
  uint64_t n = count < fit ? count : fit;
  uint8_t *e0 = p + sizeof(perm_image_table_t);
  unsigned op = (unsigned)fz_below(r, 16);
  if (op == 0) {
    fz_poke(r, w, p, 4); /* count */
    return 1;
  }
  if (op == 1) {
    fz_store(p + 4, 4, fz_below(r, 2) ? es + 8 : fz_next(r)); /* entry_size */
    return 1;
  }
  if (n == 0)
    return 0;
  uint64_t i = fz_below(r, n), k = fz_below(r, n);
  uint8_t *e = e0 + i * es, *f = e0 + k * es;
  if (op == 2) { /* drop entry i */
    memmove(e, e + es, (size_t)((n - i - 1) * es));
    fz_store(p, 4, count - 1);
    return 1;
  }
  if (op == 3) { /* copy entry k over entry i */
    memmove(e, f, es);
    return 1;
  }
  if (op == 4) { /* swap two entries */
    uint8_t t[64];
    memcpy(t, e, es);
    memcpy(e, f, es);
    memcpy(f, t, es);
    return 1;
  }
  if (op == 5 && (type == PERM_BLOCK_OBJECTS || type == PERM_BLOCK_REGISTRY)) {
    /* The names and bytes after the entries. */
    uint64_t head = sizeof(perm_image_table_t) + n * es;
    if (head >= len)
      return 0;
    uint64_t at = head + fz_below(r, len - head);
    uint64_t span = len - at < 32 ? len - at : 32;
    LLVMFuzzerMutate(p + at, 1 + fz_below(r, span), span);
    return 1;
  }
  const fz_field_t *fields;
  size_t nf;
  switch (type) {
  case PERM_BLOCK_OBJECTS:
    fields = fz_object_fields, nf = sizeof fz_object_fields / sizeof *fields;
    break;
  case PERM_BLOCK_REGISTRY:
    fields = fz_global_fields, nf = sizeof fz_global_fields / sizeof *fields;
    break;
  case PERM_BLOCK_RUNS:
    fields = fz_run_fields, nf = sizeof fz_run_fields / sizeof *fields;
    break;
  default:
    if (v->ver == 1)
      fields = fz_extent_v1_fields,
      nf = sizeof fz_extent_v1_fields / sizeof *fields;
    else
      fields = fz_extent_fields, nf = sizeof fz_extent_fields / sizeof *fields;
    break;
  }
  const fz_field_t *fd = &fields[fz_below(r, nf)];
  if (type == PERM_BLOCK_EXTENTS && v->ver >= 2 &&
      fd->off == offsetof(perm_image_extent_t, flags) && fz_below(r, 2)) {
    /* A zero extent: its offset and checksum go to 0 too, or not. */
    fz_store(e + fd->off, 4, PERM_EXTENT_ZERO);
    if (fz_below(r, 4)) {
      fz_store(e + offsetof(perm_image_extent_t, file_offset), 8, 0);
      fz_store(e + offsetof(perm_image_extent_t, checksum), 8, 0);
    }
    return 1;
  }
  fz_poke(r, w, e + fd->off, fd->width);
  return 1;
}

/* A state block's header or pieces. */
static int fz_mut_state(fz_rng_t *r, fz_work_t *w, fz_view_t *v) {
  int bi = fz_find(v, PERM_BLOCK_STATE, 1 + (uint32_t)fz_below(r, 3));
  uint64_t len;
  uint8_t *p = bi < 0 ? NULL : fz_block(v, (uint32_t)bi, &len);
  if (p == NULL || v->ver < 2 || len < sizeof(perm_image_state_t))
    return 0;
  uint32_t count = fz_get32(p + offsetof(perm_image_state_t, count));
  uint64_t fit = (len - sizeof(perm_image_state_t)) / sizeof(perm_image_piece_t);
  uint64_t n = count < fit ? count : fit;
  switch (fz_below(r, 5)) {
  case 0:
    fz_poke(r, w, p + offsetof(perm_image_state_t, section_length), 8);
    return 1;
  case 1:
    fz_poke(r, w, p + offsetof(perm_image_state_t, count), 4);
    return 1;
  case 2:
    fz_poke(r, w, p + offsetof(perm_image_state_t, piece_size), 4);
    return 1;
  default:
    if (n == 0)
      return 0;
    uint8_t *pc = p + sizeof(perm_image_state_t) +
                  fz_below(r, n) * sizeof(perm_image_piece_t);
    fz_poke(r, w, pc + (fz_below(r, 2) ? 0 : 8), 8);
    return 1;
  }
}

/*
** Where the bytes [off, off+width) (width <= 8) of the runtime's saved
** state (perm_saved_t) are in the runtime state block: where[b] for each
** byte a piece holds, NULL for the others.  Returns whether any is held.
*/
static int fz_saved_where(const fz_view_t *v, uint64_t off, unsigned width,
                          uint8_t *where[8]) {
  memset(where, 0, 8 * sizeof where[0]);
  int bi = fz_find(v, PERM_BLOCK_STATE, PERM_STATE_RUNTIME);
  uint64_t len;
  uint8_t *p = bi < 0 ? NULL : fz_block(v, (uint32_t)bi, &len);
  if (p == NULL || v->ver < 2 || len < sizeof(perm_image_state_t))
    return 0;
  uint32_t count = fz_get32(p + offsetof(perm_image_state_t, count));
  uint64_t fit = (len - sizeof(perm_image_state_t)) / sizeof(perm_image_piece_t);
  if (count > fit)
    return 0;
  const uint8_t *pcs = p + sizeof(perm_image_state_t);
  uint64_t src = sizeof(perm_image_state_t) +
                 (uint64_t)count * sizeof(perm_image_piece_t);
  int any = 0;
  for (uint32_t i = 0; i < count; i++) {
    uint64_t po = fz_load(pcs + i * sizeof(perm_image_piece_t), 8);
    uint64_t pl = fz_load(pcs + i * sizeof(perm_image_piece_t) + 8, 8);
    for (unsigned b = 0; b < width; b++)
      if (off + b >= po && off + b - po < pl && src + (off + b - po) < len) {
        where[b] = p + src + (off + b - po);
        any = 1;
      }
    if (pl > len)
      break;
    src += pl;
  }
  return any;
}

static uint64_t fz_saved_get(uint8_t *const where[8], unsigned width) {
  uint8_t cur[8] = {0};
  for (unsigned b = 0; b < width; b++)
    if (where[b] != NULL)
      cur[b] = *where[b];
  return fz_load(cur, width);
}

static void fz_saved_set(uint8_t *const where[8], unsigned width,
                         uint64_t val) {
  uint8_t cur[8];
  fz_store(cur, width, val);
  for (unsigned b = 0; b < width; b++)
    if (where[b] != NULL)
      *where[b] = cur[b];
}

/* A field of the runtime's saved state, inside the state block's pieces. */
static int fz_mut_saved(fz_rng_t *r, fz_work_t *w, fz_view_t *v) {
  static const fz_field_t fields[] = {
      {offsetof(perm_saved_t, magic), 8},
      {offsetof(perm_saved_t, generation), 8},
      {offsetof(perm_saved_t, rtree_lock), 8},
      {offsetof(perm_saved_t, heap_id), 8},
      {offsetof(perm_saved_t, region.base), 8},
      {offsetof(perm_saved_t, region.capacity), 8},
      {offsetof(perm_saved_t, region.top), 8},
      {offsetof(perm_saved_t, region.nfree), 4},
      {offsetof(perm_saved_t, region.file_backed), 4}};
  uint64_t off;
  unsigned width;
  unsigned pick = (unsigned)fz_below(r, sizeof fields / sizeof fields[0] + 2);
  if (pick < sizeof fields / sizeof fields[0]) {
    off = fields[pick].off;
    width = fields[pick].width;
  } else {
    /* A free run: off or len of one of the first entries. */
    off = offsetof(perm_saved_t, region.free_inline) +
          fz_below(r, 8) * sizeof(perm_region_run_t) + (pick & 1 ? 8 : 0);
    width = 8;
  }
  uint8_t *where[8];
  if (!fz_saved_where(v, off, width, where))
    return 0;
  fz_saved_set(where, width,
               fz_value(r, w, fz_saved_get(where, width), width));
  return 1;
}

/*
** A hole in a run: the run is split in two around a few pages that no
** present extent uses, the runs block grows by an entry (into the padding
** before the next page), and the saved free list gets the hole, sorted --
** a sound image of a region with several runs, which the seeds (one run)
** do not have.
*/
static int fz_mut_split_run(fz_rng_t *r, fz_view_t *v) {
  const perm_image_header_t *h = &v->h;
  uint64_t page = h->page_size;
  int bi = fz_find(v, PERM_BLOCK_RUNS, 0);
  uint64_t len;
  uint8_t *p = bi < 0 ? NULL : fz_block(v, (uint32_t)bi, &len);
  if (p == NULL || v->ver < 2 || page < 4096 || (page & (page - 1)) ||
      len < sizeof(perm_image_table_t))
    return 0;
  perm_image_block_t *b =
      (perm_image_block_t *)(v->f->p + offsetof(perm_image_header_t, blocks)) +
      bi;
  uint64_t end = b->offset + len, room = (end + 4095) / 4096 * 4096;
  uint32_t count = fz_get32(p);
  if (count == 0 || len != sizeof(perm_image_table_t) +
                                (uint64_t)count * sizeof(perm_image_run_t) ||
      end + sizeof(perm_image_run_t) > room || room > v->f->n)
    return 0;
  /* Bytes, not perm_image_run_t *: a mutated block offset need not be
     aligned for the struct. */
  uint8_t *runs = p + sizeof(perm_image_table_t);
  const size_t rs = sizeof(perm_image_run_t);
  uint32_t i = (uint32_t)fz_below(r, count);
  perm_image_run_t run;
  memcpy(&run, runs + (size_t)i * rs, sizeof run);
  if (run.length < 3 * page || run.addr % page || run.length % page)
    return 0;
  /* A hole of 1-16 pages strictly inside, clear of present extents. */
  uint64_t pages = run.length / page;
  uint64_t hl = (1 + fz_below(r, pages - 2 < 16 ? pages - 2 : 16)) * page;
  uint64_t ho = run.addr + (1 + fz_below(r, pages - 1 - hl / page)) * page;
  int ei = fz_find(v, PERM_BLOCK_EXTENTS, 0);
  uint64_t xlen;
  uint8_t *x = ei < 0 ? NULL : fz_block(v, (uint32_t)ei, &xlen);
  if (x != NULL && xlen >= sizeof(perm_image_table_t)) {
    uint64_t fit = (xlen - sizeof(perm_image_table_t)) / sizeof(perm_image_extent_t);
    uint32_t xn = fz_get32(x);
    for (uint64_t k = 0; k < xn && k < fit; k++) {
      perm_image_extent_t e;
      memcpy(&e, x + sizeof(perm_image_table_t) + k * sizeof e, sizeof e);
      if (!(e.flags & PERM_EXTENT_ZERO) && e.addr < ho + hl &&
          ho < e.addr + e.length && fz_below(r, 16))
        return 0; /* now and then an extent in the hole: a bad image */
    }
  }
  /* The saved free list: nfree and the entries, in the first piece. */
  uint8_t *wn[8];
  unsigned fw = sizeof(((perm_region_t *)0)->nfree);
  if (!fz_saved_where(v, offsetof(perm_saved_t, region.nfree), fw, wn))
    return 0;
  uint64_t nfree = fz_saved_get(wn, fw);
  if (nfree >= 64 || nfree >= PERM_REGION_INLINE_FREE)
    return 0; /* (a list that outgrew the state is region data) */
  uint64_t hoff = ho - h->region_base;
  /* Every entry's bytes first: nothing is written unless all are held. */
  uint8_t *wo[65][8], *wl[65][8];
  for (uint64_t k = 0; k <= nfree; k++) {
    uint64_t fo = offsetof(perm_saved_t, region.free_inline) + k * sizeof(perm_region_run_t);
    if (!fz_saved_where(v, fo, 8, wo[k]) || !fz_saved_where(v, fo + 8, 8, wl[k]))
      return 0;
  }
  perm_region_run_t list[65];
  uint64_t at = 0;
  for (uint64_t k = 0; k < nfree; k++) {
    perm_region_run_t f = {fz_saved_get(wo[k], 8), fz_saved_get(wl[k], 8)};
    if (at == k && f.off > hoff)
      list[at++] = (perm_region_run_t){hoff, hl};
    list[at++] = f;
  }
  if (at == nfree)
    list[at++] = (perm_region_run_t){hoff, hl};
  for (uint64_t k = 0; k < at; k++) {
    fz_saved_set(wo[k], 8, list[k].off);
    fz_saved_set(wl[k], 8, list[k].len);
  }
  fz_saved_set(wn, fw, nfree + 1);
  /* The runs: i becomes [addr, ho) and [ho + hl, end). */
  memmove(runs + (size_t)(i + 2) * rs, runs + (size_t)(i + 1) * rs,
          (count - i - 1) * sizeof run);
  perm_image_run_t lo = {run.addr, ho - run.addr};
  perm_image_run_t hi = {ho + hl, run.addr + run.length - (ho + hl)};
  memcpy(runs + (size_t)i * rs, &lo, sizeof lo);
  memcpy(runs + (size_t)(i + 1) * rs, &hi, sizeof hi);
  fz_store(p, 4, count + 1);
  b->length = len + sizeof run;
  return 1;
}

/* A few bytes anywhere in a block, or in the file. */
static int fz_mut_bytes(fz_rng_t *r, fz_view_t *v, int in_block) {
  fz_file_t *f = v->f;
  uint8_t *p = f->p;
  uint64_t len = f->n;
  if (in_block && v->nblocks > 0) {
    p = fz_block(v, (uint32_t)fz_below(r, v->nblocks), &len);
    if (p == NULL)
      return 0;
  }
  if (len == 0)
    return 0;
  uint64_t at = fz_below(r, len);
  uint64_t span = len - at < 64 ? len - at : 64;
  LLVMFuzzerMutate(p + at, 1 + fz_below(r, span), span);
  return 1;
}

/* A longer or shorter file. */
static int fz_mut_size(fz_rng_t *r, fz_file_t *f) {
  size_t n = f->n;
  switch (fz_below(r, 4)) {
  case 0:
    n = n > FZ_PAGE ? n - FZ_PAGE : 0;
    break;
  case 1:
    n = n + FZ_PAGE;
    break;
  case 2:
    n = fz_below(r, n + 1);
    break;
  default:
    n = n + 1 + fz_below(r, 64);
    break;
  }
  if (n > f->cap)
    return 0;
  if (n > f->n)
    memset(f->p + f->n, 0, n - f->n);
  f->n = n;
  return 1;
}

/*
** Seals member k again: present extents' checksums, blocks' checksums,
** file size, header checksum.  Each step is skipped now and then.
*/
static void fz_reseal(fz_rng_t *r, fz_file_t *f) {
  fz_view_t v;
  if (!fz_parse(f, &v))
    return;
  perm_image_header_t *h = &v.h;
  int v1 = v.ver == 1;
  int ei = fz_find(&v, PERM_BLOCK_EXTENTS, 0);
  uint64_t len;
  uint8_t *x = ei < 0 ? NULL : fz_block(&v, (uint32_t)ei, &len);
  if (x != NULL && len >= sizeof(perm_image_table_t) && fz_below(r, 32)) {
    uint32_t es = fz_entry_size(&v, PERM_BLOCK_EXTENTS);
    uint64_t fit = (len - sizeof(perm_image_table_t)) / es;
    uint32_t count = fz_get32(x);
    for (uint64_t i = 0; i < count && i < fit; i++) {
      uint8_t *e = x + sizeof(perm_image_table_t) + i * es;
      uint64_t addr = fz_load(e, 8), elen = fz_load(e + 8, 8), off;
      unsigned sum_at;
      if (v1) {
        off = h->data_offset + (addr - h->region_base);
        sum_at = offsetof(perm_image_extent_v1_t, checksum);
      } else {
        if (fz_load(e + offsetof(perm_image_extent_t, flags), 4) &
            PERM_EXTENT_ZERO)
          continue;
        off = fz_load(e + offsetof(perm_image_extent_t, file_offset), 8);
        sum_at = offsetof(perm_image_extent_t, checksum);
      }
      if (off <= f->n && elen <= f->n - off)
        fz_store(e + sum_at, 8, XXH3_64bits(f->p + off, elen));
    }
  }
  for (uint32_t i = 0; i < v.nblocks; i++) {
    uint8_t *b = fz_block(&v, i, &len);
    if (b != NULL && fz_below(r, 64))
      h->blocks[i].checksum = XXH3_64bits(b, len);
  }
  if (fz_below(r, 32))
    h->file_size = f->n;
  if (v1) {
    memcpy(f->p, h, PERM_IMAGE_V1_CHECKSUM_OFFSET);
    uint64_t sum = XXH3_64bits(f->p, PERM_IMAGE_V1_CHECKSUM_OFFSET);
    if (fz_below(r, 64))
      memcpy(f->p + PERM_IMAGE_V1_CHECKSUM_OFFSET, &sum, 8);
  } else {
    if (fz_below(r, 64))
      h->header_checksum =
          XXH3_64bits(h, offsetof(perm_image_header_t, header_checksum));
    memcpy(f->p, h, sizeof *h);
  }
}

/* The checksum a delta's header gives its parent: the parent's. */
static void fz_link(fz_rng_t *r, fz_file_t *child, fz_file_t *parent) {
  fz_view_t c, p;
  if (!fz_parse(child, &c) || !fz_parse(parent, &p) || c.ver < 2 ||
      !(c.h.flags & PERM_IMAGE_F_DELTA) || fz_below(r, 32) == 0)
    return;
  uint64_t sum = p.ver == 1 ? fz_load(parent->p + PERM_IMAGE_V1_CHECKSUM_OFFSET, 8)
                            : p.h.header_checksum;
  fz_store(child->p + offsetof(perm_image_header_t, parent_checksum), 8, sum);
}

static void fz_free(fz_work_t *w) {
  for (unsigned k = 0; k < w->n; k++)
    free(w->f[k].p);
  w->n = 0;
}

static int fz_load_work(fz_work_t *w, const uint8_t *data, size_t size,
                        size_t max_size) {
  fz_input_t in;
  fz_split(data, size, &in);
  memset(w, 0, sizeof *w);
  w->packed = size >= 8 && memcmp(data, FZ_MAGIC, 8) == 0;
  for (unsigned k = 0; k < in.n; k++) {
    size_t cap = in.m[k].n + 2 * FZ_PAGE;
    if (cap > max_size + FZ_PAGE)
      cap = max_size + FZ_PAGE;
    if (cap < in.m[k].n)
      cap = in.m[k].n;
    w->f[k].p = malloc(cap ? cap : 1);
    if (w->f[k].p == NULL) {
      fz_free(w);
      return -1;
    }
    memcpy(w->f[k].p, in.m[k].p, in.m[k].n);
    w->f[k].n = in.m[k].n;
    w->f[k].cap = cap;
    w->n++;
  }
  return 0;
}

/* Back into libFuzzer's buffer; 0 when it does not fit. */
static size_t fz_store_work(const fz_work_t *w, uint8_t *out, size_t max) {
  if (!w->packed && w->n == 1) {
    if (w->f[0].n > max)
      return 0;
    memcpy(out, w->f[0].p, w->f[0].n);
    return w->f[0].n;
  }
  size_t need = 8;
  for (unsigned k = 0; k < w->n; k++)
    need += 4 + w->f[k].n;
  if (need > max)
    return 0;
  memcpy(out, FZ_MAGIC, 8);
  size_t at = 8;
  for (unsigned k = 0; k < w->n; k++) {
    uint32_t n = (uint32_t)w->f[k].n;
    memcpy(out + at, &n, 4);
    memcpy(out + at + 4, w->f[k].p, n);
    at += 4 + n;
  }
  return at;
}

static void fz_reseal_all(fz_rng_t *r, fz_work_t *w) {
  /* Parents first: a child's parent checksum needs the parent's new one. */
  for (unsigned k = w->n; k-- > 0;) {
    fz_reseal(r, &w->f[k]);
    if (k > 0) {
      fz_link(r, &w->f[k - 1], &w->f[k]);
    }
  }
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size,
                               unsigned int seed) {
  fz_rng_t r = {seed * 0x2545f4914f6cdd1dull + size};
  /* Now and then libFuzzer's own mutations, checksums and all. */
  if (fz_below(&r, 20) == 0)
    return LLVMFuzzerMutate(data, size, max_size);
  fz_work_t *w = malloc(sizeof *w);
  if (w == NULL || fz_load_work(w, data, size, max_size) != 0) {
    free(w);
    return LLVMFuzzerMutate(data, size, max_size);
  }
  fz_collect(w);
  unsigned rounds = 1 + (unsigned)fz_below(&r, 3);
  int changed = 0;
  for (unsigned round = 0; round < rounds; round++) {
    /* The newest image most often. */
    unsigned k = fz_below(&r, 2) ? 0 : (unsigned)fz_below(&r, w->n);
    fz_view_t v;
    if (!fz_parse(&w->f[k], &v)) {
      changed |= fz_mut_size(&r, &w->f[k]);
      continue;
    }
    switch (fz_below(&r, 20)) {
    case 0:
    case 1:
    case 2:
      changed |= fz_mut_header(&r, w, &v);
      break;
    case 3:
    case 4:
    case 5:
      changed |= fz_mut_blocks(&r, w, &v);
      break;
    case 6:
    case 7:
    case 8:
    case 9:
    case 10:
      changed |= fz_mut_table(&r, w, &v);
      break;
    case 11:
    case 12:
      changed |= fz_mut_state(&r, w, &v);
      break;
    case 13:
    case 14:
      changed |= fz_mut_saved(&r, w, &v);
      break;
    case 15:
      changed |= fz_mut_split_run(&r, &v);
      break;
    case 16:
    case 17:
      changed |= fz_mut_bytes(&r, &v, 1);
      break;
    case 18:
      changed |= fz_mut_bytes(&r, &v, 0);
      break;
    default:
      changed |= fz_mut_size(&r, &w->f[k]);
      break;
    }
  }
  /* Sometimes a member less: a chain whose parent is missing. */
  if (w->n > 1 && fz_below(&r, 50) == 0) {
    free(w->f[w->n - 1].p);
    w->n--;
  }
  fz_reseal_all(&r, w);
  size_t out = changed ? fz_store_work(w, data, max_size) : 0;
  fz_free(w);
  free(w);
  return out ? out : LLVMFuzzerMutate(data, size, max_size);
}

/*
** Crossing two inputs: a member of one in the place of the other's (a
** parent from another chain), or a block's bytes from the other image when
** both have the block at the same length.
*/
size_t LLVMFuzzerCustomCrossOver(const uint8_t *d1, size_t s1,
                                 const uint8_t *d2, size_t s2, uint8_t *out,
                                 size_t max_out, unsigned int seed) {
  fz_rng_t r = {seed * 0x9e3779b97f4a7c15ull + s1 + s2};
  fz_work_t *a = malloc(sizeof *a), *b = malloc(sizeof *b);
  size_t n = 0;
  if (a == NULL || b == NULL || fz_load_work(a, d1, s1, max_out) != 0) {
    free(a);
    free(b);
    return 0;
  }
  if (fz_load_work(b, d2, s2, max_out) != 0) {
    fz_free(a);
    free(a);
    free(b);
    return 0;
  }
  unsigned ka = (unsigned)fz_below(&r, a->n), kb = (unsigned)fz_below(&r, b->n);
  fz_view_t va, vb;
  if (fz_below(&r, 2) && fz_parse(&a->f[ka], &va) &&
      fz_parse(&b->f[kb], &vb)) {
    uint32_t type = 1 + (uint32_t)fz_below(&r, 5);
    uint32_t flags = type == PERM_BLOCK_STATE ? 1 + (uint32_t)fz_below(&r, 3) : 0;
    int ia = fz_find(&va, type, flags), ib = fz_find(&vb, type, flags);
    uint64_t la, lb;
    uint8_t *pa = ia < 0 ? NULL : fz_block(&va, (uint32_t)ia, &la);
    uint8_t *pb = ib < 0 ? NULL : fz_block(&vb, (uint32_t)ib, &lb);
    if (pa != NULL && pb != NULL)
      memcpy(pa, pb, la < lb ? la : lb);
  } else if (b->f[kb].n <= a->f[ka].cap) {
    memcpy(a->f[ka].p, b->f[kb].p, b->f[kb].n);
    a->f[ka].n = b->f[kb].n;
    a->packed = 1;
  }
  fz_collect(a);
  fz_reseal_all(&r, a);
  n = fz_store_work(a, out, max_out);
  fz_free(a);
  fz_free(b);
  free(a);
  free(b);
  return n;
}
