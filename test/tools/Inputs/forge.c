/*
** forge.c - changes one field of a PERM image and recomputes the checksums
** that cover it, so the image passes every checksum yet breaks a rule that
** only the validator's table and layout checks can catch (perm check and
** restore share it: test/tools/check-forged.test,
** test/runtime/forged-restore.test).
**
**   forge IMAGE FIELD VALUE
**
** FIELD is one of
**   header.data_bytes  header.region_top  header.generation
**   header.region_capacity  header.data_offset  header.nblocks
**   header.file_size              (the file is truncated, sparse, to VALUE)
**   block.N.offset  block.N.length  block.N.type  block.N.flags
**                                 (entry N of the header's block table; the
**                                 block's own checksum is left alone)
**   block.dup                     (appends a copy of entry VALUE)
**   objects.count  objects.N.name_offset  objects.N.build_id_len
**   registry.count registry.N.name_offset registry.N.data_offset
**   runs.count     runs.N.addr     runs.N.length
**   extents.count  extents.N.addr  extents.N.length  extents.N.file_offset
**   extents.N.flags
**   saved.nfree  saved.generation  saved.heap_id  saved.magic
**   saved.region.capacity  saved.region.top  saved.region.base
**   saved.region.nfree  saved.region.free.N.off  saved.region.free.N.len
**                                 (the runtime state, perm_saved_t, in the
**                                 sparse STATE block PERM_STATE_RUNTIME:
**                                 decoded, changed, encoded again as
**                                 perm__image_writer_state does, resealed)
** VALUE is decimal, or hex with 0x; +VALUE and -VALUE add to or subtract
** from the field's current value.  Built with -I runtime -lxxhash.
*/
#define _GNU_SOURCE
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "image_format.h"
#include "state.h"

static uint64_t arg;
static int rel; /* +1: add arg, -1: subtract it, 0: set it */

/* The field's new value. */
static uint64_t val(uint64_t old) {
  return rel > 0 ? old + arg : rel < 0 ? old - arg : arg;
}

static void die(const char *msg) {
  fprintf(stderr, "forge: %s\n", msg);
  exit(2);
}

static perm_image_block_t *find(perm_image_header_t *h, uint32_t type,
                                uint32_t flags) {
  for (uint32_t i = 0; i < h->nblocks; i++)
    if (h->blocks[i].type == type && (flags == 0 || h->blocks[i].flags == flags))
      return &h->blocks[i];
  die("no such block");
  return NULL;
}

static char *read_block(int fd, const perm_image_block_t *b) {
  char *buf = malloc(b->length ? b->length : 1);
  if (buf == NULL ||
      pread(fd, buf, b->length, (off_t)b->offset) != (ssize_t)b->length)
    die("cannot read the block");
  return buf;
}

static void write_block(int fd, perm_image_block_t *b, const char *buf) {
  b->checksum = XXH3_64bits(buf, b->length);
  if (pwrite(fd, buf, b->length, (off_t)b->offset) != (ssize_t)b->length)
    die("cannot write the block");
}

static int all_zero(const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != 0)
      return 0;
  return 1;
}

/* The runtime state: decoded, changed by set, encoded again, resealed. */
static void forge_saved(int fd, perm_image_header_t *h, const char *field) {
  perm_image_block_t *b = find(h, PERM_BLOCK_STATE, PERM_STATE_RUNTIME);
  char *buf = read_block(fd, b);
  perm_image_state_t t;
  if (b->length < sizeof t)
    die("the state block is shorter than its header");
  memcpy(&t, buf, sizeof t);
  if (t.section_length != sizeof(perm_saved_t) ||
      t.piece_size != sizeof(perm_image_piece_t))
    die("the state block is not this build's perm_saved_t");
  unsigned char *sec = calloc(1, t.section_length);
  const perm_image_piece_t *pc = (const perm_image_piece_t *)(buf + sizeof t);
  const char *bytes = (const char *)(pc + t.count);
  for (uint32_t k = 0; k < t.count; k++) {
    const perm_image_piece_t *p = &pc[k];
    if (p->offset + p->length > t.section_length)
      die("a piece lies outside the section");
    memcpy(sec + p->offset, bytes, p->length);
    bytes += p->length;
  }
  perm_saved_t *s = (perm_saved_t *)sec;
  unsigned i;
  char name[16];
  if (strcmp(field, "nfree") == 0 || strcmp(field, "region.nfree") == 0)
    s->region.nfree = (uint32_t)val(s->region.nfree);
  else if (strcmp(field, "generation") == 0)
    s->generation = val(s->generation);
  else if (strcmp(field, "heap_id") == 0)
    s->heap_id = val(s->heap_id);
  else if (strcmp(field, "magic") == 0)
    s->magic = val(s->magic);
  else if (strcmp(field, "region.capacity") == 0)
    s->region.capacity = val(s->region.capacity);
  else if (strcmp(field, "region.top") == 0)
    s->region.top = val(s->region.top);
  else if (strcmp(field, "region.base") == 0)
    s->region.base = val(s->region.base);
  else if (sscanf(field, "region.free.%u.%15s", &i, name) == 2 &&
           i < PERM_REGION_INLINE_FREE && strcmp(name, "off") == 0)
    s->region.free_inline[i].off = val(s->region.free_inline[i].off);
  else if (sscanf(field, "region.free.%u.%15s", &i, name) == 2 &&
           i < PERM_REGION_INLINE_FREE && strcmp(name, "len") == 0)
    s->region.free_inline[i].len = val(s->region.free_inline[i].len);
  else
    die("unknown saved field");
  /* Encoded as the writer does: the non-zero 4 KiB chunks, merged. */
  size_t len = t.section_length, chunk = PERM_IMAGE_ALIGN;
  perm_image_piece_t *np = calloc(len / chunk + 2, sizeof *np);
  uint32_t n = 0;
  size_t total = 0;
  for (size_t off = 0; off < len; off += chunk) {
    size_t k = len - off < chunk ? len - off : chunk;
    if (all_zero(sec + off, k))
      continue;
    if (n > 0 && np[n - 1].offset + np[n - 1].length == off)
      np[n - 1].length += k;
    else
      np[n++] = (perm_image_piece_t){off, k};
    total += k;
  }
  size_t nlen = sizeof t + n * sizeof *np + total;
  uint64_t room = (b->length + PERM_IMAGE_ALIGN - 1) / PERM_IMAGE_ALIGN *
                  PERM_IMAGE_ALIGN;
  if (nlen > room)
    die("the state block grows beyond its pages");
  char *out = calloc(1, nlen);
  t.count = n;
  memcpy(out, &t, sizeof t);
  memcpy(out + sizeof t, np, n * sizeof *np);
  char *o = out + sizeof t + n * sizeof *np;
  for (uint32_t i = 0; i < n; i++) {
    memcpy(o, sec + np[i].offset, np[i].length);
    o += np[i].length;
  }
  b->length = nlen;
  write_block(fd, b, out);
  free(out);
  free(np);
  free(sec);
  free(buf);
}

int main(int argc, char **argv) {
  if (argc != 4)
    die("usage: forge IMAGE FIELD VALUE");
  const char *a = argv[3];
  rel = *a == '+' ? 1 : *a == '-' ? -1 : 0;
  arg = strtoull(a + (rel != 0), NULL, 0);
  int fd = open(argv[1], O_RDWR);
  if (fd < 0)
    die("cannot open the image");
  perm_image_header_t h;
  if (pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h)
    die("cannot read the header");
  if (h.nblocks > PERM_IMAGE_MAX_BLOCKS)
    die("the block table is already beyond repair");

  char what[64], field[64];
  unsigned idx = 0;
  if (sscanf(argv[2], "header.%63s", field) == 1) {
    if (strcmp(field, "data_bytes") == 0)
      h.data_bytes = val(h.data_bytes);
    else if (strcmp(field, "region_top") == 0)
      h.region_top = val(h.region_top);
    else if (strcmp(field, "generation") == 0)
      h.generation = val(h.generation);
    else if (strcmp(field, "region_capacity") == 0)
      h.region_capacity = val(h.region_capacity);
    else if (strcmp(field, "data_offset") == 0)
      h.data_offset = val(h.data_offset);
    else if (strcmp(field, "nblocks") == 0)
      h.nblocks = (uint32_t)val(h.nblocks);
    else if (strcmp(field, "file_size") == 0) {
      h.file_size = val(h.file_size);
      if (ftruncate(fd, (off_t)h.file_size) != 0)
        die("cannot truncate the file");
    } else
      die("unknown header field");
  } else if (strcmp(argv[2], "block.dup") == 0) {
    if (arg >= h.nblocks || h.nblocks >= PERM_IMAGE_MAX_BLOCKS)
      die("bad block to duplicate");
    h.blocks[h.nblocks] = h.blocks[arg];
    h.nblocks++;
  } else if (sscanf(argv[2], "block.%u.%63s", &idx, field) == 2) {
    if (idx >= h.nblocks)
      die("bad block field");
    if (strcmp(field, "offset") == 0)
      h.blocks[idx].offset = val(h.blocks[idx].offset);
    else if (strcmp(field, "length") == 0)
      h.blocks[idx].length = val(h.blocks[idx].length);
    else if (strcmp(field, "type") == 0)
      h.blocks[idx].type = (uint32_t)val(h.blocks[idx].type);
    else if (strcmp(field, "flags") == 0)
      h.blocks[idx].flags = (uint32_t)val(h.blocks[idx].flags);
    else
      die("bad block field");
  } else if (sscanf(argv[2], "saved.%63s", field) == 1) {
    forge_saved(fd, &h, field);
  } else if (sscanf(argv[2], "%63[a-z].%63s", what, field) == 2) {
    static const struct {
      const char *name;
      uint32_t type;
      size_t entry;
    } kinds[] = {
        {"objects", PERM_BLOCK_OBJECTS, sizeof(perm_image_object_t)},
        {"registry", PERM_BLOCK_REGISTRY, sizeof(perm_image_global_t)},
        {"runs", PERM_BLOCK_RUNS, sizeof(perm_image_run_t)},
        {"extents", PERM_BLOCK_EXTENTS, sizeof(perm_image_extent_t)},
    };
    size_t k = 0;
    while (k < 4 && strcmp(kinds[k].name, what) != 0)
      k++;
    if (k == 4)
      die("unknown block");
    perm_image_block_t *b = find(&h, kinds[k].type, 0);
    char *buf = read_block(fd, b);
    perm_image_table_t *t = (perm_image_table_t *)buf;
    char name[64];
    if (strcmp(field, "count") == 0) {
      t->count = (uint32_t)val(t->count);
    } else if (sscanf(field, "%u.%63s", &idx, name) == 2) {
      char *e = buf + sizeof *t + idx * kinds[k].entry;
      if (idx >= t->count)
        die("no such entry");
#define SET(type, member)                                                      \
  if (strcmp(name, #member) == 0) {                                            \
    ((type *)e)->member = val(((type *)e)->member);                            \
    goto done;                                                                 \
  }
      if (kinds[k].type == PERM_BLOCK_OBJECTS) {
        SET(perm_image_object_t, name_offset)
        SET(perm_image_object_t, build_id_len)
      } else if (kinds[k].type == PERM_BLOCK_REGISTRY) {
        SET(perm_image_global_t, name_offset)
        SET(perm_image_global_t, data_offset)
      } else if (kinds[k].type == PERM_BLOCK_RUNS) {
        SET(perm_image_run_t, addr)
        SET(perm_image_run_t, length)
      } else {
        SET(perm_image_extent_t, addr)
        SET(perm_image_extent_t, length)
        SET(perm_image_extent_t, file_offset)
        SET(perm_image_extent_t, flags)
      }
      die("unknown entry field");
    } else {
      die("unknown block field");
    }
  done:
    write_block(fd, b, buf);
    free(buf);
  } else {
    die("unknown field");
  }
  h.header_checksum =
      XXH3_64bits(&h, offsetof(perm_image_header_t, header_checksum));
  if (pwrite(fd, &h, sizeof h, 0) != (ssize_t)sizeof h)
    die("cannot write the header");
  close(fd);
  return 0;
}
