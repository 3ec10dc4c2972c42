/*
** shrink.c - a small copy of a real image for the fuzzer: the same header,
** blocks and runs, with only the first KEEP present extents of its region
** data (every zero extent of a delta stays), each cut to its first two
** pages, moved to the start of the data area; the extent table follows.  Every checksum is recomputed,
** so the copy is a sound image, 70-100 KiB instead of a megabyte: the
** fuzzer runs ten times as many inputs.
**
**   shrink IN OUT [KEEP]     (KEEP defaults to 4)
**
** A delta's parent (and its parent...) is shrunk too, into OUT's directory
** under the name the delta gives it, and the delta names its new checksum.
**   shrink --v1 IN OUT       an image of format version 1 (PERM 0.1.0)
**                            made of IN's: its objects and registry, the
**                            first bytes of each state section, raw, one
**                            run of four pages, two extents of a page in
**                            the sparse mirror
**
** Built with -I runtime -lxxhash.  Only format 2 images are read.
*/
#define _GNU_SOURCE
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "image_format.h"

static void die(const char *msg) {
  fprintf(stderr, "shrink: %s\n", msg);
  exit(2);
}

/* The directory part of path, with its slash ("" for none). */
static void dir_of(const char *path, char *buf, size_t size) {
  const char *slash = strrchr(path, '/');
  size_t n = slash ? (size_t)(slash - path + 1) : 0;
  snprintf(buf, size, "%.*s", (int)n, path);
}

/* Shrinks IN into OUT; returns OUT's header checksum. */
static uint64_t shrink(const char *inpath, const char *outpath, unsigned keep) {
  int fd = open(inpath, O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0)
    die("cannot open the image");
  size_t n = (size_t)st.st_size;
  unsigned char *in = malloc(n);
  if (in == NULL || pread(fd, in, n, 0) != (ssize_t)n)
    die("cannot read the image");
  close(fd);
  perm_image_header_t h;
  if (n < sizeof h)
    die("too short");
  memcpy(&h, in, sizeof h);
  if (memcmp(h.magic, PERM_IMAGE_MAGIC, 8) != 0 || h.format_version != 2)
    die("not an image of format 2");
  if (h.flags & PERM_IMAGE_F_DELTA) {
    char din[4096], dout[4096], pin[8192], pout[8192];
    dir_of(inpath, din, sizeof din);
    dir_of(outpath, dout, sizeof dout);
    snprintf(pin, sizeof pin, "%s%s", din, h.parent_name);
    snprintf(pout, sizeof pout, "%s%s", dout, h.parent_name);
    h.parent_checksum = shrink(pin, pout, keep);
  }
  perm_image_block_t *xb = NULL;
  for (uint32_t i = 0; i < h.nblocks; i++) {
    if (h.blocks[i].type == PERM_BLOCK_EXTENTS)
      xb = &h.blocks[i];
    else if (h.blocks[i].offset + h.blocks[i].length > h.data_offset)
      die("a metadata block after the region data");
  }
  if (xb == NULL || xb->offset < h.data_offset + h.data_bytes)
    die("no extent table after the region data");
  perm_image_table_t t;
  memcpy(&t, in + xb->offset, sizeof t);
  perm_image_extent_t *x = malloc((t.count + 1) * sizeof *x);
  memcpy(x, in + xb->offset + sizeof t, t.count * sizeof *x);

  size_t cap = h.data_offset + h.data_bytes + xb->length + 2 * PERM_IMAGE_ALIGN;
  unsigned char *out = calloc(1, cap);
  memcpy(out, in, h.data_offset);
  uint64_t at = h.data_offset, kept = 0;
  uint32_t m = 0;
  for (uint32_t i = 0; i < t.count; i++) {
    if (!(x[i].flags & PERM_EXTENT_ZERO)) {
      if (kept == keep)
        continue;
      if (x[i].length > 2 * PERM_IMAGE_ALIGN)
        x[i].length = 2 * PERM_IMAGE_ALIGN;
      memcpy(out + at, in + x[i].file_offset, x[i].length);
      x[i].checksum = XXH3_64bits(out + at, x[i].length);
      x[i].file_offset = at;
      at += x[i].length;
      kept++;
    }
    x[m++] = x[i];
  }
  h.data_bytes = at - h.data_offset;
  uint64_t xoff = (at + PERM_IMAGE_ALIGN - 1) / PERM_IMAGE_ALIGN * PERM_IMAGE_ALIGN;
  t.count = m;
  memcpy(out + xoff, &t, sizeof t);
  memcpy(out + xoff + sizeof t, x, m * sizeof *x);
  xb->offset = xoff;
  xb->length = sizeof t + m * sizeof *x;
  xb->checksum = XXH3_64bits(out + xoff, xb->length);
  h.file_size = xoff + xb->length;
  h.header_checksum =
      XXH3_64bits(&h, offsetof(perm_image_header_t, header_checksum));
  memcpy(out, &h, sizeof h);
  fd = open(outpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0 || write(fd, out, h.file_size) != (ssize_t)h.file_size)
    die("cannot write the copy");
  close(fd);
  printf("%s: %u of %u extents, %llu bytes\n", outpath, m, t.count,
         (unsigned long long)h.file_size);
  free(in);
  free(out);
  free(x);
  return h.header_checksum;
}

static uint64_t align_up(uint64_t v) {
  return (v + PERM_IMAGE_ALIGN - 1) / PERM_IMAGE_ALIGN * PERM_IMAGE_ALIGN;
}

static void to_v1(const char *inpath, const char *outpath) {
  int fd = open(inpath, O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0)
    die("cannot open the image");
  size_t n = (size_t)st.st_size;
  unsigned char *in = malloc(n);
  if (in == NULL || pread(fd, in, n, 0) != (ssize_t)n)
    die("cannot read the image");
  close(fd);
  perm_image_header_t h;
  if (n < sizeof h)
    die("too short");
  memcpy(&h, in, sizeof h);
  if (memcmp(h.magic, PERM_IMAGE_MAGIC, 8) != 0 || h.format_version != 2 ||
      (h.flags & PERM_IMAGE_F_DELTA))
    die("not a full image of format 2");
  const uint64_t page = PERM_IMAGE_ALIGN, top = 4 * page;
  size_t cap = n + 16 * page + top;
  unsigned char *out = calloc(1, cap);
  perm_image_header_t o;
  memset(&o, 0, sizeof o);
  memcpy(&o, &h, PERM_IMAGE_V1_CHECKSUM_OFFSET);
  o.format_version = 1;
  o.header_size = PERM_IMAGE_V1_HEADER_SIZE;
  memset(o.runtime_version, 0, sizeof o.runtime_version);
  strcpy(o.runtime_version, "0.1.0");
  o.region_top = top;
  o.nblocks = 0;
  uint64_t at = page;
  const unsigned char *data = NULL;
  for (uint32_t i = 0; i < h.nblocks; i++) {
    const perm_image_block_t *b = &h.blocks[i];
    const unsigned char *src = in + b->offset;
    uint64_t len = b->length;
    if (b->type == PERM_BLOCK_EXTENTS) {
      perm_image_extent_t e;
      memcpy(&e, src + sizeof(perm_image_table_t), sizeof e);
      data = in + e.file_offset;
      continue;
    }
    if (b->type == PERM_BLOCK_RUNS)
      continue;
    if (b->type == PERM_BLOCK_STATE) {
      /* Raw: the first bytes of the pieces stand for the section. */
      perm_image_state_t t;
      memcpy(&t, src, sizeof t);
      uint64_t head = sizeof t + (uint64_t)t.count * sizeof(perm_image_piece_t);
      src += head;
      len = len - head < 512 ? len - head : 512;
    }
    perm_image_block_t *d = &o.blocks[o.nblocks++];
    *d = *b;
    d->offset = at;
    d->length = len;
    memcpy(out + at, src, len);
    d->checksum = XXH3_64bits(out + at, len);
    at = align_up(at + len);
  }
  /* One run of the whole top. */
  perm_image_table_t t = {1, sizeof(perm_image_run_t)};
  perm_image_run_t run = {h.region_base, top};
  perm_image_block_t *rb = &o.blocks[o.nblocks++];
  *rb = (perm_image_block_t){.type = PERM_BLOCK_RUNS, .offset = at,
                             .length = sizeof t + sizeof run};
  memcpy(out + at, &t, sizeof t);
  memcpy(out + at + sizeof t, &run, sizeof run);
  rb->checksum = XXH3_64bits(out + at, rb->length);
  at = align_up(at + rb->length);
  /* The mirror: pages 0 and 2 present. */
  o.data_offset = at;
  o.data_bytes = 2 * page;
  perm_image_extent_v1_t x[2] = {{h.region_base, page, 0},
                                 {h.region_base + 2 * page, page, 0}};
  for (int i = 0; i < 2; i++) {
    memcpy(out + at + (x[i].addr - h.region_base), data + i * page, page);
    x[i].checksum = XXH3_64bits(out + at + (x[i].addr - h.region_base), page);
  }
  at += top;
  t = (perm_image_table_t){2, sizeof(perm_image_extent_v1_t)};
  perm_image_block_t *xb = &o.blocks[o.nblocks++];
  *xb = (perm_image_block_t){.type = PERM_BLOCK_EXTENTS, .offset = at,
                             .length = sizeof t + sizeof x};
  memcpy(out + at, &t, sizeof t);
  memcpy(out + at + sizeof t, x, sizeof x);
  xb->checksum = XXH3_64bits(out + at, xb->length);
  o.file_size = at + xb->length;
  memcpy(out, &o, PERM_IMAGE_V1_CHECKSUM_OFFSET);
  uint64_t sum = XXH3_64bits(out, PERM_IMAGE_V1_CHECKSUM_OFFSET);
  memcpy(out + PERM_IMAGE_V1_CHECKSUM_OFFSET, &sum, 8);
  fd = open(outpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0 || write(fd, out, o.file_size) != (ssize_t)o.file_size)
    die("cannot write the copy");
  close(fd);
  printf("%s: version 1, %llu bytes\n", outpath,
         (unsigned long long)o.file_size);
  free(in);
  free(out);
}

int main(int argc, char **argv) {
  if (argc == 4 && strcmp(argv[1], "--v1") == 0) {
    to_v1(argv[2], argv[3]);
    return 0;
  }
  if (argc != 3 && argc != 4)
    die("usage: shrink IN OUT [KEEP] | shrink --v1 IN OUT");
  shrink(argv[1], argv[2], argc == 4 ? (unsigned)atoi(argv[3]) : 4);
  return 0;
}
